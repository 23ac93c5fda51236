"""Invoices typed in by hand on /app/invoices/new and a draft's page: kept as drafts, refused beside
the field or line cell at fault with nothing written, filled from a PO's unbilled lines, submitted to
matching through the one door, discarded; a PDF without an e-invoice is a draft shown beside its
form; clerks and administrators enter, others look; another tenant's draft is the 404 page."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from audit.models import AuditEvent
from invoices.models import Invoice, InvoiceLine, InvoiceSource, InvoiceStatus
from review.entry_views import NO_SUCH_PO, NOT_A_DRAFT
from tenants.http.line_entry import DECIMAL_COMMA
from tenants.models import Tenant
from tests.factories import BOLTS, HOSES, MembershipFactory, PurchaseOrderFactory, VendorFactory
from tests.matching.runs import reload, run_matching
from vendors.models import Vendor

pytestmark = pytest.mark.django_db

S = InvoiceStatus
NEW = "/app/invoices/new"
PDF_WITHOUT_XML = (
    Path(__file__).resolve().parents[1]
    / "invoices"
    / "testdata"
    / "pdf"
    / ("MustangGnuaccountingBeispielRE-20201121_508blanko.pdf")
)


@pytest.fixture(autouse=True)
def _no_tasks(settings: Any) -> None:
    settings.MATCH_ON_INGEST = False


def form(**fields: str) -> dict[str, str]:
    """A posted entry form: header fields, and `lines` rows as lines-N-name."""
    data = {"document_type": "invoice", "lines-TOTAL_FORMS": "0", "lines-INITIAL_FORMS": "0"}
    data.update(fields)
    return data


def with_lines(data: dict[str, str], *rows: dict[str, str]) -> dict[str, str]:
    data = dict(data, **{"lines-TOTAL_FORMS": str(len(rows))})
    for index, row in enumerate(rows):
        data.update({f"lines-{index}-{name}": value for name, value in row.items()})
    return data


def bolts_invoice(supplier: Vendor, po_number: str, **fields: str) -> dict[str, str]:
    header = form(**{"vendor": supplier.name, "invoice_number": "INV-7790", "po_number": po_number, "currency": "EUR",
                     "invoice_date": "2026-11-03", **fields})  # fmt: skip
    return with_lines(header, {"description": BOLTS.description, "quantity": "1000", "unit_price": "0.125",
                               "po_line_number": "1"})  # fmt: skip


def test_a_new_invoice_is_kept_as_a_draft_and_opens_again_as_typed(clerk: Client, tenant: Tenant) -> None:
    vendor = VendorFactory(tenant=tenant)
    gloves = {"description": "Gloves", "quantity": "3", "unit_price": "0.335"}
    response = clerk.post(NEW, with_lines(form(vendor=vendor.name, invoice_number="INV-1", currency="EUR"), gloves, {}))
    draft = Invoice.objects.for_tenant(tenant).get()
    assert response.status_code == 302 and response["Location"] == reverse("web:invoice-edit", args=[draft.pk])
    assert (draft.status, draft.source, draft.vendor_id, draft.total_amount) == (
        S.DRAFT,
        InvoiceSource.MANUAL,
        vendor.pk,
        101,
    )
    page = clerk.get(response["Location"]).content.decode()
    assert 'value="INV-1"' in page and 'value="0.335"' in page and 'data-testid="subtotal">1.01' in page


def test_refusals_stand_beside_their_field_and_nothing_is_written(clerk: Client, tenant: Tenant) -> None:
    data = with_lines(form(currency="EURO", invoice_date="2026-13-01"),
                      {"description": "Gloves", "quantity": "12,5", "unit_price": "1"},
                      {"description": "Tape", "quantity": "2"})  # fmt: skip
    response = clerk.post(NEW, data)
    assert response.status_code == 400
    page = response.content.decode()
    assert 'data-testid="error-currency"' in page and 'data-testid="error-invoice_date"' in page
    assert 'data-testid="error-lines-0-quantity">' + DECIMAL_COMMA in page
    assert 'data-testid="error-lines-1-unit_price"' in page
    assert not Invoice.objects.for_tenant(tenant).exists()


def test_submitting_an_incomplete_document_says_what_is_missing(clerk: Client, tenant: Tenant) -> None:
    response = clerk.post(NEW, dict(form(currency="EUR"), action="submit"))
    assert response.status_code == 400
    page = response.content.decode()
    for field in ("invoice_number", "invoice_date", "vendor"):
        assert f'data-testid="error-{field}"' in page, field
    assert "An invoice needs at least one line." in page
    assert not Invoice.objects.for_tenant(tenant).exists()


def test_an_unknown_vendor_waits_in_a_draft_and_is_added_only_when_asked(clerk: Client, tenant: Tenant) -> None:
    purchase_order = PurchaseOrderFactory(tenant=tenant, lines=[BOLTS], received=True)
    data = bolts_invoice(purchase_order.vendor, purchase_order.po_number, vendor="Brand New GmbH", action="submit")
    refused = clerk.post(NEW, data)
    assert refused.status_code == 400 and 'data-testid="error-vendor"' in refused.content.decode()
    assert not Vendor.objects.for_tenant(tenant).filter(name="Brand New GmbH").exists()
    clerk.post(NEW, dict(data, create_vendor="on"))
    invoice = Invoice.objects.for_tenant(tenant).get()
    assert invoice.vendor.name == "Brand New GmbH" and invoice.status == S.RECEIVED


def test_a_draft_filled_from_its_po_and_submitted_is_matched(clerk: Client, tenant: Tenant) -> None:
    purchase_order = PurchaseOrderFactory(tenant=tenant, lines=[BOLTS, HOSES], received=True)
    filled = clerk.post(NEW, form(po_number=purchase_order.po_number, action="fill_from_po"))
    assert filled.status_code == 200
    page = filled.content.decode()
    assert f'value="{BOLTS.description}"' in page and 'value="1000"' in page and 'value="EUR"' in page
    assert f'value="{purchase_order.vendor.name}"' in page
    saved = clerk.post(NEW, dict(bolts_invoice(purchase_order.vendor, purchase_order.po_number)))
    draft = Invoice.objects.for_tenant(tenant).get()
    assert saved.status_code == 302 and draft.status == S.DRAFT
    data = with_lines(
        form(vendor=purchase_order.vendor.name, invoice_number="INV-7790", po_number=purchase_order.po_number,
             currency="EUR", invoice_date="2026-11-03", action="submit"),
        {"description": BOLTS.description, "quantity": "1000", "unit_price": "0.125", "po_line_number": "1"},
        {"description": HOSES.description, "quantity": HOSES.quantity, "unit_price": HOSES.price,
         "po_line_number": "2"},
    )  # fmt: skip
    submitted = clerk.post(reverse("web:invoice-edit", args=[draft.pk]), data)
    assert submitted.status_code == 302 and submitted["Location"] == reverse("web:invoice-detail", args=[draft.pk])
    assert reload(draft).status == S.RECEIVED
    assert InvoiceLine.objects.for_tenant(tenant).filter(invoice=draft).count() == 2
    run_matching(tenant)
    assert reload(draft).status == S.APPROVED
    actions = list(
        AuditEvent.objects.for_tenant(tenant).filter(entity_id=str(draft.pk)).values_list("action", flat=True)
    )
    assert actions[:3] == ["created", "updated", "transition"]
    # A submitted draft's form is closed: it opens the invoice instead.
    again = clerk.get(reverse("web:invoice-edit", args=[draft.pk]), follow=True)
    assert NOT_A_DRAFT in again.content.decode()


def test_an_unknown_po_is_said_beside_its_field(clerk: Client) -> None:
    response = clerk.post(NEW, form(po_number="PO-NOPE", action="fill_from_po"))
    assert response.status_code == 400 and NO_SUCH_PO in response.content.decode()


def test_a_draft_is_discarded_void_and_stays_in_the_trail(clerk: Client, tenant: Tenant) -> None:
    clerk.post(NEW, form(invoice_number="INV-X"))
    draft = Invoice.objects.for_tenant(tenant).get()
    response = clerk.post(reverse("web:invoice-discard", args=[draft.pk]), {"reason": "Sent twice"})
    assert response.status_code == 302
    assert reload(draft).status == S.VOID
    event = AuditEvent.objects.for_tenant(tenant).filter(entity_id=str(draft.pk), action="transition").get()
    assert event.after["reason"] == "Sent twice"
    assert clerk.get(reverse("web:invoice-discard", args=[draft.pk])).status_code == 302  # to its page, unchanged


def test_a_pdf_without_an_e_invoice_is_a_draft_shown_beside_its_form(clerk: Client, api: APIClient) -> None:
    handle = io.BytesIO(PDF_WITHOUT_XML.read_bytes())
    handle.name = PDF_WITHOUT_XML.name
    response = api.post("/api/invoices/import/xml", {"file": handle}, format="multipart")
    assert response.status_code == 201, response.content
    draft_id = response.json()["id"]
    opened = clerk.get(reverse("web:invoice-detail", args=[draft_id]))
    assert opened.status_code == 302 and opened["Location"] == reverse("web:invoice-edit", args=[draft_id])
    page = clerk.get(opened["Location"])
    assert 'data-testid="original-pdf"' in page.content.decode()
    assert "object-src 'self'" in page["Content-Security-Policy"]


def test_approvers_look_and_do_not_enter(approver: Client, tenant: Tenant, clerk: Client) -> None:
    clerk.post(NEW, form(invoice_number="INV-Y"))
    draft = Invoice.objects.for_tenant(tenant).get()
    assert approver.get(NEW).status_code == 403
    assert approver.post(NEW, form(invoice_number="INV-Z")).status_code == 403
    page = approver.get(reverse("web:invoice-detail", args=[draft.pk]))
    assert page.status_code == 200 and 'data-testid="draft-note"' in page.content.decode()
    assert Invoice.objects.for_tenant(tenant).count() == 1


def test_another_tenants_draft_is_the_404_page(clerk: Client, other_tenant: Tenant) -> None:
    other = Client()
    other.force_login(MembershipFactory(tenant=other_tenant, role="clerk").user)
    other.post(NEW, form(invoice_number="INV-THEIRS"))
    theirs = Invoice.objects.for_tenant(other_tenant).get()
    for url in (reverse("web:invoice-edit", args=[theirs.pk]),):
        assert clerk.get(url).status_code == 404
        assert clerk.post(url, form(invoice_number="MINE")).status_code == 404
    assert clerk.post(reverse("web:invoice-discard", args=[theirs.pk])).status_code == 404
    assert reload(theirs).invoice_number == "INV-THEIRS" and reload(theirs).status == S.DRAFT


def test_a_new_vendors_tax_id_failing_its_check_is_a_warning_beside_the_field(clerk: Client, tenant: Tenant) -> None:
    purchase_order = PurchaseOrderFactory(tenant=tenant, lines=[BOLTS], received=True)
    typed = bolts_invoice(purchase_order.vendor, purchase_order.po_number, vendor="Brand New GmbH",
                          vendor_tax_id="DE811907981")  # fmt: skip
    saved = clerk.post(NEW, typed)
    draft = Invoice.objects.for_tenant(tenant).get()
    page = clerk.get(saved["Location"]).content.decode()
    assert 'data-testid="tax-id-warning">DE811907981 is not a valid' in page
    # A valid number, or a known vendor's, is not warned about here.
    valid = clerk.post(NEW, dict(typed, vendor_tax_id="DE811907980", action="add_line")).content.decode()
    assert 'data-testid="tax-id-warning"' not in valid
    VendorFactory(tenant=tenant, name="Known AG", tax_id="GB123456789")
    known = clerk.post(NEW, dict(typed, vendor="Known AG", vendor_tax_id="GB123456789", action="add_line"))
    assert 'data-testid="tax-id-warning"' not in known.content.decode()

    # Added all the same (a warning, not a refusal), and said once more after submitting.
    submitted = clerk.post(
        reverse("web:invoice-edit", args=[draft.pk]), dict(typed, create_vendor="on", action="submit"), follow=True
    )
    assert submitted.status_code == 200
    assert Vendor.objects.for_tenant(tenant).get(name="Brand New GmbH").tax_id == "DE811907981"
    assert "Vendor Brand New GmbH added; its tax id deserves a second look: DE811907981" in submitted.content.decode()
