"""UBL / Peppol e-invoice import: `POST /api/invoices/import/xml`.

The real files under testdata/ubl/ (see its README) are imported as they are published; every
expected amount below was computed by hand from the file's own elements, in minor units:
subtotal = Σ InvoiceLine/LineExtensionAmount, tax = TaxTotal/TaxAmount (document currency),
shipping = ChargeTotalAmount − AllowanceTotalAmount (when ≥ 0), total = PayableAmount + PrepaidAmount.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from rest_framework.test import APIClient

from audit.models import AuditEvent
from core.actors import system_actor
from core.http.uploads import UPLOAD_TOO_LARGE
from core.quantities import MUST_BE_POSITIVE
from invoices.checks import (
    AMOUNT_DUE_DISAGREES,
    CREDITED_NUMBER_ONLY_ON_CREDIT_NOTES,
    LINE_AMOUNT_SIGN,
    QUANTITY_ZERO,
)
from invoices.ingest import e_invoices, xml_reading
from invoices.lifecycle import invoice_transition
from invoices.models import CONVERSION_REASONS, DocumentType, Invoice, InvoiceSource, InvoiceStatus
from invoices.services import CREDITED_IN_FULL
from matching.models import Discrepancy, MatchResult, MatchRun
from matching.services import matching_run_for_tenant
from tenants.models import Tenant
from tests.factories import VendorFactory
from vendors.models import Vendor

UBL = Path(__file__).resolve().parent / "testdata" / "ubl"
IMPORT = "/api/invoices/import/xml"


@pytest.fixture(autouse=True)
def _no_matching_tasks(settings: Any) -> None:
    settings.MATCH_ON_INGEST = False


def upload(client: APIClient, content: bytes, **headers: str) -> Any:
    """As a browser or `curl -F file=@invoice.xml` sends it: multipart, field `file`."""
    handle = io.BytesIO(content)
    handle.name = "invoice.xml"
    return client.post(IMPORT, {"file": handle}, format="multipart", **headers)


def raw(client: APIClient, content: bytes, content_type: str = "application/xml") -> Any:
    """As `curl --data-binary @invoice.xml -H 'Content-Type: application/xml'` sends it."""
    return client.generic("POST", IMPORT, content, content_type=content_type)


def sample(name: str) -> bytes:
    return (UBL / name).read_bytes()


def imported(client: APIClient, name: str, status: int = 201) -> dict[str, Any]:
    response = upload(client, sample(name))
    assert response.status_code == status, response.content
    return response.json()


def refusal(response: Any, code: str = "xml_invalid") -> dict[str, Any]:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == code, error
    return error


def minimal_ubl(
    *,
    root: str = "Invoice",
    number: str = "T-1",
    lines: str = "",
    allowance_charges: str = "",
    tax: str = "25.00",
    totals: str = "<cbc:PayableAmount currencyID='EUR'>125.00</cbc:PayableAmount>",
    extra: str = "",
    prolog: str = "",
) -> bytes:
    """A small, valid UBL document (one line of 10 × 10.00 at 25 %) with the parts a test varies."""
    line_tag, quantity_tag = (
        ("CreditNoteLine", "CreditedQuantity") if root == "CreditNote" else ("InvoiceLine", "InvoicedQuantity")
    )
    lines = lines or (
        f"<cac:{line_tag}><cbc:ID>1</cbc:ID><cbc:{quantity_tag} unitCode='C62'>10</cbc:{quantity_tag}>"
        "<cbc:LineExtensionAmount currencyID='EUR'>100.00</cbc:LineExtensionAmount>"
        "<cac:Item><cbc:Name>Hex bolt M8</cbc:Name><cac:ClassifiedTaxCategory><cbc:ID>S</cbc:ID>"
        "<cbc:Percent>25</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme>"
        "</cac:ClassifiedTaxCategory></cac:Item>"
        f"<cac:Price><cbc:PriceAmount currencyID='EUR'>10.00</cbc:PriceAmount></cac:Price></cac:{line_tag}>"
    )
    return (
        f"<?xml version='1.0' encoding='UTF-8'?>{prolog}"
        f"<{root} xmlns='urn:oasis:names:specification:ubl:schema:xsd:{root}-2'"
        " xmlns:cac='urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2'"
        " xmlns:cbc='urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2'>"
        f"<cbc:ID>{number}</cbc:ID><cbc:IssueDate>2026-10-01</cbc:IssueDate>"
        f"<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>{extra}"
        "<cac:AccountingSupplierParty><cac:Party><cac:PartyName><cbc:Name>Nordic Fasteners AB</cbc:Name>"
        "</cac:PartyName><cac:PartyTaxScheme><cbc:CompanyID>SE556677889901</cbc:CompanyID><cac:TaxScheme>"
        "<cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme></cac:Party></cac:AccountingSupplierParty>"
        f"{allowance_charges}"
        f"<cac:TaxTotal><cbc:TaxAmount currencyID='EUR'>{tax}</cbc:TaxAmount></cac:TaxTotal>"
        f"<cac:LegalMonetaryTotal>{totals}</cac:LegalMonetaryTotal>{lines}</{root}>"
    ).encode()


# --- the published examples, exactly --------------------------------------------------------


# file → (kind, number, currency, (subtotal, tax, shipping, total) in minor units, lines, tax rate,
#         PO number, credited invoice number, vendor name, vendor VAT id)
EXAMPLES = {
    # 7 × 400 − 3 × 500 = 1300.00; Insurance charge 25 → shipping; 1656.25 payable.
    "base-example.xml": (
        "invoice", "Snippet1", "EUR", (130000, 33125, 2500, 165625), 2, Decimal("25"), "", "",
        "SupplierTradingName Ltd.", "GB1232434",
    ),
    # The same amounts, credited; BillingReference → Snippet1.
    "base-creditnote-correction.xml": (
        "credit_note", "Snippet1", "EUR", (130000, 33125, 2500, 165625), 2, Decimal("25"), "", "Snippet1",
        "SupplierTradingName Ltd.", "GB1232434",
    ),
    # Payable −1656.25: a negative invoice is stored as the credit note it is, signs turned.
    "base-negative-inv-correction.xml": (
        "credit_note", "Correction1", "EUR", (130000, 33125, 2500, 165625), 2, Decimal("25"), "", "Snippet1",
        "SupplierTradingName Ltd.", "GB1232434",
    ),
    # Lines 4000 + 1000 + 900; charge 200 − allowance 200 = 0; payable 6125 + prepaid 1000; rates 25 and 0.
    "Allowance-example.xml": (
        "invoice", "Snippet1", "EUR", (590000, 122500, 0, 712500), 3, None, "", "",
        "SupplierTradingName Ltd.", "GB1232434",
    ),
    # Lines 4000 + 2000 + 900; charge 200 − allowance 100 = 100; payable 8550; rates 25 and 15.
    "Vat-category-S.xml": (
        "invoice", "Snippet1", "EUR", (690000, 155000, 10000, 855000), 3, None, "", "",
        "SupplierTradingName Ltd.", "GB1232434",
    ),
    # As base-example; OrderReference/ID "NA" is Peppol's "no purchase order".
    "sales-order-example.xml": (
        "invoice", "Snippet1", "EUR", (130000, 33125, 2500, 165625), 2, Decimal("25"), "", "",
        "SupplierTradingName Ltd.", "GB1232434",
    ),
    # 1273 − 3.96 + 4.96 − 25 + 187.50 = 1436.50; freight 100 − discount 100 = 0; 801.78 + 1000 prepaid.
    "ubl-tc434-example2.xml": (
        "invoice", "TOSL108", "NOK", (143650, 36528, 0, 180178), 5, None, "123", "",
        "Salescompany ltd.", "NO123456789MVA",
    ),
    # 1000 + 500 + 2500 = 4000; tax 375 + 300; rates 25 and 12; no PartyName → RegistrationName.
    "ubl-tc434-example4.xml": (
        "invoice", "TOSL110", "DKK", (400000, 67500, 0, 467500), 3, None, "123", "",
        "SellerCompany", "DK16356706",
    ),
    # One exempt line of 100.11 at 0 %.
    "ubl-tc434-creditnote1.xml": (
        "credit_note", "018304 / 28865", "EUR", (10011, 0, 0, 10011), 1, Decimal("0"), "", "",
        "My Supplier Company N.V.", "BE0000000196",
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_published_example_imports_with_the_files_totals(name: str, api: APIClient, tenant: Tenant) -> None:
    kind, number, currency, amounts, line_count, rate, po_number, credited, vendor_name, vat_id = EXAMPLES[name]
    body = imported(api, name)
    invoice = Invoice.objects.for_tenant(tenant).get(pk=body["id"])
    assert (invoice.document_type, invoice.invoice_number, invoice.currency) == (kind, number, currency)
    assert (invoice.subtotal_amount, invoice.tax_amount, invoice.shipping_amount, invoice.total_amount) == amounts
    # What matching checks: the stored header adds up, so no false `total_mismatch`.
    assert invoice.subtotal_amount + invoice.tax_amount + invoice.shipping_amount == invoice.total_amount
    assert invoice.lines.count() == line_count == len(body["lines"])
    assert invoice.tax_rate == rate
    assert (invoice.po_number, invoice.credited_invoice_number) == (po_number, credited)
    assert (invoice.vendor_name_raw, invoice.vendor_tax_id_raw) == (vendor_name, vat_id)
    assert invoice.source == InvoiceSource.XML and invoice.status == InvoiceStatus.RECEIVED
    # The answer is the invoice as GET /api/invoices/{id} shows it.
    assert body == api.get(f"/api/invoices/{invoice.pk}").json()
    assert (body["document_type"], body["credited_invoice_number"]) == (kind, credited)


def test_the_lines_of_the_peppol_base_example_including_its_return_line(api: APIClient, tenant: Tenant) -> None:
    body = imported(api, "base-example.xml")
    assert (body["invoice_date"], body["due_date"]) == ("2017-11-13", "2017-12-01")
    assert [
        (line["line_number"], line["quantity"], line["unit_price"], line["amount"], line["po_line_number"])
        for line in body["lines"]
    ] == [
        (1, "7.0000", "400.000000", "2800.00", 123),
        (2, "-3.0000", "500.000000", "-1500.00", 123),  # a return, netted on the invoice
    ]
    assert [line["description"] for line in body["lines"]] == [
        "item name — Description of item",
        "item name 2 — Description 2",
    ]
    # The unit code has no column yet; the creation event keeps it with the rest of the document.
    [created] = AuditEvent.objects.for_tenant(tenant).filter(entity_id=body["id"], action="created")
    assert [line["unit_code"] for line in created.after["lines"]] == ["DAY", "DAY"]


def test_price_per_base_quantity_and_seller_item_ids(api: APIClient) -> None:
    allowance = imported(api, "Allowance-example.xml")
    # Line 2: PriceAmount 200 per BaseQuantity 2 → 100 a unit; 10 × 100 = 1000.
    assert [(line["unit_price"], line["amount"], line["sku"]) for line in allowance["lines"]] == [
        ("410.000000", "4000.00", "97iugug876"),  # the line-level allowance is in the stated amount
        ("100.000000", "1000.00", "97iugug876"),
        ("100.000000", "900.00", "97iugug876"),
    ]
    example2 = imported(api, "ubl-tc434-example2.xml")
    assert [(line["sku"], line["quantity"], line["amount"]) for line in example2["lines"]] == [
        ("JB007", "2.0000", "1273.00"),
        ("JB008", "-1.0000", "-3.96"),
        ("JB009", "2.0000", "4.96"),
        ("JB010", "-1.0000", "-25.00"),
        ("JB011", "250.0000", "187.50"),
    ]


def test_a_price_per_base_quantity_that_does_not_divide_is_rounded_to_six_places(api: APIClient) -> None:
    line = (
        "<cac:InvoiceLine><cbc:ID>1</cbc:ID><cbc:InvoicedQuantity unitCode='C62'>3</cbc:InvoicedQuantity>"
        "<cbc:LineExtensionAmount currencyID='EUR'>1.00</cbc:LineExtensionAmount>"
        "<cac:Item><cbc:Name>Washer</cbc:Name></cac:Item><cac:Price>"
        "<cbc:PriceAmount currencyID='EUR'>1.00</cbc:PriceAmount><cbc:BaseQuantity>3</cbc:BaseQuantity>"
        "</cac:Price></cac:InvoiceLine>"
    )
    content = minimal_ubl(lines=line, tax="0", totals="<cbc:PayableAmount currencyID='EUR'>1.00</cbc:PayableAmount>")
    body = upload(api, content).json()
    assert [(item["unit_price"], item["amount"]) for item in body["lines"]] == [("0.333333", "1.00")]


def test_document_allowances_beyond_the_charges_become_one_negative_line(api: APIClient, tenant: Tenant) -> None:
    """Shipping is never negative, so a net document-level discount is a line of its own."""
    allowance = (
        "<cac:AllowanceCharge><cbc:ChargeIndicator>false</cbc:ChargeIndicator>"
        "<cbc:AllowanceChargeReason>Loyalty discount</cbc:AllowanceChargeReason>"
        "<cbc:Amount currencyID='EUR'>10.00</cbc:Amount><cac:TaxCategory><cbc:ID>S</cbc:ID>"
        "<cbc:Percent>25</cbc:Percent></cac:TaxCategory></cac:AllowanceCharge>"
    )
    totals = (
        "<cbc:LineExtensionAmount currencyID='EUR'>100.00</cbc:LineExtensionAmount>"
        "<cbc:TaxExclusiveAmount currencyID='EUR'>90.00</cbc:TaxExclusiveAmount>"
        "<cbc:TaxInclusiveAmount currencyID='EUR'>112.50</cbc:TaxInclusiveAmount>"
        "<cbc:AllowanceTotalAmount currencyID='EUR'>10.00</cbc:AllowanceTotalAmount>"
        "<cbc:PayableAmount currencyID='EUR'>112.50</cbc:PayableAmount>"
    )
    response = upload(api, minimal_ubl(allowance_charges=allowance, tax="22.50", totals=totals))
    assert response.status_code == 201, response.content
    invoice = Invoice.objects.for_tenant(tenant).get(pk=response.json()["id"])
    assert (invoice.subtotal_amount, invoice.tax_amount, invoice.shipping_amount, invoice.total_amount) == (
        9000,
        2250,
        0,
        11250,
    )
    assert invoice.tax_rate == Decimal("25")
    assert [
        (line.line_number, line.quantity, line.unit_price, line.amount, line.description)
        for line in invoice.lines.order_by("line_number")
    ] == [
        (1, Decimal("10"), Decimal("10"), 10000, "Hex bolt M8"),
        (2, Decimal("-1"), Decimal("10"), -1000, f"{xml_reading.ALLOWANCE_LINE}: Loyalty discount"),
    ]


# --- negative quantities: accepted from e-invoices only -------------------------------------


def test_negative_quantities_stay_refused_from_typed_sources(api: APIClient) -> None:
    """The JSON API (like CSV) keeps quantity > 0: there a minus sign is far likelier a slip."""
    response = api.post(
        "/api/invoices",
        {
            "invoice_number": "J-1",
            "vendor_name": "Nordic Fasteners AB",
            "currency": "EUR",
            "invoice_date": "2026-10-01",
            "total_amount": "0.00",
            "lines": [{"description": "Returned bolts", "quantity": "-1", "unit_price": "1.00"}],
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"]["lines[0].quantity"] == [MUST_BE_POSITIVE]


@pytest.mark.parametrize(
    ("quantity", "amount", "message"),
    [("0", "0.00", QUANTITY_ZERO), ("-3", "30.00", LINE_AMOUNT_SIGN), ("3", "-30.00", LINE_AMOUNT_SIGN)],
)
def test_a_line_of_nothing_or_with_a_contradicting_sign_is_refused(
    quantity: str, amount: str, message: str, api: APIClient, document_counts: Callable[[], dict[str, int]]
) -> None:
    line = (
        f"<cac:InvoiceLine><cbc:ID>1</cbc:ID><cbc:InvoicedQuantity>{quantity}</cbc:InvoicedQuantity>"
        f"<cbc:LineExtensionAmount currencyID='EUR'>{amount}</cbc:LineExtensionAmount>"
        "<cac:Item><cbc:Name>Bolt</cbc:Name></cac:Item>"
        "<cac:Price><cbc:PriceAmount currencyID='EUR'>10.00</cbc:PriceAmount></cac:Price></cac:InvoiceLine>"
    )
    before = document_counts()
    response = upload(api, minimal_ubl(lines=line, tax="0", totals="<cbc:PayableAmount>0</cbc:PayableAmount>"))
    assert response.status_code == 400, response.content
    details = response.json()["error"]["details"]
    assert message in details.get("lines[0].quantity", []) + details.get("lines[0].amount", [])
    assert document_counts() == before


# --- credit notes ---------------------------------------------------------------------------


def _events(invoice_id: str, tenant: Tenant) -> list[AuditEvent]:
    return list(AuditEvent.objects.for_tenant(tenant).filter(entity_id=invoice_id).order_by("xid", "append_seq"))


def test_a_full_credit_note_voids_the_invoice_it_credits(api: APIClient, tenant: Tenant) -> None:
    invoice = imported(api, "base-example.xml")
    credit_note = imported(api, "base-creditnote-correction.xml")  # same number, other kind: not a re-import
    assert credit_note["id"] != invoice["id"]
    assert credit_note["document_type"] == DocumentType.CREDIT_NOTE
    assert (credit_note["credited_invoice_id"], credit_note["credited_invoice_number"]) == (invoice["id"], "Snippet1")
    assert api.get(f"/api/invoices/{invoice['id']}").json()["status"] == InvoiceStatus.VOID
    # The void is an audited transition, by the same API key, naming the credit note.
    void = _events(invoice["id"], tenant)[-1]
    assert (void.action, void.before["status"], void.after["status"]) == ("transition", "received", "void")
    assert void.after["reason"] == CREDITED_IN_FULL.format(number="Snippet1")
    assert void.after["credit_note_id"] == credit_note["id"]
    [created] = _events(credit_note["id"], tenant)
    assert (created.actor_kind, created.actor_id) == (void.actor_kind, void.actor_id)
    assert created.after["credited_invoice_id"] == invoice["id"]
    assert created.append_seq < void.append_seq  # one transaction: the credit note, then the void


def test_a_negative_correction_invoice_is_a_full_credit_note_too(api: APIClient, tenant: Tenant) -> None:
    invoice = imported(api, "base-example.xml")
    correction = imported(api, "base-negative-inv-correction.xml")
    assert (correction["document_type"], correction["invoice_number"], correction["total_amount"]) == (
        "credit_note",
        "Correction1",
        "1656.25",
    )
    assert correction["credited_invoice_id"] == invoice["id"]
    assert Invoice.objects.for_tenant(tenant).get(pk=invoice["id"]).status == InvoiceStatus.VOID


def test_a_negative_invoice_is_stored_as_a_credit_note_recorded_as_converted(api: APIClient, tenant: Tenant) -> None:
    """Type 380 with PayableAmount −1656.25: a credit note, and the clerk and the auditor can see why."""
    correction = imported(api, "base-negative-inv-correction.xml")
    assert (correction["document_type"], correction["converted_from"]) == ("credit_note", "invoice")
    assert correction["conversion_reason"] == CONVERSION_REASONS[DocumentType.INVOICE]
    assert correction["conversion_reason"].startswith("Negative invoice (type 380) converted")
    assert (correction["subtotal_amount"], correction["tax_amount"], correction["shipping_amount"]) == (
        "1300.00",
        "331.25",
        "25.00",
    )
    assert [(line["quantity"], line["amount"]) for line in correction["lines"]] == [
        ("7.0000", "2800.00"),
        ("-3.0000", "-1500.00"),
    ]
    [created] = _events(correction["id"], tenant)
    assert (created.after["type_code"], created.after["converted_from"]) == ("380", "invoice")
    # A positive invoice is stored as stated: nothing converted, nothing to explain.
    plain = imported(api, "base-example.xml")
    assert (plain["converted_from"], plain["conversion_reason"]) == ("", "")


def test_the_prepaid_amount_is_stored_and_only_the_rest_is_due(api: APIClient, tenant: Tenant) -> None:
    """ubl-tc434-example2: TaxInclusiveAmount 1801.78, PrepaidAmount 1000.00, PayableAmount 801.78 NOK."""
    body = imported(api, "ubl-tc434-example2.xml")
    assert (body["total_amount"], body["prepaid_amount"], body["amount_due"]) == ("1801.78", "1000.00", "801.78")
    invoice = Invoice.objects.for_tenant(tenant).get(pk=body["id"])
    assert (invoice.total_amount, invoice.prepaid_amount, invoice.amount_due) == (180178, 100000, 80178)
    allowance = imported(api, "Allowance-example.xml")
    assert (allowance["total_amount"], allowance["prepaid_amount"], allowance["amount_due"]) == (
        "7125.00",
        "1000.00",
        "6125.00",
    )


def test_a_payable_amount_that_contradicts_the_totals_is_a_400_and_nothing_is_written(
    api: APIClient, document_counts: Callable[[], dict[str, int]]
) -> None:
    def totals(payable: str) -> str:
        return (
            "<cbc:TaxInclusiveAmount currencyID='EUR'>125.00</cbc:TaxInclusiveAmount>"
            "<cbc:PrepaidAmount currencyID='EUR'>25.00</cbc:PrepaidAmount>"
            f"<cbc:PayableAmount currencyID='EUR'>{payable}</cbc:PayableAmount>"
        )

    before = document_counts()
    error = refusal(upload(api, minimal_ubl(totals=totals("90.00"))), "validation_error")
    assert error["details"]["amount_due"] == [
        AMOUNT_DUE_DISAGREES.format(amount_due="90.00", total="125.00", prepaid="25.00", expected="100.00")
    ]
    in_other_currency = minimal_ubl(totals=totals("100.00").replace("'EUR'>25.00", "'NOK'>25.00"))
    assert "cac:LegalMonetaryTotal/cbc:PrepaidAmount" in refusal(upload(api, in_other_currency))["details"]
    assert document_counts() == before
    # One minor unit of rounding is the document's to state; the amount due stays total − prepaid.
    rounded = imported_content(api, minimal_ubl(totals=totals("100.01")))
    assert (rounded["total_amount"], rounded["prepaid_amount"], rounded["amount_due"]) == ("125.00", "25.00", "100.00")


def imported_content(client: APIClient, content: bytes) -> dict[str, Any]:
    response = upload(client, content)
    assert response.status_code == 201, response.content
    return response.json()


def test_a_different_document_reusing_a_number_is_stored_and_flagged_duplicate(api: APIClient, tenant: Tenant) -> None:
    """base-example (Snippet1, 1656.25) then Allowance-example (same supplier, Snippet1, 7125.00)."""
    VendorFactory(tenant=tenant, name="SupplierTradingName Ltd.", tax_id="GB1232434")
    first = imported(api, "base-example.xml")
    second = imported(api, "Allowance-example.xml")  # 201: stored, not answered with the first
    assert second["id"] != first["id"]
    assert (second["invoice_number"], second["total_amount"], len(second["lines"])) == ("Snippet1", "7125.00", 3)
    # Each one sent again is its own re-send.
    assert imported(api, "Allowance-example.xml", status=200)["id"] == second["id"]
    assert imported(api, "base-example.xml", status=200)["id"] == first["id"]
    assert Invoice.objects.for_tenant(tenant).count() == 2

    matching_run_for_tenant(tenant=tenant, trigger=MatchRun.Trigger.COMMAND, actor=system_actor("test"))
    [duplicate] = Discrepancy.objects.for_tenant(tenant).filter(type="duplicate_invoice")
    assert (str(duplicate.invoice_id), duplicate.severity) == (second["id"], "critical")
    assert api.get(f"/api/invoices/{second['id']}").json()["status"] == InvoiceStatus.REJECTED


def test_a_partial_credit_note_references_the_invoice_and_changes_nothing(api: APIClient, tenant: Tenant) -> None:
    VendorFactory(tenant=tenant, name="Supplier Official", tax_id="GB1232434")
    invoice = imported(api, "base-example.xml")
    partial = (
        minimal_ubl(
            root="CreditNote",
            number="CN-7",
            extra="<cac:BillingReference><cac:InvoiceDocumentReference><cbc:ID>snippet-1</cbc:ID>"
            "</cac:InvoiceDocumentReference></cac:BillingReference>"
            "<cac:PaymentMeans><cbc:PaymentMeansCode>30</cbc:PaymentMeansCode>"
            "<cbc:PaymentDueDate>2026-10-31</cbc:PaymentDueDate></cac:PaymentMeans>",
        )
        .replace(b"Nordic Fasteners AB", b"Other Trading Name")
        .replace(b"SE556677889901", b"GB 123 2434")
    )
    credit_note = upload(api, partial).json()
    # Found by the same vendor (resolved by its VAT id, written differently) and the normalized number.
    assert credit_note["credited_invoice_id"] == invoice["id"]
    assert (credit_note["total_amount"], credit_note["due_date"]) == ("125.00", "2026-10-31")
    assert Invoice.objects.for_tenant(tenant).get(pk=invoice["id"]).status == InvoiceStatus.RECEIVED
    assert [event.action for event in _events(invoice["id"], tenant)] == ["created"]


def test_the_void_and_the_credit_note_are_one_transaction(
    api: APIClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If voiding the credited invoice fails, the credit note is not stored either."""
    invoice = imported(api, "base-example.xml")

    def failing_transition(**kwargs: Any) -> None:
        raise RuntimeError("the void failed")

    monkeypatch.setattr("invoices.services.invoice_transition", failing_transition)
    with pytest.raises(RuntimeError, match="the void failed"):
        e_invoices.e_invoice_import(
            tenant=tenant,
            binary=io.BytesIO(sample("base-creditnote-correction.xml")),
            filename="base-creditnote-correction.xml",
            actor=system_actor("test"),
        )
    assert list(Invoice.objects.for_tenant(tenant).values_list("id", "status")) == [
        (uuid.UUID(invoice["id"]), InvoiceStatus.RECEIVED)
    ]


