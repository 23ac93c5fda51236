"""A vendor chosen by hand teaches the tax id on the invoice too (issue #20 item 2), through real
matching runs: the next invoice carrying that tax id, under another name, resolves to the vendor
(in the engine, or already at the door) and its reason names the learned tax id and who taught
it; the payee account is kept on the example as evidence and, not being on the vendor's record,
never identifies the vendor; a rejection of an invoice recognised through a learned alias forgets
that alias, audited, and only that one; a tax id that is another vendor's, or no tax id at all, is
not learned."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from invoices.models import Invoice
from learning.models import DecisionExample
from review.manual_choices import invoice_vendor_choose
from tenants.models import Role, Tenant
from tests.factories import InvoiceFactory, Line, PurchaseOrderFactory, VendorFactory
from tests.learning.test_learning_runs import member, review
from tests.matching.runs import acme_vendor, found, reload, results_of, run_matching
from vendors.models import Vendor, VendorAlias
from vendors.selectors import vendor_resolve_exact, vendor_resolve_exact_many

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_matching_tasks")]

GLOVES = Line("GL-M", "Nitrile gloves size M, box of 100", "400", "12.50")
GROUP_TAX_ID = "DE 812 526 315"  # the group entity's VAT number, valid, not on Acme's record
LEARNED = "DE812526315"


def _invoice(tenant: Tenant, number: str, *, name: str, tax_id: str = GROUP_TAX_ID, price: str = "12.50",
             **fields: object) -> Invoice:  # fmt: skip
    """A quantity of its own per invoice number: no two totals alike (no possible duplicate)."""
    quantity = str(10 * (1 + sum(ord(ch) for ch in number) % 9))
    line = Line(GLOVES.sku, GLOVES.description, quantity, price)
    return InvoiceFactory(tenant=tenant, vendor=None, vendor_name_raw=name, vendor_tax_id_raw=tax_id,
                          invoice_number=number, po_number="PO-100", lines=[line], **fields)  # fmt: skip


def _chosen(tenant: Tenant, invoice: Invoice, vendor: Vendor) -> DecisionExample:
    run_matching(tenant)
    invoice = reload(invoice)
    assert (invoice.status, invoice.vendor_id) == ("pending_review", None)
    choice = invoice_vendor_choose(tenant=tenant, invoice=invoice, vendor_id=vendor.pk,
                                   actor=member(tenant, Role.APPROVER), role=Role.APPROVER)  # fmt: skip
    run_matching(tenant)
    assert reload(invoice).vendor_id == vendor.pk
    return DecisionExample.objects.for_tenant(tenant).get(pk=choice.example_id)


def test_the_tax_id_is_learned_and_resolves_the_next_invoice_under_another_name(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-100", lines=[GLOVES], received=True)
    first = _invoice(tenant, "INV-1", name="Acme Handelsgesellschaft",
                     payee_account_hash="hash-of-new-account", payee_account_mask="****4300")  # fmt: skip
    example = _chosen(tenant, first, acme)

    taught = VendorAlias.objects.for_tenant(tenant).get(vendor=acme, kind="tax_id")
    assert (taught.alias, taught.normalized_alias) == (GROUP_TAX_ID, LEARNED)
    assert example.details["taught_tax_id"] == LEARNED
    # The payee account: evidence on the example, never an alias of any kind.
    assert (example.details["payee_account_hash"], example.details["payee_account_mask"]) == (
        "hash-of-new-account", "****4300"
    )  # fmt: skip
    assert not VendorAlias.objects.for_tenant(tenant).filter(normalized_alias__icontains="4300").exists()
    added = AuditEvent.objects.for_tenant(tenant).filter(entity_id=str(acme.pk), action="alias_added")
    assert {event.after["kind"] for event in added} == {"name", "tax_id"}

    second = _invoice(tenant, "INV-2", name="Acme Group Services")
    run_matching(tenant)
    second = reload(second)
    assert (second.status, second.vendor_id) == ("approved", acme.pk)
    who = example.actor_label
    today = example.created_at.date().isoformat()
    assert (
        f"Vendor {acme.name} recognised by the tax id '{GROUP_TAX_ID}', learned from a choice by {who} on {today}."
    ) in results_of(second)[-1].decision_reason
    assert not VendorAlias.objects.for_tenant(other_tenant).exists()
    assert vendor_resolve_exact(tenant=other_tenant, tax_id=GROUP_TAX_ID) is None


def test_the_same_account_alone_identifies_no_vendor(tenant: Tenant) -> None:
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-100", lines=[GLOVES], received=True)
    _chosen(tenant, _invoice(tenant, "INV-1", name="Acme Handelsgesellschaft", payee_account_hash="hash-x",
                             payee_account_mask="****4300"), acme)  # fmt: skip
    forged = _invoice(tenant, "INV-F", name="Zenith Office Trading", tax_id="",
                      payee_account_hash="hash-x", payee_account_mask="****4300")  # fmt: skip
    run_matching(tenant)
    forged = reload(forged)
    assert forged.vendor_id is None
    assert ("unknown_vendor", "high") in found(results_of(forged)[-1])


def test_an_invoice_coming_in_with_the_learned_tax_id_names_it_in_its_reason(api: APIClient, tenant: Tenant) -> None:
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-100", lines=[GLOVES], received=True)
    example = _chosen(tenant, _invoice(tenant, "INV-1", name="Acme Handelsgesellschaft"), acme)
    body = {
        "invoice_number": "INV-API", "vendor_name": "Acme Group Services", "vendor_tax_id": LEARNED,
        "currency": "EUR", "invoice_date": "2026-12-01", "po_number": "PO-100", "total_amount": "37.50",
        "lines": [{"sku": GLOVES.sku, "description": GLOVES.description, "quantity": "3", "unit_price": "12.50"}],
    }  # fmt: skip
    response = api.post("/api/invoices", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.content
    arrived = Invoice.objects.for_tenant(tenant).get(invoice_number="INV-API")
    assert arrived.vendor_id == acme.pk  # resolved at the door, through the learned tax id
    run_matching(tenant)
    assert reload(arrived).status == "approved"
    assert f"recognised by the tax id '{LEARNED}', learned from a choice by {example.actor_label}" in (
        results_of(arrived)[-1].decision_reason
    )


def test_the_door_resolves_a_learned_tax_id_after_one_on_record(tenant: Tenant) -> None:
    acme = acme_vendor(tenant)
    other = VendorFactory(tenant=tenant, name="Beta Tools", tax_id="FR40303265045")
    VendorAlias.objects.create(tenant=tenant, vendor=acme, kind="tax_id", alias="FR 403 032 650 45",
                               normalized_alias="FR40303265045")  # fmt: skip
    VendorAlias.objects.create(tenant=tenant, vendor=acme, kind="tax_id", alias=GROUP_TAX_ID, normalized_alias=LEARNED)
    references = [(None, "FR40303265045", ""), (None, GROUP_TAX_ID, "Someone"), (None, "", LEARNED.lower())]
    many = vendor_resolve_exact_many(tenant=tenant, references=references)
    for reference, expected in zip(references, [other, acme, None], strict=True):
        one = vendor_resolve_exact(tenant=tenant, vendor_id=None, tax_id=reference[1], name=reference[2])
        assert one == many[reference] == expected


def test_a_rejection_forgets_the_learned_tax_id_it_was_recognised_by(tenant: Tenant) -> None:
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-100", lines=[GLOVES], received=True)
    _chosen(tenant, _invoice(tenant, "INV-1", name="Acme Handelsgesellschaft"), acme)
    # Billed 6 % over the PO price: waits for review, recognised through the learned tax id.
    second = _invoice(tenant, "INV-2", name="Acme Group Services", price="13.25")
    run_matching(tenant)
    assert (reload(second).status, reload(second).vendor_id) == ("pending_review", acme.pk)
    bea = member(tenant, Role.APPROVER)

    review(tenant, second, "reject", bea, comment="not ours: the group entity never sells gloves")

    assert not VendorAlias.objects.for_tenant(tenant).filter(kind="tax_id").exists()
    # The name it was not recognised by stays.
    assert VendorAlias.objects.for_tenant(tenant).filter(kind="name", alias="Acme Handelsgesellschaft").exists()
    removed = AuditEvent.objects.for_tenant(tenant).get(entity_id=str(acme.pk), action="alias_removed")
    assert removed.before["normalized_alias"] == LEARNED
    assert removed.after == {"why": "invoice INV-2 rejected"}
    assert removed.actor_id == bea.id
    third = _invoice(tenant, "INV-3", name="Acme Group Services")
    run_matching(tenant)
    assert reload(third).vendor_id is None


def test_a_rejection_keeps_an_alias_that_did_not_identify_the_vendor(tenant: Tenant) -> None:
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-100", lines=[GLOVES], received=True)
    _chosen(tenant, _invoice(tenant, "INV-1", name="Acme Handelsgesellschaft", tax_id=""), acme)
    # Its tax id is the one on Acme's record: the learned name did not identify it.
    second = _invoice(tenant, "INV-2", name="Acme Handelsgesellschaft", tax_id=acme.tax_id, price="13.25")
    run_matching(tenant)
    assert reload(second).status == "pending_review"
    review(tenant, second, "reject", member(tenant, Role.APPROVER), comment="price")
    assert VendorAlias.objects.for_tenant(tenant).filter(kind="name").count() == 1

    # Recognised by that name: rejected, the name goes.
    third = _invoice(tenant, "INV-3", name="Acme Handelsgesellschaft", tax_id="", price="13.25")
    run_matching(tenant)
    assert "recognised by the name 'Acme Handelsgesellschaft'" in results_of(reload(third))[-1].decision_reason
    review(tenant, third, "reject", member(tenant, Role.APPROVER), comment="price")
    assert not VendorAlias.objects.for_tenant(tenant).exists()


@pytest.mark.parametrize(
    ("tax_id", "why"),
    [("n/a", "no tax id"), ("none", "no tax id"), ("DE 812 526 316", "not a valid German VAT number")],
)
def test_a_tax_id_that_cannot_identify_the_vendor_is_not_learned(tenant: Tenant, tax_id: str, why: str) -> None:
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-100", lines=[GLOVES], received=True)
    example = _chosen(tenant, _invoice(tenant, "INV-1", name="Acme Handelsgesellschaft", tax_id=tax_id), acme)
    assert "taught_tax_id" not in example.details, why
    assert not VendorAlias.objects.for_tenant(tenant).filter(kind="tax_id").exists()
    assert VendorAlias.objects.for_tenant(tenant).filter(kind="name").exists()
