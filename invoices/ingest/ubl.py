"""UBL 2.1 invoices and credit notes (Peppol BIS Billing 3.0 and plain EN 16931) in.

The XML is read by lxml with a hardened parser: no entity is ever expanded, nothing is loaded
from the network or the file system, comments are dropped, and libxml2's limits on huge
documents stay on. On top of that, any document with a DOCTYPE is refused outright: a UBL
document never needs one, and an internal subset is where XML bombs ("billion laughs") and
external-entity reads (`<!ENTITY e SYSTEM "file:///etc/passwd">`) are declared. The DOCTYPE is
checked as soon as the parser reaches the root element, before any of the body is read.

What is read
------------
Root `{…:Invoice-2}Invoice` or `{…:CreditNote-2}CreditNote`; anything else is refused.

header  number cbc:ID · cbc:IssueDate · cbc:DueDate, else PaymentMeans/PaymentDueDate ·
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
Amounts are `Decimal(text)` of the literal, never a float; an amount in another currency than
the document's is refused.

Totals: how the document's total stays whole
--------------------------------------------
EN 16931 defines   TaxInclusiveAmount = LineExtensionAmount − AllowanceTotalAmount
                                        + ChargeTotalAmount + TaxAmount
                   PayableAmount      = TaxInclusiveAmount − PrepaidAmount + PayableRoundingAmount
and Recon stores   total = subtotal (the sum of the lines) + tax + shipping,
which is what matching checks (`total_mismatch`). So:

- the lines are the file's lines: subtotal = LineExtensionAmount;
- tax = TaxAmount;
- total = TaxInclusiveAmount + PayableRoundingAmount: everything the document bills, including
  what was paid in advance (PayableAmount + PrepaidAmount when TaxInclusiveAmount is absent);
- prepaid = PrepaidAmount (BT-113, 0 when absent), and PayableAmount is handed to the door as the
  amount due the document states (BT-115): it must be total − prepaid (1 minor unit of rounding
  allowed) or the document is refused, so a file whose totals contradict each other is a 400,
  not an invoice that asks for the wrong amount;
- what is left, ChargeTotalAmount − AllowanceTotalAmount + PayableRoundingAmount, is the
  document-level adjustment. When it is ≥ 0 it goes to `shipping_amount`, Recon's header bucket
  for charges outside the lines (freight, insurance, packing), which matching already accepts as
  part of the taxed base. When document-level allowances outweigh the charges it cannot go there
  (shipping is never negative): it becomes one extra line, "Document-level allowances …", with
  quantity −1 and the net allowance as its price. Only then does the stored invoice have one line
  more than the file.
The prepaid amount is stored (`prepaid_amount`) and the amount due is total − prepaid: payments
and the cash forecast work on the amount due, matching on the total. Paying the PayableAmount
reconciles the invoice; nobody pays the prepaid part twice.

Signs
-----
A line with a negative quantity (goods returned, a correction netted on the same document, as in
the Peppol BIS base example) is kept as it is: the door accepts one from this source
(`invoices.services.NEGATIVE_LINES_SOURCES`). The kind comes from the root element (its type
code: Invoice 380, CreditNote 381). A whole document whose total is negative (a "negative
invoice" correcting an earlier one, base-negative-inv-correction.xml, which Peppol BIS 3 allows)
is read as stated and handed to the door, which stores it as a credit note with every sign
turned and `converted_from` = "invoice" (a negative credit note as an invoice): the rule and its
reasons are invoices.documents.document_with_positive_total, the same for every source. The one
thing this reader decides for it is where the document-level adjustment goes (see Totals), which
depends on the sign the document will be stored with.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import IO, Any

from lxml import etree

from core.actors import Actor
from core.exceptions import DomainError
from core.http.uploads import file_size_check
from core.quantities import UNIT_PRICE_PLACES
from invoices.documents import InvoiceDocument, InvoiceLineDocument
from invoices.ingest import invoice_already_present, length_error, max_length
from invoices.models import DocumentType, Invoice, InvoiceLine, InvoiceSource
from invoices.services import invoice_create
from tenants.models import Tenant
from vendors.ingest import VendorCache

INVOICE_NAMESPACE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NAMESPACE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
INVOICE_ROOT = f"{{{INVOICE_NAMESPACE}}}Invoice"
CREDIT_NOTE_ROOT = f"{{{CREDIT_NOTE_NAMESPACE}}}CreditNote"
NAMESPACES = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}

# The setting that bounds an XML file, at the API's door and here.
MAX_BYTES_SETTING = "XML_MAX_BYTES"

# --- messages (tests assert on these) -----------------------------------------------------------
XML_MALFORMED = "The file is not well-formed XML: {reason}"
XML_NO_ROOT = "The file has no root element."
XML_DOCTYPE_REFUSED = (
    "XML with a DOCTYPE is refused: UBL documents never need one, and entity declarations are how "
    "XML bombs and external-entity reads work. Send the document without its DOCTYPE."
)
NOT_UBL = (
    "Not a UBL invoice or credit note: the root element is {root}; expected "
    "{{urn:oasis:names:specification:ubl:schema:xsd:Invoice-2}}Invoice or "
    "{{urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2}}CreditNote."
)
UBL_INVALID = "The UBL document has {count} problem(s); nothing was imported. See details, by element."
REQUIRED = "Required."
NOT_A_DECIMAL = "{value!r} is not a decimal number."
NOT_A_DATE = "{value!r} is not a date (YYYY-MM-DD)."
NOT_A_BOOLEAN = "{value!r} is not true or false."
OTHER_CURRENCY = "The amount is in {found}, but the document currency is {currency}."
NO_TAX_IN_CURRENCY = "No cac:TaxTotal/cbc:TaxAmount is in the document currency {currency}."
BASE_QUANTITY_NOT_POSITIVE = "The price's base quantity must be greater than 0, not {value}."
ALLOWANCE_LINE = "Document-level allowances net of charges"

# `re.ASCII`: xsd:decimal, xsd:date and line ids are ASCII digits; `\d` would take "١٠", which
# Decimal() reads as 10.
_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$", re.ASCII)  # xsd:decimal: no exponent, no separators
_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(Z|[+-]\d{2}:\d{2})?$", re.ASCII)  # xsd:date, with its optional zone
_WHOLE = re.compile(r"^\d+$", re.ASCII)
_MAX_INT = 2_147_483_647
_TRUE, _FALSE = {"true", "1"}, {"false", "0"}
_ELLIPSIS = "…"
# The same options for the prolog check and the full parse; see the module docstring.
_PARSER_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "remove_comments": True,
}


class XmlImportInvalid(DomainError):
    """The file is not XML, not UBL, refused for safety, or a UBL document Recon cannot read."""

    status_code = 400
    code = "xml_invalid"


@dataclass(frozen=True)
class UblImportOutcome:
    invoice: Invoice
    created: bool  # False: the same document was already stored, and `invoice` is that one


def ubl_import(*, tenant: Tenant, binary: IO[bytes], actor: Actor) -> UblImportOutcome:
    """Import one UBL invoice or credit note through the one door, or find it already stored.

    `binary` is a seekable binary file. Raises `UploadTooLarge` over XML_MAX_BYTES,
    `XmlImportInvalid` for a file that cannot be read as UBL (see the module docstring) and the
    door's `DocumentInvalid` for a document that breaks its rules; nothing is written then.
    The same document again (same kind, vendor, number and content: invoices.ingest.
    invoice_already_present) answers with the stored one, so re-sending a file is safe; another
    document reusing the number is stored, for matching to flag.
    """
    file_size_check(binary=binary, setting=MAX_BYTES_SETTING)
    document = ubl_parse(binary)
    existing = invoice_already_present(tenant=tenant, document=document, vendors=VendorCache(tenant))
    if existing is not None:
        return UblImportOutcome(invoice=existing, created=False)
    invoice = invoice_create(tenant=tenant, document=document, actor=actor, source=InvoiceSource.XML)
    return UblImportOutcome(invoice=invoice, created=True)


def ubl_parse(binary: IO[bytes]) -> InvoiceDocument:
    """The normalized document of a UBL invoice or credit note; `XmlImportInvalid` otherwise."""
    root = _read_root(binary)
    if root.tag not in (INVOICE_ROOT, CREDIT_NOTE_ROOT):
        raise XmlImportInvalid(NOT_UBL.format(root=root.tag), details={"root": str(root.tag)})
    return _UblReader(root).document()


# --- XML, safely --------------------------------------------------------------------------------


def _read_root(binary: IO[bytes]) -> Any:
    binary.seek(0)
    try:
        # The prolog first: stop at the root element's start tag and refuse a DOCTYPE before a
        # single entity reference in the body is parsed.
        prolog = etree.iterparse(binary, events=("start",), **_PARSER_OPTIONS)
        try:
            _, first = next(prolog)
        except StopIteration:
            raise XmlImportInvalid(XML_NO_ROOT, details={"file": [XML_NO_ROOT]}) from None
        _refuse_doctype(first.getroottree().docinfo)
        del prolog, first
        binary.seek(0)
        # A new parser per document: lxml parsers are not meant to be shared between threads.
        tree = etree.parse(binary, etree.XMLParser(**_PARSER_OPTIONS))
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (exc.lineno, 0)
        message = XML_MALFORMED.format(reason=exc.msg)
        raise XmlImportInvalid(message, details={"line": line, "column": column, "file": [message]}) from None
    _refuse_doctype(tree.docinfo)  # the same check on the whole document, in case the first missed one
    return tree.getroot()


def _refuse_doctype(docinfo: Any) -> None:
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise XmlImportInvalid(XML_DOCTYPE_REFUSED, details={"file": [XML_DOCTYPE_REFUSED]})


# --- UBL → InvoiceDocument ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    id: str
    quantity: Decimal
    unit_code: str
    unit_price: Decimal
    amount: Decimal
    description: str
    sku: str
    po_line_number: int | None
    tax_percent: Decimal | None


class _UblReader:
    """Reads one document, collecting every problem by element before it gives up."""

    def __init__(self, root: Any) -> None:
        self.root = root
        self.is_credit_note = root.tag == CREDIT_NOTE_ROOT
        self.errors: dict[str, list[str]] = {}
        self.currency = ""

    # --- primitives ---

    def error(self, where: str, message: str) -> None:
        self.errors.setdefault(where, []).append(message)

    def text(self, element: Any, path: str) -> str:
        found = element.find(path, NAMESPACES) if element is not None else None
        return (found.text or "").strip() if found is not None else ""

    def required(self, element: Any, path: str, where: str) -> str:
        value = self.text(element, path)
        if not value:
            self.error(where, REQUIRED)
        return value

    def decimal(self, element: Any, path: str, where: str, *, required: bool = False) -> Decimal | None:
        found = element.find(path, NAMESPACES) if element is not None else None
        value = (found.text or "").strip() if found is not None else ""
        if not value:
            if required:
                self.error(where, REQUIRED)
            return None
        if not _DECIMAL.match(value):
            self.error(where, NOT_A_DECIMAL.format(value=value))
            return None
        return Decimal(value)

    def amount(self, element: Any, path: str, where: str, *, required: bool = False) -> Decimal | None:
        value = self.decimal(element, path, where, required=required)
        if value is not None:
            found = element.find(path, NAMESPACES)
            currency = (found.get("currencyID") or "").strip().upper()
            if currency and self.currency and currency != self.currency:
                self.error(where, OTHER_CURRENCY.format(found=currency, currency=self.currency))
        return value

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

    def bounded(self, value: str, where: str, model: type, field_name: str) -> str:
        problem = length_error(value, model, field_name)
        if problem:
            self.error(where, problem)
        return value

    # --- the document ---

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

        lines = self.lines()
        tax = self.tax()
        totals = root.find("cac:LegalMonetaryTotal", NAMESPACES)
        where = "cac:LegalMonetaryTotal"
        if totals is None:
            self.error(where, REQUIRED)
        payable = self.amount(totals, "cbc:PayableAmount", f"{where}/cbc:PayableAmount", required=True)
        tax_inclusive = self.amount(totals, "cbc:TaxInclusiveAmount", f"{where}/cbc:TaxInclusiveAmount")
        prepaid = self.amount(totals, "cbc:PrepaidAmount", f"{where}/cbc:PrepaidAmount")
        rounding = self.amount(totals, "cbc:PayableRoundingAmount", f"{where}/cbc:PayableRoundingAmount")
        allowance_total = self.amount(totals, "cbc:AllowanceTotalAmount", f"{where}/cbc:AllowanceTotalAmount")
        charge_total = self.amount(totals, "cbc:ChargeTotalAmount", f"{where}/cbc:ChargeTotalAmount")
        allowances, charges, reasons, adjustment_rates = self.document_allowances_and_charges()

        if self.errors:
            raise XmlImportInvalid(UBL_INVALID.format(count=len(self.errors)), details=self.errors)
        assert issue_date is not None and payable is not None  # required: missing ones are errors

        rounding = rounding or Decimal(0)
        total = payable + (prepaid or 0) if tax_inclusive is None else tax_inclusive + rounding
        adjustment = (
            (charges if charge_total is None else charge_total)
            - (allowances if allowance_total is None else allowance_total)
            + rounding
        )
        # Everything below is in the document's own signs; the door turns a negative document
        # into the other kind (module docstring, "Signs"). `sign` is the sign it will be stored
        # with, which decides only where the adjustment goes.
        sign = -1 if total < 0 else 1
        numbered = _line_numbers(lines)
        documents = [
            InvoiceLineDocument(
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                amount=line.amount,
                line_number=numbered[index] if numbered else None,
                sku=line.sku,
                po_line_number=line.po_line_number,
                unit_code=line.unit_code,
            )
            for index, line in enumerate(lines)
        ]
        # Stored, an adjustment of the total's sign is shipping (≥ 0); one of the other sign is
        # a net allowance, a line of quantity −1 at a positive price. In the document's signs
        # that line has quantity −sign: the door's negation of a negative document makes it −1.
        shipping = adjustment if sign * adjustment >= 0 else Decimal(0)
        if sign * adjustment < 0:
            label = f"{ALLOWANCE_LINE}: {', '.join(reasons)}" if reasons else ALLOWANCE_LINE
            documents.append(
                InvoiceLineDocument(
                    description=_cut(label, max_length(InvoiceLine, "description")),
                    quantity=Decimal(-sign),
                    unit_price=abs(adjustment),
                    amount=adjustment,
                    line_number=max(numbered) + 1 if numbered else None,
                )
            )
        rates = {line.tax_percent for line in lines} | adjustment_rates
        # A BillingReference names the invoice a credit note credits; a negative invoice is a
        # correction that the door stores as a credit note, so its reference is kept too. On a
        # positive invoice it is a preceding-invoice reference (BT-25), which Recon does not keep.
        credits = self.is_credit_note or total < 0
        return InvoiceDocument(
            invoice_number=number,
            currency=self.currency,
            invoice_date=issue_date,
            due_date=due_date,
            total_amount=total,
            tax_amount=tax,
            shipping_amount=shipping,
            prepaid_amount=prepaid or Decimal(0),
            amount_due=payable,
            type_code=type_code,
            lines=documents,
            vendor_name=vendor_name,
            vendor_tax_id=vendor_tax_id,
            po_number=po_number,
            external_id=external_id,
            tax_rate=rates.pop() if len(rates) == 1 and None not in rates else None,
            document_type=DocumentType.CREDIT_NOTE if self.is_credit_note else DocumentType.INVOICE,
            credited_invoice_number=credited_number if credits else "",
        )

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

    def lines(self) -> list[_Line]:
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
            quantity = self.decimal(element, quantity_tag, f"{where}/{quantity_tag}", required=True)
            quantity_element = element.find(quantity_tag, NAMESPACES)
            amount = self.amount(element, "cbc:LineExtensionAmount", f"{where}/cbc:LineExtensionAmount", required=True)
            price = self.amount(
                element, "cac:Price/cbc:PriceAmount", f"{where}/cac:Price/cbc:PriceAmount", required=True
            )
            base = self.decimal(element, "cac:Price/cbc:BaseQuantity", f"{where}/cac:Price/cbc:BaseQuantity")
            if base is not None and base <= 0:
                self.error(f"{where}/cac:Price/cbc:BaseQuantity", BASE_QUANTITY_NOT_POSITIVE.format(value=base))
                base = None
            name = self.text(element, "cac:Item/cbc:Name")
            detail = self.text(element, "cac:Item/cbc:Description")
            if not (name or detail):
                self.error(f"{where}/cac:Item/cbc:Name", REQUIRED)
            sku = self.text(element, "cac:Item/cac:SellersItemIdentification/cbc:ID")
            self.bounded(sku, f"{where}/cac:Item/cac:SellersItemIdentification/cbc:ID", InvoiceLine, "sku")
            description = _description(name, detail, max_length(InvoiceLine, "description"))
            self.bounded(description, f"{where}/cac:Item/cbc:Name", InvoiceLine, "description")
            hint = self.text(element, "cac:OrderLineReference/cbc:LineID")
            percent = self.decimal(
                element,
                "cac:Item/cac:ClassifiedTaxCategory/cbc:Percent",
                f"{where}/cac:Item/cac:ClassifiedTaxCategory/cbc:Percent",
            )
            if quantity is None or amount is None or price is None:
                continue
            lines.append(
                _Line(
                    id=self.text(element, "cbc:ID"),
                    quantity=quantity,
                    unit_code=(quantity_element.get("unitCode") or "").strip(),
                    unit_price=_unit_price(price, base),
                    amount=amount,
                    description=description,
                    sku=sku,
                    po_line_number=int(hint) if _WHOLE.match(hint) and 1 <= int(hint) <= _MAX_INT else None,
                    tax_percent=percent,
                )
            )
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

    def document_allowances_and_charges(self) -> tuple[Decimal, Decimal, list[str], set[Decimal | None]]:
        """Sums of the document-level allowances and charges, the allowances' reasons, the rates."""
        allowances, charges = Decimal(0), Decimal(0)
        reasons: list[str] = []
        rates: set[Decimal | None] = set()
        for position, element in enumerate(self.root.findall("cac:AllowanceCharge", NAMESPACES), start=1):
            where = f"cac:AllowanceCharge[{position}]"
            indicator = self.text(element, "cbc:ChargeIndicator").lower()
            if indicator not in _TRUE | _FALSE:
                self.error(f"{where}/cbc:ChargeIndicator", NOT_A_BOOLEAN.format(value=indicator))
                continue
            amount = self.amount(element, "cbc:Amount", f"{where}/cbc:Amount", required=True) or Decimal(0)
            rates.add(self.decimal(element, "cac:TaxCategory/cbc:Percent", f"{where}/cac:TaxCategory/cbc:Percent"))
            if indicator in _TRUE:
                charges += amount
            else:
                allowances += amount
                reason = self.text(element, "cbc:AllowanceChargeReason") or self.text(
                    element, "cbc:AllowanceChargeReasonCode"
                )
                if reason and reason not in reasons:
                    reasons.append(reason)
        return allowances, charges, reasons, rates