def test_a_credit_note_for_an_unknown_invoice_keeps_the_number(api: APIClient) -> None:
    credit_note = imported(api, "base-creditnote-correction.xml")
    assert (credit_note["credited_invoice_id"], credit_note["credited_invoice_number"]) == (None, "Snippet1")


def test_a_credit_note_leaves_a_final_invoice_alone(api: APIClient, tenant: Tenant) -> None:
    invoice = Invoice.objects.for_tenant(tenant).get(pk=imported(api, "base-example.xml")["id"])
    invoice_transition(
        tenant=tenant, invoice=invoice, to_status=InvoiceStatus.REJECTED, actor=system_actor("test"), reason="dup"
    )
    credit_note = imported(api, "base-creditnote-correction.xml")
    assert credit_note["credited_invoice_id"] == str(invoice.pk)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.REJECTED


def test_credit_notes_are_never_three_way_matched(api: APIClient, tenant: Tenant) -> None:
    invoice = imported(api, "Vat-category-S.xml")
    credit_note = imported(api, "ubl-tc434-creditnote1.xml")
    run = matching_run_for_tenant(tenant=tenant, trigger=MatchRun.Trigger.COMMAND, actor=system_actor("test"))
    assert run.invoices_matched == 1
    assert MatchResult.objects.for_tenant(tenant).filter(invoice_id=invoice["id"]).exists()
    assert not MatchResult.objects.for_tenant(tenant).filter(invoice_id=credit_note["id"]).exists()
    assert Invoice.objects.for_tenant(tenant).get(pk=credit_note["id"]).status == InvoiceStatus.RECEIVED


