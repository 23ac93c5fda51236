"""A vendor and a purchase order chosen by hand (issue #20 item 2), through real matching runs:
each sends the invoice back to matching with the choice honoured and named in the reason, is a
labelled example tied to the match it overrode and an audited event; a vendor chosen teaches the
name the invoice gave, so the next invoice under that name resolves by itself and its reason
names the learned alias — until someone forgets it. Refusals change nothing."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from core.exceptions import ConflictError, DocumentInvalid
from invoices.models import Invoice
from learning.models import DecisionExample, HumanChoice
from learning.services import vendor_alias_forget
from purchasing.models import PurchaseOrder
from review.manual_choices import (
    NOT_A_VENDOR,
    NOT_AN_OPEN_PO,
    VENDOR_FIRST,
    invoice_purchase_order_choose,
    invoice_vendor_choose,
)
from tenants.models import Role, Tenant
from tests.factories import InvoiceFactory, Line, PurchaseOrderFactory, VendorFactory
from tests.learning.test_learning_runs import member
from tests.matching.runs import acme_vendor, found, reload, results_of, run_matching
from vendors.models import VendorAlias

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_matching_tasks")]

GLOVES = Line("GL-M", "Nitrile gloves size M, box of 100", "400", "12.50")
TAPE = Line("DT-50", "Duct tape 50 mm x 25 m, grey", "600", "4.80")
TRADING_NAME = "Acme Handelsgesellschaft"


def _unknown_vendor_invoice(tenant: Tenant, number: str, quantity: str = "10") -> Invoice:
    return InvoiceFactory(tenant=tenant, vendor=None, vendor_name_raw=TRADING_NAME, invoice_number=number,
                          po_number="PO-100", lines=[GLOVES.times(quantity)])  # fmt: skip


def test_a_vendor_chosen_by_hand_is_matched_and_its_name_is_learned(tenant: Tenant, other_tenant: Tenant) -> None:
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-100", lines=[GLOVES, TAPE], received=True)
    first = _unknown_vendor_invoice(tenant, "INV-1")
    run_matching(tenant)
    first = reload(first)
    assert (first.status, first.vendor_id) == ("pending_review", None)
    assert ("unknown_vendor", "high") in found(results_of(first)[-1])
    overridden = results_of(first)[-1]
    anna = member(tenant, Role.APPROVER)

    with pytest.raises(DocumentInvalid) as foreign:
        invoice_vendor_choose(tenant=tenant, invoice=first, vendor_id=acme_vendor(other_tenant).pk, actor=anna,
                              role=Role.APPROVER)  # fmt: skip
    assert str(foreign.value) == NOT_A_VENDOR
    choice = invoice_vendor_choose(
        tenant=tenant, invoice=first, vendor_id=acme.pk, actor=anna, role=Role.APPROVER,
        expected_match_id=overridden.pk,
    )  # fmt: skip

    example = DecisionExample.objects.for_tenant(tenant).get(pk=choice.example_id)
    assert (example.kind, example.vendor_id, example.match_result_id) == ("vendor_resolution", acme.pk, overridden.pk)
    alias = VendorAlias.objects.for_tenant(tenant).get(vendor=acme)
    assert alias.alias == TRADING_NAME and example.details["taught_alias"] == alias.normalized_alias
    assert AuditEvent.objects.for_tenant(tenant).filter(entity_id=str(first.pk), action="vendor_chosen").exists()

    run_matching(tenant)
    first = reload(first)
    today = choice.created_at.date().isoformat()
    assert (first.status, first.vendor_id) == ("approved", acme.pk)
    assert f"Vendor {acme.name} chosen by {anna.label} on {today}." in results_of(first)[-1].decision_reason

    # The next invoice under that name resolves by itself, and says by what.
    second = _unknown_vendor_invoice(tenant, "INV-2", "20")
    run_matching(tenant)
    second = reload(second)
    assert (second.status, second.vendor_id) == ("approved", acme.pk)
    assert (
        f"Vendor {acme.name} recognised by the name '{TRADING_NAME}', learned from a choice by {anna.label} on {today}."
    ) in results_of(second)[-1].decision_reason

    # Forgotten: the name is nobody's again. The other tenant never learned it.
    vendor_alias_forget(tenant=tenant, alias=alias, actor=anna)
    third = _unknown_vendor_invoice(tenant, "INV-3", "30")
    run_matching(tenant)
    assert reload(third).vendor_id is None
    assert not VendorAlias.objects.for_tenant(other_tenant).exists()


def test_a_purchase_order_chosen_by_hand_is_the_invoices(tenant: Tenant) -> None:
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-100", lines=[GLOVES, TAPE], received=True)
    PurchaseOrderFactory(vendor=VendorFactory(tenant=tenant, name="Other GmbH"), po_number="PO-900", lines=[GLOVES])
    # A typo in the PO number: po_not_found, and nothing to infer from.
    invoice = InvoiceFactory(vendor=acme, invoice_number="INV-7", po_number="PO-10O", lines=[GLOVES.times("10")])
    run_matching(tenant)
    invoice = reload(invoice)
    assert ("po_not_found", "high") in found(results_of(invoice)[-1])
    cleo = member(tenant, Role.APPROVER)

    with pytest.raises(DocumentInvalid) as refused:
        invoice_purchase_order_choose(
            tenant=tenant, invoice=invoice, actor=cleo, role=Role.APPROVER,
            purchase_order_id=PurchaseOrder.objects.for_tenant(tenant).get(po_number="PO-900").pk,
        )  # fmt: skip
    assert str(refused.value) == NOT_AN_OPEN_PO.format(vendor=acme.name, currency="EUR")
    po_100 = PurchaseOrder.objects.for_tenant(tenant).get(po_number="PO-100")
    choice = invoice_purchase_order_choose(
        tenant=tenant, invoice=invoice, purchase_order_id=po_100.pk, actor=cleo, role=Role.APPROVER
    )
    example = DecisionExample.objects.for_tenant(tenant).get(pk=choice.example_id)
    assert (example.kind, example.details["po_number"], example.details["named_on_invoice"]) == (
        "po_choice", "PO-100", "PO-10O"
    )  # fmt: skip

    run_matching(tenant)
    invoice = reload(invoice)
    assert (invoice.status, invoice.purchase_order_id) == ("approved", po_100.pk)
    today = choice.created_at.date().isoformat()
    assert f"Purchase order PO-100 chosen by {cleo.label} on {today}." in results_of(invoice)[-1].decision_reason


def test_a_purchase_order_needs_the_vendor_first(tenant: Tenant) -> None:
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-100", lines=[GLOVES], received=True)
    invoice = _unknown_vendor_invoice(tenant, "INV-9")
    invoice.po_number = ""
    invoice.save(update_fields=["po_number"])
    run_matching(tenant)
    with pytest.raises(ConflictError) as refused:
        invoice_purchase_order_choose(
            tenant=tenant, invoice=reload(invoice), actor=member(tenant), role=Role.APPROVER,
            purchase_order_id=PurchaseOrder.objects.for_tenant(tenant).get().pk,
        )  # fmt: skip
    assert str(refused.value) == VENDOR_FIRST.format(number="INV-9")
    assert reload(invoice).status == "pending_review"
    assert not HumanChoice.objects.for_tenant(tenant).exists()