def _line_numbers(lines: list[_Line]) -> list[int] | None:
    """The lines' own IDs when each is a distinct whole number; else None (numbered in order)."""
    if not all(_WHOLE.match(line.id) and 1 <= int(line.id) <= _MAX_INT for line in lines):
        return None
    numbers = [int(line.id) for line in lines]
    return numbers if len(set(numbers)) == len(numbers) else None


def _unit_price(price: Decimal, base: Decimal | None) -> Decimal:
    """The price of one unit. A stated price is kept as stated (the door refuses one that does not
    fit); a price per base quantity (per 100 pieces, say) is divided, and only a division that
    does not come out exact is rounded, half-up, to the places a unit price has: the line amount
    is stated separately, so this rounding moves no money."""
    if base is None or base == 1:
        return price
    with localcontext(prec=60):
        quotient = price / base
        try:
            return quotient.quantize(Decimal(1).scaleb(-UNIT_PRICE_PLACES), rounding=ROUND_HALF_UP)
        except InvalidOperation:  # far past what a unit price holds: the door says so
            return quotient


def _description(name: str, detail: str, limit: int) -> str:
    """Item/Name, then Item/Description when it says more, cut at the column's limit.

    Only the description's tail is cut (it is free text, often long); a name that alone is too long
    is left whole, for the length check to refuse.
    """
    if not name:
        name, detail = detail, ""
    if not detail or detail == name or len(name) >= limit:
        return name
    return _cut(f"{name} — {detail}", limit)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + _ELLIPSIS