def test_the_json_api_takes_credit_notes_too(api: APIClient) -> None:
    document = {
        "vendor_name": "Nordic Fasteners AB",
        "currency": "EUR",
        "invoice_date": "2026-10-01",
        "total_amount": "10.00",
        "lines": [{"description": "Bolts", "quantity": "1", "unit_price": "10.00"}],
    }
    invoice = api.post("/api/invoices", {**document, "invoice_number": "NF-1"}, format="json").json()
    credit_note = api.post(
        "/api/invoices",
        {**document, "invoice_number": "NF-CN-1", "document_type": "credit_note", "credited_invoice_number": "nf-1"},
        format="json",
    )
    assert credit_note.status_code == 201, credit_note.content
    assert credit_note.json()["credited_invoice_id"] == invoice["id"]
    assert api.get(f"/api/invoices/{invoice['id']}").json()["status"] == InvoiceStatus.VOID
    wrong = api.post(
        "/api/invoices", {**document, "invoice_number": "NF-2", "credited_invoice_number": "NF-1"}, format="json"
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"]["details"]["credited_invoice_number"] == [CREDITED_NUMBER_ONLY_ON_CREDIT_NOTES]
    assert [item["id"] for item in api.get("/api/invoices?document_type=credit_note").json()["results"]] == [
        credit_note.json()["id"]
    ]


# --- hostile and broken files ---------------------------------------------------------------


def billion_laughs() -> bytes:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{level} "{("&lol" + (str(level - 1) if level > 1 else "") + ";") * 10}">'
        for level in range(1, 10)
    )
    return minimal_ubl(number="&lol9;", prolog=f"<!DOCTYPE Invoice [{entities}]>")


