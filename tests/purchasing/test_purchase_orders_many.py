"""`purchase_order_create_many`: a day's purchase orders in one call, the same rows, re-matches
and events as one by one, all or nothing; another tenant's vendor is unknown."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from audit.models import AuditEvent
from core.exceptions import DocumentInvalid, DuplicateDocument
from purchasing.documents import PurchaseOrderDocument
from purchasing.models import PurchaseOrder, PurchaseOrderLine
from purchasing.services import (
    PO_DUPLICATE,
    PO_NO_LINES,
    PO_UNKNOWN_VENDOR,
    purchase_order_create,
    purchase_order_create_many,
)
from tenants.models import Tenant
from tests.document_factories import PurchaseOrderDocumentFactory
from tests.factories import BOLTS, HOSES, TEST_ACTOR, InvoiceFactory
from tests.matching.runs import acme_vendor, reload, run_matching
from vendors.models import Vendor

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_matching_tasks(settings: Any) -> None:
    """Runs are started by the tests themselves, never queued by documents."""
    settings.MATCH_ON_INGEST = False


def _documents(acme: Vendor) -> list[PurchaseOrderDocument]:
    return [
        PurchaseOrderDocumentFactory(vendor_id=acme.pk, po_number="PO-1", lines=[BOLTS, HOSES]),
        PurchaseOrderDocumentFactory(vendor_id=acme.pk, po_number="PO-2", lines=[BOLTS], currency="eur"),
    ]


def _orders(tenant: Tenant) -> list[tuple[str, str, str, list[tuple[int, str, Decimal, Decimal]]]]:
    return [
        (
            order.po_number,
            order.vendor.name,
            order.currency,
            list(
                PurchaseOrderLine.objects.for_tenant(tenant)
                .filter(purchase_order=order)
                .order_by("line_number")
                .values_list("line_number", "description", "quantity", "unit_price")
            ),
        )
        for order in PurchaseOrder.objects.for_tenant(tenant).select_related("vendor").order_by("po_number")
    ]


def _events(tenant: Tenant) -> list[tuple[str, str, Any]]:
    return list(
        AuditEvent.objects.filter(tenant=tenant, entity_type__in=["purchase_order", "invoice"])
        .order_by("append_seq")
        .values_list("entity_type", "action", "after")
    )


def test_a_batch_writes_what_one_by_one_writes_and_rematches_the_invoice_naming_it(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    waiting = []
    vendors = [acme_vendor(each) for each in (tenant, other_tenant)]
    for each, vendor in zip((tenant, other_tenant), vendors, strict=True):
        waiting.append(InvoiceFactory(vendor=vendor, invoice_number="INV-1", po_number="po-2",
                                      lines=[BOLTS]))  # fmt: skip
        run_matching(each)
        assert reload(waiting[-1]).status == "pending_review"  # no PO-2 yet
    before = [len(_events(each)) for each in (tenant, other_tenant)]

    orders = purchase_order_create_many(tenant=tenant, documents=_documents(vendors[0]), actor=TEST_ACTOR)
    for document in _documents(vendors[1]):
        purchase_order_create(tenant=other_tenant, document=document, actor=TEST_ACTOR)

    assert [order.po_number for order in orders] == ["PO-1", "PO-2"]
    assert _orders(tenant) == _orders(other_tenant)
    assert [order[2] for order in _orders(tenant)] == ["EUR", "EUR"]
    assert [reload(invoice).status for invoice in waiting] == ["received", "received"]
    batch, single = _events(tenant)[before[0] :], _events(other_tenant)[before[1] :]
    assert [(kind, action) for kind, action, _ in batch] == [
        ("invoice", "transition"),
        ("purchase_order", "created"),
        ("purchase_order", "created"),
    ]
    # The documents as sent, but for each tenant's vendor id.
    assert [{**after, "vendor_id": ""} for kind, _, after in batch if kind == "purchase_order"] == [
        {**after, "vendor_id": ""} for kind, _, after in single if kind == "purchase_order"
    ]
    assert sorted((kind, action) for kind, action, _ in batch) == sorted((kind, action) for kind, action, _ in single)


def test_one_bad_document_refuses_the_batch_and_writes_nothing(tenant: Tenant, other_tenant: Tenant) -> None:
    acme = acme_vendor(tenant)
    foreign = acme_vendor(other_tenant)
    with pytest.raises(DocumentInvalid) as refused:
        purchase_order_create_many(
            tenant=tenant,
            documents=[
                PurchaseOrderDocumentFactory(vendor_id=acme.pk, po_number="PO-1", lines=[BOLTS]),
                PurchaseOrderDocumentFactory(vendor_id=foreign.pk, po_number="PO-2", lines=[]),
            ],
            actor=TEST_ACTOR,
        )
    assert refused.value.details == {
        "documents[1].vendor_id": [PO_UNKNOWN_VENDOR],
        "documents[1].lines": [PO_NO_LINES],
    }
    assert not PurchaseOrder.objects.for_tenant(tenant).exists()
    assert not PurchaseOrder.objects.for_tenant(other_tenant).exists()
    for each in (tenant, other_tenant):
        assert not AuditEvent.objects.for_tenant(each).filter(entity_type="purchase_order").exists()


def test_a_number_taken_before_or_twice_in_the_batch_is_a_duplicate(tenant: Tenant) -> None:
    acme = acme_vendor(tenant)
    purchase_order_create(
        tenant=tenant,
        document=PurchaseOrderDocumentFactory(vendor_id=acme.pk, po_number="PO-1", lines=[BOLTS]),
        actor=TEST_ACTOR,
    )
    for numbers, number in ((["PO-2", "PO-1"], "PO-1"), (["PO-3", "PO-3"], "PO-3")):
        with pytest.raises(DuplicateDocument) as refused:
            purchase_order_create_many(
                tenant=tenant,
                documents=[
                    PurchaseOrderDocumentFactory(vendor_id=acme.pk, po_number=each, lines=[BOLTS]) for each in numbers
                ],
                actor=TEST_ACTOR,
            )
        assert refused.value.message == PO_DUPLICATE.format(po_number=number)
        assert refused.value.details == {"documents[1].po_number": number}
    assert list(PurchaseOrder.objects.for_tenant(tenant).values_list("po_number", flat=True)) == ["PO-1"]
