"""UN/CEFACT CII D16B e-invoices through the same door as UBL: `POST /api/invoices/import/xml`.

The real files under testdata/cii/ (see its README; their facts are the project's shared
SOURCES.md) are imported as they are published. Each expected value is the file's own: the
number, TypeCode, currency, line count, TaxTotalAmount, GrandTotalAmount, TotalPrepaidAmount and
DuePayableAmount of SOURCES.md's table; the subtotal is Σ LineTotalAmount, shipping the
document-level charges less allowances. Amounts in minor units.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from invoices.ingest import cii, e_invoices, xml_reading
from invoices.models import Invoice, InvoiceSource, InvoiceStatus
from source_files.models import SourceFile
from tenants.models import Tenant
from tests.factories import VendorFactory

CII = Path(__file__).resolve().parent / "testdata" / "cii"
IMPORT = "/api/invoices/import/xml"


@pytest.fixture(autouse=True)
def _no_matching_tasks(settings: Any) -> None:
    settings.MATCH_ON_INGEST = False


def upload(client: APIClient, content: bytes, *, name: str = "invoice.xml", query: str = "") -> Any:
    handle = io.BytesIO(content)
    handle.name = name
    return client.post(IMPORT + query, {"file": handle}, format="multipart")


def sample(name: str) -> bytes:
    return (CII / name).read_bytes()


def imported(client: APIClient, name: str, status: int = 201) -> dict[str, Any]:
    response = upload(client, sample(name), name=name)
    assert response.status_code == status, response.content
    return response.json()


# file → (kind, TypeCode, number, currency, lines, (subtotal, tax, shipping, total, prepaid, due),
#         tax rate, PO number (BT-13), vendor name, vendor tax id)
EXAMPLES = {
    # 20 lines at 6 % and 21 %; 229.60 + 20.73 = 250.33 due.
    "CII_example1.xml": (
        "invoice", "380", "12115118", "EUR", 20, (22960, 2073, 0, 25033, 0, 25033), None, "",
        "De Koksmaat", "NL8200.98.395.B.01",
    ),
    # The CII twin of ubl-tc434-example2: 1436.50 + 365.28 = 1801.78, of which 1000 prepaid, 801.78 due.
    "CII_example2.xml": (
        "invoice", "380", "TOSL108", "NOK", 5, (143650, 36528, 0, 180178, 100000, 80178), None, "123",
        "Salescompany ltd.", "NO123456789MVA",
    ),
    # The CII twin of ubl-tc434-example4: 4000 + 675 = 4675.
    "CII_example4.xml": (
        "invoice", "380", "TOSL110", "DKK", 3, (400000, 67500, 0, 467500, 0, 467500), None, "123",
        "SellerCompany", "DK16356706",
    ),
    # Same number and seller as example 4, another invoice: half prepaid; the EUR TaxTotalAmount ignored.
    "CII_example5.xml": (
        "invoice", "380", "TOSL110", "DKK", 3, (400000, 67500, 0, 467500, 233750, 233750), None, "PO4711",
        "SellerCompany", "NL16356706",
    ),
    # VAT category O: no TaxTotalAmount at all, no rate, no seller tax id.
    "CII_example7.xml": (
        "invoice", "380", "INVOICE_test_7", "SEK", 2, (320000, 0, 0, 320000, 0, 320000), None, "Order_9988_x",
        "The Sellercompany Incorporated", "",
    ),
    # XRechnung 3.0, TypeCode 384 (corrected invoice): an invoice; 8870 + 1685.30.
    "01.18a-INVOICE_uncefact.xml": (
        "invoice", "384", "PRG1502112", "EUR", 4, (887000, 168530, 0, 1055530, 0, 1055530), Decimal("19"), "",
        "[Seller name]", "DE123456789",
    ),
    # XRechnung reverse charge (AE, 0 %): 208 of work and a 25 charge.
    "01.21a-INVOICE_uncefact.xml": (
        "invoice", "380", "18383", "EUR", 1, (20800, 0, 2500, 23300, 0, 23300), Decimal("0"), "",
        "Mustermann GmbH", "DE152338654",
    ),
    # ZUGFeRD 2 credit note (381), amounts positive: 3 × 1.00 + 19 %.
    "testout-ZF2PushCreditNote.xml": (
        "credit_note", "381", "123", "EUR", 3, (300, 57, 0, 357, 0, 357), Decimal("19"), "",
        "Test company", "DE0815",
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_published_example_imports_with_the_files_totals(name: str, api: APIClient, tenant: Tenant) -> None:
    kind, type_code, number, currency, line_count, amounts, rate, po_number, vendor_name, tax_id = EXAMPLES[name]
    body = imported(api, name)
    invoice = Invoice.objects.for_tenant(tenant).get(pk=body["id"])
    assert (invoice.document_type, invoice.invoice_number, invoice.currency) == (kind, number, currency)
    assert (
        invoice.subtotal_amount,
        invoice.tax_amount,
        invoice.shipping_amount,
        invoice.total_amount,
        invoice.prepaid_amount,
        invoice.amount_due,
    ) == amounts
    # What matching checks: the stored header adds up, so no false `total_mismatch`.
    assert invoice.subtotal_amount + invoice.tax_amount + invoice.shipping_amount == invoice.total_amount
    assert invoice.lines.count() == line_count == len(body["lines"])
    assert invoice.tax_rate == rate
    assert invoice.po_number == po_number
    assert (invoice.vendor_name_raw, invoice.vendor_tax_id_raw) == (vendor_name, tax_id)
    assert invoice.source == InvoiceSource.XML and invoice.status == InvoiceStatus.RECEIVED
    assert body == api.get(f"/api/invoices/{invoice.pk}").json()
    # The TypeCode is kept with the document in its creation event.
    assert invoice.pk and _created_event(tenant, invoice)["type_code"] == type_code
    # The file is kept, as it arrived, and linked to the invoice.
    kept = SourceFile.objects.for_tenant(tenant).get(documents__document_id=invoice.pk)
    assert (kept.content_type, kept.filename, kept.size) == ("application/xml", name, len(sample(name)))


def _created_event(tenant: Tenant, invoice: Invoice) -> dict[str, Any]:
    from audit.models import AuditEvent

    event = AuditEvent.objects.for_tenant(tenant).get(entity_id=str(invoice.pk), action="created")
    return event.after


def test_the_cross_syntax_twins_store_the_same_totals(api: APIClient, foreign_api: APIClient) -> None:
    """CII_example2 / ubl-tc434-example2 say the same invoice in both syntaxes."""
    ubl = Path(__file__).resolve().parent / "testdata" / "ubl"
    for cii_name, ubl_name in (
        ("CII_example2.xml", "ubl-tc434-example2.xml"),
        ("CII_example4.xml", "ubl-tc434-example4.xml"),
    ):
        from_cii = imported(api, cii_name)
        from_ubl = upload(foreign_api, (ubl / ubl_name).read_bytes(), name=ubl_name).json()
        fields = (
            "invoice_number",
            "currency",
            "subtotal_amount",
            "tax_amount",
            "total_amount",
            "prepaid_amount",
            "amount_due",
        )
        assert {field: from_cii[field] for field in fields} == {field: from_ubl[field] for field in fields}
        assert [line["amount"] for line in from_cii["lines"]] == [line["amount"] for line in from_ubl["lines"]]


def test_lines_quantity_unit_price_per_base_quantity_and_po_line(api: APIClient) -> None:
    body = imported(api, "CII_example5.xml")
    assert [
        (line["line_number"], line["quantity"], line["unit_price"], line["amount"], line["sku"], line["po_line_number"])
        for line in body["lines"]
    ] == [
        (1, "1000.0000", "1.000000", "1000.00", "JB007", 1),
        (2, "100.0000", "5.000000", "500.00", "JB008", 2),
        (3, "500.0000", "5.000000", "2500.00", "JB009", None),
    ]
    assert body["lines"][0]["description"] == "Printing paper — Printing paper, 2mm"
    assert (body["invoice_date"], body["due_date"]) == ("2013-04-10", "2013-05-10")
    # CII_example2 states each net price "per" a BasisQuantity equal to the price itself (1273 per
    # 1273): read as the standard says (BT-146 ÷ BT-149), a unit price of 1, beside the line amount
    # the file states. The returned book keeps its negative quantity.
    example2 = imported(api, "CII_example2.xml")
    assert [(line["quantity"], line["unit_price"], line["amount"]) for line in example2["lines"][:2]] == [
        ("1.0000", "1.000000", "1273.00"),
        ("-1.0000", "1.000000", "-3.96"),
    ]


def test_the_seller_is_resolved_by_its_vat_id(api: APIClient, tenant: Tenant) -> None:
    vendor = VendorFactory(tenant=tenant, name="Salescompany Norge", tax_id="NO123456789MVA")
    assert imported(api, "CII_example2.xml")["vendor_id"] == str(vendor.pk)


def test_a_credit_note_credits_the_invoice_it_references(api: APIClient, tenant: Tenant) -> None:
    invoice = imported(api, "CII_example4.xml")
    credit_note = (
        minimal_cii(type_code="381", number="CN-1", reference="TOSL110")
        .replace(b"<ram:Name>Nordic Fasteners AB</ram:Name>", b"<ram:Name>SellerCompany</ram:Name>")
        .replace(b"SE556677889901", b"DK16356706")
    )
    body = upload(api, credit_note).json()
    assert (body["document_type"], body["credited_invoice_number"]) == ("credit_note", "TOSL110")
    assert body["credited_invoice_id"] == invoice["id"]
    # 125.00 of 4675.00: a partial credit, the invoice stays where it was.
    assert Invoice.objects.for_tenant(tenant).get(pk=invoice["id"]).status == InvoiceStatus.RECEIVED


def test_an_invoice_keeps_no_preceding_invoice_reference(api: APIClient) -> None:
    """01.18a (384, corrected invoice) references PRG1502168: on an invoice that is BT-25, not a credit."""
    body = imported(api, "01.18a-INVOICE_uncefact.xml")
    assert (body["credited_invoice_number"], body["credited_invoice_id"]) == ("", None)


def test_a_dry_run_answers_the_invoice_and_writes_nothing(
    api: APIClient, document_counts: Callable[[], dict[str, int]]
) -> None:
    before = document_counts()
    response = upload(api, sample("CII_example1.xml"), query="?dry_run=true")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["invoice_number"], body["total_amount"], len(body["lines"])) == ("12115118", "250.33", 20)
    assert document_counts() == before
    assert imported(api, "CII_example1.xml")["invoice_number"] == "12115118"  # and then for real: 201


def test_re_importing_the_same_file_answers_the_stored_invoice_and_keeps_one_file(
    api: APIClient, tenant: Tenant
) -> None:
    first = imported(api, "CII_example7.xml")
    again = imported(api, "CII_example7.xml", status=200)
    assert again == first
    assert SourceFile.objects.for_tenant(tenant).count() == 1


# --- what is refused -------------------------------------------------------------------------


def minimal_cii(
    *, type_code: str = "380", number: str = "C-1", reference: str = "", lines: str | None = None, prolog: str = ""
) -> bytes:
    """A small valid CII document (one line of 10 × 10.00 at 25 %) with the parts a test varies."""
    line = (
        "<ram:IncludedSupplyChainTradeLineItem><ram:AssociatedDocumentLineDocument><ram:LineID>1</ram:LineID>"
        "</ram:AssociatedDocumentLineDocument><ram:SpecifiedTradeProduct><ram:Name>Hex bolt M8</ram:Name>"
        "</ram:SpecifiedTradeProduct><ram:SpecifiedLineTradeAgreement><ram:NetPriceProductTradePrice>"
        "<ram:ChargeAmount>10.00</ram:ChargeAmount></ram:NetPriceProductTradePrice></ram:SpecifiedLineTradeAgreement>"
        "<ram:SpecifiedLineTradeDelivery><ram:BilledQuantity unitCode='C62'>10</ram:BilledQuantity>"
        "</ram:SpecifiedLineTradeDelivery><ram:SpecifiedLineTradeSettlement><ram:ApplicableTradeTax>"
        "<ram:RateApplicablePercent>25</ram:RateApplicablePercent></ram:ApplicableTradeTax>"
        "<ram:SpecifiedTradeSettlementLineMonetarySummation><ram:LineTotalAmount>100.00</ram:LineTotalAmount>"
        "</ram:SpecifiedTradeSettlementLineMonetarySummation></ram:SpecifiedLineTradeSettlement>"
        "</ram:IncludedSupplyChainTradeLineItem>"
    )
    referenced = (
        f"<ram:InvoiceReferencedDocument><ram:IssuerAssignedID>{reference}</ram:IssuerAssignedID>"
        "</ram:InvoiceReferencedDocument>"
        if reference
        else ""
    )
    return (
        f"<?xml version='1.0' encoding='UTF-8'?>{prolog}"
        "<rsm:CrossIndustryInvoice xmlns:rsm='urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100'"
        " xmlns:ram='urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100'"
        " xmlns:udt='urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100'>"
        "<rsm:ExchangedDocument>"
        f"<ram:ID>{number}</ram:ID><ram:TypeCode>{type_code}</ram:TypeCode>"
        "<ram:IssueDateTime><udt:DateTimeString format='102'>20261001</udt:DateTimeString></ram:IssueDateTime>"
        "</rsm:ExchangedDocument><rsm:SupplyChainTradeTransaction>"
        f"{line if lines is None else lines}"
        "<ram:ApplicableHeaderTradeAgreement><ram:SellerTradeParty><ram:Name>Nordic Fasteners AB</ram:Name>"
        "<ram:SpecifiedTaxRegistration><ram:ID schemeID='VA'>SE556677889901</ram:ID></ram:SpecifiedTaxRegistration>"
        "</ram:SellerTradeParty></ram:ApplicableHeaderTradeAgreement>"
        "<ram:ApplicableHeaderTradeSettlement><ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>"
        f"{referenced}<ram:SpecifiedTradeSettlementHeaderMonetarySummation>"
        "<ram:LineTotalAmount>100.00</ram:LineTotalAmount><ram:TaxBasisTotalAmount>100.00</ram:TaxBasisTotalAmount>"
        "<ram:TaxTotalAmount currencyID='EUR'>25.00</ram:TaxTotalAmount>"
        "<ram:GrandTotalAmount>125.00</ram:GrandTotalAmount><ram:DuePayableAmount>125.00</ram:DuePayableAmount>"
        "</ram:SpecifiedTradeSettlementHeaderMonetarySummation></ram:ApplicableHeaderTradeSettlement>"
        "</rsm:SupplyChainTradeTransaction></rsm:CrossIndustryInvoice>"
    ).encode()


def test_the_minimal_document_imports(api: APIClient) -> None:
    body = upload(api, minimal_cii()).json()
    assert (body["invoice_number"], body["total_amount"], body["tax_rate"]) == ("C-1", "125.00", "25.000")


def refusal(response: Any, code: str = "xml_invalid", status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code, error
    return error


def test_a_document_without_lines_says_which_profiles_have_none(
    api: APIClient, document_counts: Callable[[], dict[str, int]]
) -> None:
    before = document_counts()
    details = refusal(upload(api, minimal_cii(lines="")))["details"]
    assert details == {"rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem": [cii.NO_LINES]}
    assert document_counts() == before


def test_contradicting_totals_are_refused_by_the_door(
    api: APIClient, document_counts: Callable[[], dict[str, int]]
) -> None:
    before = document_counts()
    content = minimal_cii().replace(b"<ram:DuePayableAmount>125.00", b"<ram:DuePayableAmount>120.00")
    response = upload(api, content)
    assert response.status_code == 400, response.content
    assert "amount_due" in response.json()["error"]["details"]
    assert document_counts() == before


def test_unreadable_elements_are_listed_by_element(api: APIClient) -> None:
    content = minimal_cii().replace(b">20261001<", b">2026-10-01<").replace(b">125.00</ram:Grand", b">1,25</ram:Grand")
    details = refusal(upload(api, content))["details"]
    summation = (
        "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
        "/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
    )
    assert details == {
        "rsm:ExchangedDocument/ram:IssueDateTime": [cii.NOT_A_DATE.format(value="2026-10-01")],
        f"{summation}/ram:GrandTotalAmount": [xml_reading.NOT_A_DECIMAL.format(value="1,25")],
    }


def test_a_doctype_is_refused_unread(api: APIClient, document_counts: Callable[[], dict[str, int]]) -> None:
    before = document_counts()
    content = minimal_cii(number="&e;", prolog='<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>')
    response = upload(api, content)
    assert refusal(response)["message"] == xml_reading.XML_DOCTYPE_REFUSED
    assert b"root:" not in response.content
    assert document_counts() == before


def test_zugferd_1_and_other_roots_are_refused_by_name(api: APIClient) -> None:
    zugferd_1 = b"<rsm:CrossIndustryDocument xmlns:rsm='urn:ferd:CrossIndustryDocument:invoice:1p0'/>"
    assert refusal(upload(api, zugferd_1))["message"] == e_invoices.ZUGFERD_1
    order = b"<Order xmlns='urn:oasis:names:specification:ubl:schema:xsd:Order-2'/>"
    root = "{urn:oasis:names:specification:ubl:schema:xsd:Order-2}Order"
    assert refusal(upload(api, order))["message"] == e_invoices.NOT_AN_E_INVOICE.format(root=root)


def test_a_file_over_xml_max_bytes_is_a_413(api: APIClient, settings: Any) -> None:
    settings.XML_MAX_BYTES = 4096
    refusal(upload(api, sample("CII_example4.xml")), code="payload_too_large", status=413)
