"""UBL 2.1 invoices and credit notes (Peppol BIS Billing 3.0 and plain EN 16931) in.

The file is parsed safely, and its totals and signs become Recon's, as every e-invoice's do:
invoices.ingest.xml_reading. The door that detects UBL among the other e-invoices is
invoices.ingest.e_invoices.

What is read
------------
Root `{…:Invoice-2}Invoice` or `{…:CreditNote-2}CreditNote`.

header  number cbc:ID · cbc:IssueDate · cbc:DueDate, else PaymentMeans/PaymentDueDate, else
        PaymentTerms/PaymentDueDate ·
        cbc:InvoiceTypeCode / cbc:CreditNoteTypeCode (kept in the creation audit event) ·
        cbc:DocumentCurrencyCode · OrderReference/ID as the PO number ("NA", which Peppol
        prescribes when there is only a sales order, means none) · cbc:UUID as external id ·
        a credit note's (or a negative invoice's) BillingReference/InvoiceDocumentReference/ID
        (the first one) as the invoice it credits
vendor  AccountingSupplierParty/Party: PartyName/Name, else PartyLegalEntity/RegistrationName;
        PartyTaxScheme/CompanyID as VAT id (the one whose TaxScheme is VAT when there are several)
lines   InvoiceLine / CreditNoteLine: cbc:ID as the line number when every line's ID is a distinct
        whole number (else lines are numbered in order); InvoicedQuantity / CreditedQuantity and
        its unitCode; Price/PriceAmount ÷ Price/BaseQuantity as the unit price (rounded half-up to
        the 6 places a unit price has, only when that division does not come out exact);
        LineExtensionAmount as the line amount, exactly as stated (it already includes line-level
        allowances and charges); Item/Name, with " — " Item/Description after it when that says
        more (cut to fit the column); Item/SellersItemIdentification/ID as SKU;
        OrderLineReference/LineID as the PO line hint when it is a whole number
tax     TaxTotal/TaxAmount in the document currency (Peppol adds a second TaxTotal in the tax
        currency, which is ignored); the rate (`tax_rate`) only when every line states the same
        ClassifiedTaxCategory/Percent and the document-level allowances and charges agree
terms   cac:PaymentTerms: cbc:Note (BT-20, several joined by "; "); the early-payment discount
        of the first that states one: cbc:SettlementDiscountPercent, cbc:SettlementDiscountAmount,
        cac:SettlementPeriod/cbc:EndDate (its last day) or cbc:DurationMeasure (days after the
        invoice date); what is missing comes from the vendor's terms (invoices.terms)
payee   the first cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID (BT-84), kept encrypted and masked
totals  LegalMonetaryTotal: PayableAmount (BT-115), TaxInclusiveAmount (BT-112), PrepaidAmount
        (BT-113), PayableRoundingAmount (BT-114), AllowanceTotalAmount (BT-107),
        ChargeTotalAmount (BT-108); the document-level AllowanceCharge elements
The kind comes from the root element (its type code: Invoice 380, CreditNote 381); a negative
invoice (base-negative-inv-correction.xml, which Peppol BIS 3 allows) is stored as a credit note.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from invoices.documents import InvoiceDocument
from invoices.ingest.xml_reading import (
    NO_TAX_IN_CURRENCY,
    REQUIRED,
    ElementReader,
    HeaderFacts,
    LineFacts,
    TotalsFacts,
    invoice_document_of,
)
from invoices.models import Invoice

INVOICE_NAMESPACE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NAMESPACE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
INVOICE_ROOT = f"{{{INVOICE_NAMESPACE}}}Invoice"
CREDIT_NOTE_ROOT = f"{{{CREDIT_NOTE_NAMESPACE}}}CreditNote"
ROOTS = (INVOICE_ROOT, CREDIT_NOTE_ROOT)
NAMESPACES = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}

NOT_A_DATE = "{value!r} is not a date (YYYY-MM-DD)."

# `re.ASCII`: xsd:date is ASCII digits.
_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(Z|[+-]\d{2}:\d{2})?$", re.ASCII)  # xsd:date, with its optional zone


def ubl_parse(root: Any) -> InvoiceDocument:
    """The normalized document of a UBL invoice or credit note (`root` is one of `ROOTS`);
    `XmlImportInvalid`, with every problem by element, when it cannot be read."""
    return _UblReader(root).document()


class _UblReader(ElementReader):
    """Reads one UBL document, collecting every problem by element before it gives up."""

    syntax = "UBL"

    def __init__(self, root: Any) -> None:
        super().__init__(root, NAMESPACES)
        self.is_credit_note = root.tag == CREDIT_NOTE_ROOT

    def date(self, element: Any, path: str, where: str, *, required: bool = False) -> dt.date | None:
        value = self.text(element, path)
        if not value:
            if required:
                self.error(where, REQUIRED)
            return None
        match = _DATE.match(value)
        try:
            if match is None:
                raise ValueError(value)
            return dt.date.fromisoformat(match.group(1))
        except ValueError:
            self.error(where, NOT_A_DATE.format(value=value))
            return None

    def document(self) -> InvoiceDocument:
        root = self.root
        self.currency = self.required(root, "cbc:DocumentCurrencyCode", "cbc:DocumentCurrencyCode").upper()
        number = self.bounded(self.required(root, "cbc:ID", "cbc:ID"), "cbc:ID", Invoice, "invoice_number")
        issue_date = self.date(root, "cbc:IssueDate", "cbc:IssueDate", required=True)
        due_date = self.date(root, "cbc:DueDate", "cbc:DueDate") or self.date(
            root, "cac:PaymentMeans/cbc:PaymentDueDate", "cac:PaymentMeans/cbc:PaymentDueDate"
        )
        po_number = self.text(root, "cac:OrderReference/cbc:ID")
        if po_number.upper() == "NA":
            po_number = ""  # Peppol BIS: "NA" when the buyer's order is unknown and only a sales order is
        self.bounded(po_number, "cac:OrderReference/cbc:ID", Invoice, "po_number")
        credited_number = self.text(root, "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID")
        self.bounded(credited_number, "cac:BillingReference", Invoice, "credited_invoice_number")
        external_id = self.bounded(self.text(root, "cbc:UUID"), "cbc:UUID", Invoice, "external_id")
        type_code = self.text(root, "cbc:CreditNoteTypeCode" if self.is_credit_note else "cbc:InvoiceTypeCode")
        vendor_name, vendor_tax_id = self.supplier()
        header = HeaderFacts(
            number=number,
            currency=self.currency,
            issue_date=issue_date,
            due_date=due_date,
            type_code=type_code,
            is_credit_note=self.is_credit_note,
            vendor_name=vendor_name,
            vendor_tax_id=vendor_tax_id,
            po_number=po_number,
            credited_number=credited_number,
            external_id=external_id,
        )
        self.payment_terms(header)
        lines = self.lines()
        tax = self.tax()
        where = "cac:LegalMonetaryTotal"
        monetary = root.find(where, NAMESPACES)
        if monetary is None:
            self.error(where, REQUIRED)
        totals = TotalsFacts(
            amount_due=self.amount(monetary, "cbc:PayableAmount", f"{where}/cbc:PayableAmount", required=True),
            total_with_tax=self.amount(monetary, "cbc:TaxInclusiveAmount", f"{where}/cbc:TaxInclusiveAmount"),
            prepaid=self.amount(monetary, "cbc:PrepaidAmount", f"{where}/cbc:PrepaidAmount"),
            rounding=self.amount(monetary, "cbc:PayableRoundingAmount", f"{where}/cbc:PayableRoundingAmount"),
            allowance_total=self.amount(monetary, "cbc:AllowanceTotalAmount", f"{where}/cbc:AllowanceTotalAmount"),
            charge_total=self.amount(monetary, "cbc:ChargeTotalAmount", f"{where}/cbc:ChargeTotalAmount"),
            tax=tax,
        )
        self.document_allowances_and_charges(totals)
        self.raise_if_invalid()
        return invoice_document_of(header=header, lines=lines, totals=totals)

    def payment_terms(self, header: HeaderFacts) -> None:
        """cac:PaymentTerms (notes joined; the discount of the first that states one) and the first
        cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID."""
        notes = []
        for position, terms in enumerate(self.root.findall("cac:PaymentTerms", NAMESPACES), start=1):
            where = f"cac:PaymentTerms[{position}]"
            notes += [" ".join((note.text or "").split()) for note in terms.findall("cbc:Note", NAMESPACES)]
            header.due_date = header.due_date or self.date(terms, "cbc:PaymentDueDate", f"{where}/cbc:PaymentDueDate")
            pct = self.decimal(terms, "cbc:SettlementDiscountPercent", f"{where}/cbc:SettlementDiscountPercent")
            amount = self.amount(terms, "cbc:SettlementDiscountAmount", f"{where}/cbc:SettlementDiscountAmount")
            if header.discount_pct is None and header.discount_amount is None and (pct or amount):
                header.discount_pct, header.discount_amount = pct, amount
                period = f"{where}/cac:SettlementPeriod"
                header.discount_due_date = self.date(terms, "cac:SettlementPeriod/cbc:EndDate", f"{period}/cbc:EndDate")
                header.discount_days = self.days(
                    terms, "cac:SettlementPeriod/cbc:DurationMeasure", f"{period}/cbc:DurationMeasure"
                )
        header.payment_terms_note = "; ".join(note for note in notes if note)
        for means in self.root.findall("cac:PaymentMeans", NAMESPACES):
            account = self.text(means, "cac:PayeeFinancialAccount/cbc:ID")
            if account:
                header.payee_account = account
                break

    def supplier(self) -> tuple[str, str]:
        where = "cac:AccountingSupplierParty/cac:Party"
        party = self.root.find(where, NAMESPACES)
        if party is None:
            self.error(where, REQUIRED)
            return "", ""
        name = self.text(party, "cac:PartyName/cbc:Name") or self.text(
            party, "cac:PartyLegalEntity/cbc:RegistrationName"
        )
        tax_id = ""
        for scheme in party.findall("cac:PartyTaxScheme", NAMESPACES):
            company_id = self.text(scheme, "cbc:CompanyID")
            if company_id and (not tax_id or self.text(scheme, "cac:TaxScheme/cbc:ID").upper() == "VAT"):
                tax_id = company_id
        self.bounded(name, f"{where}/cac:PartyName", Invoice, "vendor_name_raw")
        self.bounded(tax_id, f"{where}/cac:PartyTaxScheme/cbc:CompanyID", Invoice, "vendor_tax_id_raw")
        return name, tax_id

    def lines(self) -> list[LineFacts]:
        tag, quantity_tag = (
            ("cac:CreditNoteLine", "cbc:CreditedQuantity")
            if self.is_credit_note
            else ("cac:InvoiceLine", "cbc:InvoicedQuantity")
        )
        elements = self.root.findall(tag, NAMESPACES)
        if not elements:
            self.error(tag, REQUIRED)
        lines = []
        for position, element in enumerate(elements, start=1):
            where = f"{tag}[{position}]"
            quantity_element = element.find(quantity_tag, NAMESPACES)
            line = self.line_facts(
                line_id=self.text(element, "cbc:ID"),
                quantity=self.decimal(element, quantity_tag, f"{where}/{quantity_tag}", required=True),
                unit_code=(quantity_element.get("unitCode") or "").strip() if quantity_element is not None else "",
                amount=self.amount(
                    element, "cbc:LineExtensionAmount", f"{where}/cbc:LineExtensionAmount", required=True
                ),
                price=self.amount(
                    element, "cac:Price/cbc:PriceAmount", f"{where}/cac:Price/cbc:PriceAmount", required=True
                ),
                base=self.decimal(element, "cac:Price/cbc:BaseQuantity", f"{where}/cac:Price/cbc:BaseQuantity"),
                base_where=f"{where}/cac:Price/cbc:BaseQuantity",
                name=self.text(element, "cac:Item/cbc:Name"),
                name_where=f"{where}/cac:Item/cbc:Name",
                detail=self.text(element, "cac:Item/cbc:Description"),
                sku=self.text(element, "cac:Item/cac:SellersItemIdentification/cbc:ID"),
                sku_where=f"{where}/cac:Item/cac:SellersItemIdentification/cbc:ID",
                po_line_hint=self.text(element, "cac:OrderLineReference/cbc:LineID"),
                tax_percent=self.decimal(
                    element,
                    "cac:Item/cac:ClassifiedTaxCategory/cbc:Percent",
                    f"{where}/cac:Item/cac:ClassifiedTaxCategory/cbc:Percent",
                ),
            )
            if line is not None:
                lines.append(line)
        return lines

    def tax(self) -> Decimal:
        """The TaxTotal in the document currency (one without a currencyID counts as that)."""
        tax_totals = self.root.findall("cac:TaxTotal", NAMESPACES)
        for position, tax_total in enumerate(tax_totals, start=1):
            found = tax_total.find("cbc:TaxAmount", NAMESPACES)
            if found is None:
                continue
            currency = (found.get("currencyID") or "").strip().upper()
            if currency in ("", self.currency):
                where = f"cac:TaxTotal[{position}]/cbc:TaxAmount"
                return self.decimal(tax_total, "cbc:TaxAmount", where, required=True) or Decimal(0)
        if tax_totals:
            self.error("cac:TaxTotal", NO_TAX_IN_CURRENCY.format(currency=self.currency))
        return Decimal(0)

    def document_allowances_and_charges(self, totals: TotalsFacts) -> None:
        """The document-level allowances and charges: their sums, the allowances' reasons, the rates."""
        for position, element in enumerate(self.root.findall("cac:AllowanceCharge", NAMESPACES), start=1):
            where = f"cac:AllowanceCharge[{position}]"
            is_charge = self.indicator(element, "cbc:ChargeIndicator", f"{where}/cbc:ChargeIndicator")
            if is_charge is None:
                continue
            amount = self.amount(element, "cbc:Amount", f"{where}/cbc:Amount", required=True) or Decimal(0)
            totals.adjustment_rates.add(
                self.decimal(element, "cac:TaxCategory/cbc:Percent", f"{where}/cac:TaxCategory/cbc:Percent")
            )
            if is_charge:
                totals.charges += amount
            else:
                totals.allowances += amount
                reason = self.text(element, "cbc:AllowanceChargeReason") or self.text(
                    element, "cbc:AllowanceChargeReasonCode"
                )
                if reason and reason not in totals.allowance_reasons:
                    totals.allowance_reasons.append(reason)