def test_an_xml_bomb_is_refused_fast_and_writes_nothing(
    api: APIClient, document_counts: Callable[[], dict[str, int]]
) -> None:
    before = document_counts()
    response = upload(api, billion_laughs())  # 10⁹ "lol"s if anything expanded it
    # Refused for its DOCTYPE, before any entity is expanded (no time limit: a busy machine
    # would make one flaky, and an expansion would not finish at all).
    assert refusal(response)["message"] == xml_reading.XML_DOCTYPE_REFUSED
    assert document_counts() == before


@pytest.mark.parametrize(
    "prolog",
    [
        '<!DOCTYPE Invoice [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
        '<!DOCTYPE Invoice SYSTEM "file:///etc/passwd">',
        '<!DOCTYPE Invoice SYSTEM "http://127.0.0.1:9/ubl.dtd">',
    ],
)
def test_external_entities_and_dtds_are_refused_unread(
    prolog: str, api: APIClient, document_counts: Callable[[], dict[str, int]]
) -> None:
    before = document_counts()
    response = upload(api, minimal_ubl(number="&e;" if "ENTITY" in prolog else "T-1", prolog=prolog))
    assert refusal(response)["message"] == xml_reading.XML_DOCTYPE_REFUSED
    assert b"root:" not in response.content
    assert document_counts() == before


