"""UN/CEFACT Cross Industry Invoice (CII D16B) invoices and credit notes in: EN 16931 in its second
syntax, as XRechnung CII and Factur-X / ZUGFeRD 2.x (EN 16931, BASIC, EXTENDED) send it.

The file is parsed safely, and its totals and signs become Recon's, as every e-invoice's do:
invoices.ingest.xml_reading. The door that detects CII among the other e-invoices (and pulls it
out of a Factur-X PDF) is invoices.ingest.e_invoices.

What is read (paths under rsm:CrossIndustryInvoice; `…Agreement` is
rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement, `…Settlement` its
ram:ApplicableHeaderTradeSettlement)
------------------------------------------------------------------------------------------------
header  rsm:ExchangedDocument/ram:ID (BT-1) · ram:TypeCode (BT-3: the credit note codes of
        UNTDID 1001 make a credit note, 381 among them; 380, 384 (corrected), 389 … an invoice) ·
        ram:IssueDateTime/udt:DateTimeString format 102, YYYYMMDD (BT-2) ·
        …Settlement/ram:InvoiceCurrencyCode (BT-5) ·
        …Settlement/ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime (BT-9) ·
        …Agreement/ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID as the PO number (BT-13) ·
        a credit note's (or a negative invoice's) …Settlement/ram:InvoiceReferencedDocument/
        ram:IssuerAssignedID (BT-25, the first one) as the invoice it credits
vendor  …Agreement/ram:SellerTradeParty: ram:Name (BT-27); ram:SpecifiedTaxRegistration/ram:ID,
        the VAT id (schemeID VA, BT-31) before the tax number (FC, BT-32)
lines   ram:IncludedSupplyChainTradeLineItem: AssociatedDocumentLineDocument/LineID as the line
        number (as UBL's, when every one is a distinct whole number); SpecifiedLineTradeDelivery/
        BilledQuantity and its unitCode (BT-129, BT-130); SpecifiedLineTradeAgreement/
        NetPriceProductTradePrice/ChargeAmount ÷ its BasisQuantity (BT-146 ÷ BT-149) as the unit
        price; SpecifiedLineTradeSettlement/SpecifiedTradeSettlementLineMonetarySummation/
        LineTotalAmount (BT-131) as the line amount, as stated; SpecifiedTradeProduct/Name, with
        " — " its Description when that says more; SpecifiedTradeProduct/SellerAssignedID as SKU;
        SpecifiedLineTradeAgreement/BuyerOrderReferencedDocument/LineID (BT-132) as the PO line
        hint; SpecifiedLineTradeSettlement/ApplicableTradeTax/RateApplicablePercent (BT-152)
terms   …Settlement/ram:SpecifiedTradePaymentTerms: ram:Description (BT-20, several joined by
        "; "); the early-payment discount of the first that states one,
        ram:ApplicableTradePaymentDiscountTerms: CalculationPercent, ActualDiscountAmount,
        BasisPeriodMeasure (days after the invoice date); what is missing comes from the vendor's
        terms (invoices.terms)
payee   the first …Settlement/ram:SpecifiedTradeSettlementPaymentMeans/
        ram:PayeePartyCreditorFinancialAccount: IBANID, else ProprietaryID (BT-84), kept encrypted
        and masked
totals  …Settlement/ram:SpecifiedTradeSettlementHeaderMonetarySummation: DuePayableAmount
        (BT-115), GrandTotalAmount (BT-112), TotalPrepaidAmount (BT-113), RoundingAmount (BT-114),
        AllowanceTotalAmount (BT-107), ChargeTotalAmount (BT-108), TaxTotalAmount in the invoice
        currency (BT-110; the one in the VAT accounting currency, BT-111, is ignored; none at all,
        as under VAT category O, is 0); the document-level …Settlement/
        ram:SpecifiedTradeAllowanceCharge elements
The Factur-X MINIMUM and BASIC WL profiles carry no lines: Recon needs lines to match an invoice
against its purchase order, so such a document is refused, saying so.
"""

from __future__ import annotations

import dataclasses
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