def test_the_parser_itself_never_expands_an_external_entity() -> None:
    """Defence in depth: even without the DOCTYPE check, the parser would not read the file."""
    content = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
    tree = etree.parse(io.BytesIO(content), etree.XMLParser(**xml_reading.PARSER_OPTIONS))
    assert b"root:" not in etree.tostring(tree)


def test_malformed_xml_is_a_400_with_its_line(api: APIClient) -> None:
    content = b"<?xml version='1.0'?>\n<Invoice>\n  <ID>1</Id>\n</Invoice>\n"
    error = refusal(raw(api, content))
    assert error["details"]["line"] == 3
    assert error["message"].startswith(xml_reading.XML_MALFORMED.format(reason=""))
    assert "line 3" in error["message"]


@pytest.mark.parametrize(
    ("content", "root"),
    [
        (b"<Invoice><ID>1</ID></Invoice>", "Invoice"),  # the right name without UBL's namespace
        (
            b"<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.02'><BkToCstmrStmt/></Document>",
            "{urn:iso:std:iso:20022:tech:xsd:camt.053.001.02}Document",
        ),
    ],
)
def test_xml_that_is_not_ubl_is_a_400_naming_its_root(content: bytes, root: str, api: APIClient) -> None:
    error = refusal(upload(api, content))
    assert error["message"] == e_invoices.NOT_AN_E_INVOICE.format(root=root)


def test_missing_and_unreadable_elements_are_listed_by_element(api: APIClient) -> None:
    content = minimal_ubl(totals="<cbc:PayableAmount currencyID='EUR'>1,25</cbc:PayableAmount>").replace(
        b"<cbc:IssueDate>2026-10-01</cbc:IssueDate>", b""
    )
    details = refusal(upload(api, content))["details"]
    assert details == {
        "cbc:IssueDate": [xml_reading.REQUIRED],
        "cac:LegalMonetaryTotal/cbc:PayableAmount": [xml_reading.NOT_A_DECIMAL.format(value="1,25")],
    }


@pytest.mark.parametrize("form", ["multipart", "raw"])
def test_a_file_over_xml_max_bytes_is_a_413(
    form: str, api: APIClient, settings: Any, document_counts: Callable[[], dict[str, int]]
) -> None:
    settings.XML_MAX_BYTES = 4096
    before = document_counts()
    content = sample("base-example.xml")  # 9228 bytes
    response = upload(api, content) if form == "multipart" else raw(api, content)
    assert response.status_code == 413, response.content
    assert response.json()["error"]["message"] == UPLOAD_TOO_LARGE.format(limit=4096, setting="XML_MAX_BYTES")
    assert document_counts() == before


# --- delivery: forms, re-imports, idempotency, vendors --------------------------------------