CII_NAMESPACE = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
ROOT = f"{{{CII_NAMESPACE}}}CrossIndustryInvoice"
NAMESPACES = {
    "rsm": CII_NAMESPACE,
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
# UNTDID 1001 codes of credit notes (EN 16931 code list for BT-3, as Peppol BIS lists them for
# CreditNoteTypeCode); every other code bills.
CREDIT_NOTE_TYPE_CODES = frozenset({"81", "83", "261", "262", "296", "308", "381", "396", "420", "458", "532"})

NOT_A_DATE = "{value!r} is not a date of format 102 (YYYYMMDD)."
DATE_FORMAT_UNSUPPORTED = "Date format {format!r} is not read; a date here is format 102 (YYYYMMDD)."
NO_LINES = (
    "The document has no line items (ram:IncludedSupplyChainTradeLineItem). Recon matches each line "
    "against the purchase order, so it needs them: send the EN 16931, BASIC or EXTENDED profile, not "
    "MINIMUM or BASIC WL."
)

_DATE_102 = re.compile(r"^(\d{4})(\d{2})(\d{2})$", re.ASCII)
_TRANSACTION = "rsm:SupplyChainTradeTransaction"
_AGREEMENT = f"{_TRANSACTION}/ram:ApplicableHeaderTradeAgreement"
_SETTLEMENT = f"{_TRANSACTION}/ram:ApplicableHeaderTradeSettlement"
_SUMMATION = f"{_SETTLEMENT}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
_LINE = f"{_TRANSACTION}/ram:IncludedSupplyChainTradeLineItem"
_TAX_SCHEMES_PREFERRED = ("VA", "FC")  # the VAT id (BT-31), then the tax number (BT-32)


def cii_parse(root: Any) -> InvoiceDocument:
    """The normalized document of a CII invoice or credit note (`root` is `ROOT`);
    `XmlImportInvalid`, with every problem by element, when it cannot be read."""
    return _CiiReader(root).document()


def _return_sign_on_quantity(line: LineFacts) -> LineFacts:
    """A returned item stated with a positive quantity beside a negative line amount of exactly
    quantity × unit price, negated, is read with the quantity negated.

    The EN 16931 CII example 1 states its return line so (line 20, "FRITUUR VET 10 KG RETOUR":
    BilledQuantity 6, LineTotalAmount −109.98 = −6 × 18.33); a UBL file says the same with a
    negative InvoicedQuantity. Only this exact case is read so: any other disagreement of signs is
    left for the door to refuse (invoices.services.LINE_AMOUNT_SIGN).
    """
    if (
        line.quantity > 0
        and line.unit_price > 0
        and line.amount < 0
        and line.amount == -line.quantity * line.unit_price
    ):
        return dataclasses.replace(line, quantity=-line.quantity)
    return line


class _CiiReader(ElementReader):
    """Reads one CII document, collecting every problem by element before it gives up."""

    syntax = "CII"

    def __init__(self, root: Any) -> None:
        super().__init__(root, NAMESPACES)

    def date(self, element: Any, path: str, where: str, *, required: bool = False) -> dt.date | None:
        """A udt:DateTimeString under `path`: format 102, the one EN 16931 uses for dates."""
        found = element.find(f"{path}/udt:DateTimeString", NAMESPACES) if element is not None else None
        value = (found.text or "").strip() if found is not None else ""
        if not value:
            if required:
                self.error(where, REQUIRED)
            return None
        date_format = (found.get("format") or "102").strip()
        if date_format != "102":
            self.error(where, DATE_FORMAT_UNSUPPORTED.format(format=date_format))
            return None
        match = _DATE_102.match(value)
        try:
            if match is None:
                raise ValueError(value)
            return dt.date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            self.error(where, NOT_A_DATE.format(value=value))
            return None

    def document(self) -> InvoiceDocument:
        root = self.root
        currency_path = f"{_SETTLEMENT}/ram:InvoiceCurrencyCode"
        self.currency = self.required(root, currency_path, currency_path).upper()
        number_path = "rsm:ExchangedDocument/ram:ID"
        number = self.bounded(self.required(root, number_path, number_path), number_path, Invoice, "invoice_number")
        type_code = self.text(root, "rsm:ExchangedDocument/ram:TypeCode")
        issue_path = "rsm:ExchangedDocument/ram:IssueDateTime"
        due_path = f"{_SETTLEMENT}/ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime"
        po_path = f"{_AGREEMENT}/ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID"
        credited_path = f"{_SETTLEMENT}/ram:InvoiceReferencedDocument/ram:IssuerAssignedID"
        header = HeaderFacts(
            number=number,
            currency=self.currency,
            issue_date=self.date(root, issue_path, issue_path, required=True),
            due_date=self.date(root, due_path, due_path),
            type_code=type_code,
            is_credit_note=type_code in CREDIT_NOTE_TYPE_CODES,
            vendor_name="",
            vendor_tax_id="",
            po_number=self.bounded(self.text(root, po_path), po_path, Invoice, "po_number"),
            credited_number=self.bounded(
                self.text(root, credited_path), credited_path, Invoice, "credited_invoice_number"
            ),
        )
        header.vendor_name, header.vendor_tax_id = self.seller()
        self.payment_terms(header)
        lines = self.lines()
        summation = root.find(_SUMMATION, NAMESPACES)
        if summation is None:
            self.error(_SUMMATION, REQUIRED)
        totals = TotalsFacts(
            amount_due=self.amount(
                summation, "ram:DuePayableAmount", f"{_SUMMATION}/ram:DuePayableAmount", required=True
            ),
            total_with_tax=self.amount(
                summation, "ram:GrandTotalAmount", f"{_SUMMATION}/ram:GrandTotalAmount", required=True
            ),
            prepaid=self.amount(summation, "ram:TotalPrepaidAmount", f"{_SUMMATION}/ram:TotalPrepaidAmount"),
            rounding=self.amount(summation, "ram:RoundingAmount", f"{_SUMMATION}/ram:RoundingAmount"),
            allowance_total=self.amount(
                summation, "ram:AllowanceTotalAmount", f"{_SUMMATION}/ram:AllowanceTotalAmount"
            ),
            charge_total=self.amount(summation, "ram:ChargeTotalAmount", f"{_SUMMATION}/ram:ChargeTotalAmount"),
            tax=self.tax(summation),
        )
        self.document_allowances_and_charges(totals)
        self.raise_if_invalid()
        return invoice_document_of(header=header, lines=lines, totals=totals)

    def payment_terms(self, header: HeaderFacts) -> None:
        """…Settlement/ram:SpecifiedTradePaymentTerms (descriptions joined; the discount of the
        first that states one) and the first payee account of the payment means."""
        notes = []
        terms_path = f"{_SETTLEMENT}/ram:SpecifiedTradePaymentTerms"
        for position, terms in enumerate(self.root.findall(terms_path, NAMESPACES), start=1):
            notes += [" ".join((note.text or "").split()) for note in terms.findall("ram:Description", NAMESPACES)]
            discount = terms.find("ram:ApplicableTradePaymentDiscountTerms", NAMESPACES)
            if discount is None or header.discount_pct is not None or header.discount_amount is not None:
                continue
            where = f"{terms_path}[{position}]/ram:ApplicableTradePaymentDiscountTerms"
            header.discount_pct = self.decimal(discount, "ram:CalculationPercent", f"{where}/ram:CalculationPercent")
            header.discount_amount = self.amount(
                discount, "ram:ActualDiscountAmount", f"{where}/ram:ActualDiscountAmount"
            )
            header.discount_days = self.days(discount, "ram:BasisPeriodMeasure", f"{where}/ram:BasisPeriodMeasure")
        header.payment_terms_note = "; ".join(note for note in notes if note)
        means_path = f"{_SETTLEMENT}/ram:SpecifiedTradeSettlementPaymentMeans/ram:PayeePartyCreditorFinancialAccount"
        for account in self.root.findall(means_path, NAMESPACES):
            number = self.text(account, "ram:IBANID") or self.text(account, "ram:ProprietaryID")
            if number:
                header.payee_account = number
                break

    def seller(self) -> tuple[str, str]:
        where = f"{_AGREEMENT}/ram:SellerTradeParty"
        party = self.root.find(where, NAMESPACES)
        if party is None:
            self.error(where, REQUIRED)
            return "", ""
        name = self.text(party, "ram:Name")
        registrations = {
            (element.get("schemeID") or "").strip().upper(): (element.text or "").strip()
            for element in reversed(party.findall("ram:SpecifiedTaxRegistration/ram:ID", NAMESPACES))
        }
        tax_id = next(
            (registrations[scheme] for scheme in _TAX_SCHEMES_PREFERRED if registrations.get(scheme)),
            next((value for value in registrations.values() if value), ""),
        )
        self.bounded(name, f"{where}/ram:Name", Invoice, "vendor_name_raw")
        self.bounded(tax_id, f"{where}/ram:SpecifiedTaxRegistration/ram:ID", Invoice, "vendor_tax_id_raw")
        return name, tax_id

    def lines(self) -> list[LineFacts]:
        elements = self.root.findall(_LINE, NAMESPACES)
        if not elements:
            self.error(_LINE, NO_LINES)
        lines = []
        for position, element in enumerate(elements, start=1):
            where = f"{_LINE}[{position}]"
            quantity_path = "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity"
            quantity_element = element.find(quantity_path, NAMESPACES)
            price_path = "ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice"
            amount_path = (
                "ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount"
            )
            line = self.line_facts(
                line_id=self.text(element, "ram:AssociatedDocumentLineDocument/ram:LineID"),
                quantity=self.decimal(element, quantity_path, f"{where}/{quantity_path}", required=True),
                unit_code=(quantity_element.get("unitCode") or "").strip() if quantity_element is not None else "",
                amount=self.amount(element, amount_path, f"{where}/{amount_path}", required=True),
                price=self.amount(
                    element, f"{price_path}/ram:ChargeAmount", f"{where}/{price_path}/ram:ChargeAmount", required=True
                ),
                base=self.decimal(
                    element, f"{price_path}/ram:BasisQuantity", f"{where}/{price_path}/ram:BasisQuantity"
                ),
                base_where=f"{where}/{price_path}/ram:BasisQuantity",
                name=self.text(element, "ram:SpecifiedTradeProduct/ram:Name"),
                name_where=f"{where}/ram:SpecifiedTradeProduct/ram:Name",
                detail=self.text(element, "ram:SpecifiedTradeProduct/ram:Description"),
                sku=self.text(element, "ram:SpecifiedTradeProduct/ram:SellerAssignedID"),
                sku_where=f"{where}/ram:SpecifiedTradeProduct/ram:SellerAssignedID",
                po_line_hint=self.text(
                    element, "ram:SpecifiedLineTradeAgreement/ram:BuyerOrderReferencedDocument/ram:LineID"
                ),
                tax_percent=self.decimal(
                    element,
                    "ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:RateApplicablePercent",
                    f"{where}/ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:RateApplicablePercent",
                ),
            )
            if line is not None:
                lines.append(_return_sign_on_quantity(line))
        return lines

    def tax(self, summation: Any) -> Decimal:
        """TaxTotalAmount in the invoice currency (one without a currencyID counts as that)."""
        if summation is None:
            return Decimal(0)
        tax_totals = summation.findall("ram:TaxTotalAmount", NAMESPACES)
        for position, found in enumerate(tax_totals, start=1):
            currency = (found.get("currencyID") or "").strip().upper()
            if currency in ("", self.currency):
                where = f"{_SUMMATION}/ram:TaxTotalAmount[{position}]"
                return self.decimal(summation, f"ram:TaxTotalAmount[{position}]", where, required=True) or Decimal(0)
        if tax_totals:
            self.error(f"{_SUMMATION}/ram:TaxTotalAmount", NO_TAX_IN_CURRENCY.format(currency=self.currency))
        return Decimal(0)

    def document_allowances_and_charges(self, totals: TotalsFacts) -> None:
        """The document-level allowances and charges: their sums, the allowances' reasons, the rates."""
        for position, element in enumerate(
            self.root.findall(f"{_SETTLEMENT}/ram:SpecifiedTradeAllowanceCharge", NAMESPACES), start=1
        ):
            where = f"{_SETTLEMENT}/ram:SpecifiedTradeAllowanceCharge[{position}]"
            is_charge = self.indicator(element, "ram:ChargeIndicator/udt:Indicator", f"{where}/ram:ChargeIndicator")
            if is_charge is None:
                continue
            amount = self.amount(element, "ram:ActualAmount", f"{where}/ram:ActualAmount", required=True) or Decimal(0)
            totals.adjustment_rates.add(
                self.decimal(
                    element,
                    "ram:CategoryTradeTax/ram:RateApplicablePercent",
                    f"{where}/ram:CategoryTradeTax/ram:RateApplicablePercent",
                )
            )
            if is_charge:
                totals.charges += amount
            else:
                totals.allowances += amount
                reason = self.text(element, "ram:Reason") or self.text(element, "ram:ReasonCode")
                if reason and reason not in totals.allowance_reasons:
                    totals.allowance_reasons.append(reason)