@pytest.mark.parametrize("content_type", ["application/xml", "text/xml"])
def test_a_raw_xml_body_works_like_an_upload(content_type: str, api: APIClient, tenant: Tenant) -> None:
    response = raw(api, sample("ubl-tc434-example4.xml"), content_type)
    assert response.status_code == 201, response.content
    assert Invoice.objects.for_tenant(tenant).get().invoice_number == "TOSL110"


def test_re_importing_the_same_file_answers_the_stored_invoice(api: APIClient, tenant: Tenant) -> None:
    first = upload(api, sample("base-example.xml"))
    again = raw(api, sample("base-example.xml"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Invoice.objects.for_tenant(tenant).count() == 1
    assert AuditEvent.objects.for_tenant(tenant).filter(entity_type="invoice", action="created").count() == 1


def test_an_idempotency_key_replays_the_same_file(api: APIClient, tenant: Tenant) -> None:
    content = sample("ubl-tc434-example2.xml")
    first = upload(api, content, HTTP_IDEMPOTENCY_KEY="ubl-17")
    again = upload(api, content, HTTP_IDEMPOTENCY_KEY="ubl-17")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert upload(api, content + b"\n", HTTP_IDEMPOTENCY_KEY="ubl-17").status_code == 422
    assert Invoice.objects.for_tenant(tenant).count() == 1


def test_the_vendor_is_resolved_by_its_vat_id(api: APIClient, tenant: Tenant) -> None:
    vendor = VendorFactory(tenant=tenant, name="Salescompany Norge", tax_id="NO123456789MVA")
    body = imported(api, "ubl-tc434-example2.xml")
    assert body["vendor_id"] == str(vendor.pk)
    assert body["vendor_name"] == "Salescompany Norge"


def test_another_tenants_vendor_and_invoices_are_invisible(
    api: APIClient, foreign_api: APIClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    """Tenant B importing the files tenant A imported resolves nothing of A's and credits nothing of A's."""
    vendor_a: Vendor = VendorFactory(tenant=tenant, name="Supplier Official", tax_id="GB1232434")
    invoice_a = imported(api, "base-example.xml")
    assert invoice_a["vendor_id"] == str(vendor_a.pk)

    invoice_b = imported(foreign_api, "base-example.xml")  # 201, not A's invoice as "already present"
    assert invoice_b["id"] != invoice_a["id"] and invoice_b["vendor_id"] is None
    credit_b = imported(foreign_api, "base-creditnote-correction.xml")
    assert credit_b["credited_invoice_id"] == invoice_b["id"]
    for response in (invoice_b, credit_b):
        assert str(vendor_a.pk) not in str(response) and invoice_a["id"] not in str(response)
    assert Invoice.objects.for_tenant(tenant).get(pk=invoice_a["id"]).status == InvoiceStatus.RECEIVED
    assert Invoice.objects.for_tenant(other_tenant).get(pk=invoice_b["id"]).status == InvoiceStatus.VOID


def test_the_schema_describes_both_ways_of_sending_the_file() -> None:
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"]["/api/invoices/import/xml"]["post"]
    assert set(operation["requestBody"]["content"]) == {"multipart/form-data", "application/xml", "application/pdf"}
    assert {"200", "201"} <= set(operation["responses"])


def test_an_amount_in_other_than_ascii_digits_is_refused_by_element_and_nothing_is_stored(
    api: APIClient, tenant: Tenant
) -> None:
    """xsd:decimal is ASCII; Decimal() would read "١٦٥٦.٢٥" as 1656.25, and once did."""
    content = sample("base-example.xml")
    payable = b'<cbc:PayableAmount currencyID="EUR">1656.25</cbc:PayableAmount>'
    assert payable in content
    arabic = "١٦٥٦.٢٥".encode()
    response = upload(api, content.replace(payable, payable.replace(b"1656.25", arabic)))
    assert response.status_code == 400, response.content
    assert response.json()["error"]["details"] == {
        "cac:LegalMonetaryTotal/cbc:PayableAmount": [xml_reading.NOT_A_DECIMAL.format(value="١٦٥٦.٢٥")]
    }
    assert not Invoice.objects.for_tenant(tenant).exists()
