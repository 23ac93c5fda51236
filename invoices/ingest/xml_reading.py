"""What the e-invoice readers share: the hardened XML parse, reading elements with every problem
collected by element, and how a document's totals become Recon's.

The readers themselves are invoices.ingest.ubl (UBL 2.1) and invoices.ingest.cii (UN/CEFACT CII
D16B); both are EN 16931, so they name the same business terms in two syntaxes, and everything
past "which element holds BT-112" is decided here, once.

Safe XML
--------
The XML is read by lxml with a hardened parser: no entity is ever expanded, nothing is loaded
from the network or the file system, comments are dropped, and libxml2's limits on huge
documents stay on. On top of that, any document with a DOCTYPE is refused outright: an
e-invoice never needs one, and an internal subset is where XML bombs ("billion laughs") and
external-entity reads (`<!ENTITY e SYSTEM "file:///etc/passwd">`) are declared. The DOCTYPE is
checked as soon as the parser reaches the root element, before any of the body is read.

Totals: how the document's total stays whole
--------------------------------------------
EN 16931 defines   BT-112 total with VAT = BT-106 Σ lines − BT-107 allowances + BT-108 charges
                                           + BT-110 VAT
                   BT-115 amount due     = BT-112 − BT-113 prepaid + BT-114 rounding
and Recon stores   total = subtotal (the sum of the lines) + tax + shipping,
which is what matching checks (`total_mismatch`). So:

- the lines are the file's lines: subtotal = BT-106;
- tax = BT-110 (the VAT total in the document currency; a second one in the VAT accounting
  currency, BT-111, is ignored);
- total = BT-112 + BT-114: everything the document bills, including what was paid in advance
  (BT-115 + BT-113 when a UBL document lacks TaxInclusiveAmount);
- prepaid = BT-113 (0 when absent), and BT-115 is handed to the door as the amount due the
  document states: it must be total − prepaid (1 minor unit of rounding allowed) or the
  document is refused, so a file whose totals contradict each other is a 400, not an invoice
  that asks for the wrong amount;
- what is left, BT-108 − BT-107 + BT-114, is the document-level adjustment. When it is ≥ 0 it
  goes to `shipping_amount`, Recon's header bucket for charges outside the lines (freight,
  insurance, packing), which matching already accepts as part of the taxed base. When
  document-level allowances outweigh the charges it cannot go there (shipping is never
  negative): it becomes one extra line, "Document-level allowances …", with quantity −1 and the
  net allowance as its price. Only then does the stored invoice have one line more than the file.
The prepaid amount is stored (`prepaid_amount`) and the amount due is total − prepaid: payments
and the cash forecast work on the amount due, matching on the total.

Signs
-----
A line with a negative quantity (goods returned, a correction netted on the same document) is
kept as it is: the door accepts one from this source (`invoices.services.NEGATIVE_LINES_SOURCES`).
A whole document whose total is negative (a "negative invoice" correcting an earlier one) is
read as stated and handed to the door, which stores it as the other kind with every sign turned
(invoices.documents.document_with_positive_total, the same for every source). The one thing
decided here is where the document-level adjustment goes (see Totals), which depends on the sign
the document will be stored with.

Amounts are `Decimal(text)` of the literal, never a float; an amount in another currency than
the document's is refused.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import IO, Any

from lxml import etree

from core.exceptions import DomainError
from core.quantities import UNIT_PRICE_PLACES
from core.text import column_max_length, length_error
from invoices.documents import InvoiceDocument, InvoiceLineDocument
from invoices.models import DocumentType, InvoiceLine

# The setting that bounds an e-invoice file (XML, or the PDF that carries one), at the API's
# door and here.
MAX_BYTES_SETTING = "XML_MAX_BYTES"

# --- messages (tests assert on these) -----------------------------------------------------------
XML_MALFORMED = "The file is not well-formed XML: {reason}"
XML_NO_ROOT = "The file has no root element."
XML_DOCTYPE_REFUSED = (
    "XML with a DOCTYPE is refused: e-invoices (UBL, CII) never need one, and entity declarations "
    "are how XML bombs and external-entity reads work. Send the document without its DOCTYPE."
)
DOCUMENT_INVALID = "The {syntax} document has {count} problem(s); nothing was imported. See details, by element."
REQUIRED = "Required."
NOT_A_DECIMAL = "{value!r} is not a decimal number."
NOT_A_BOOLEAN = "{value!r} is not true or false."
OTHER_CURRENCY = "The amount is in {found}, but the document currency is {currency}."
NO_TAX_IN_CURRENCY = "No VAT total is in the document currency {currency}."
BASE_QUANTITY_NOT_POSITIVE = "The price's base quantity must be greater than 0, not {value}."
ALLOWANCE_LINE = "Document-level allowances net of charges"

# `re.ASCII`: xsd:decimal, dates and line ids are ASCII digits; `\d` would take "١٠", which
# Decimal() reads as 10.
_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$", re.ASCII)  # xsd:decimal: no exponent, no separators
_WHOLE = re.compile(r"^\d+$", re.ASCII)
_MAX_INT = 2_147_483_647
_MAX_DAYS = 999
NOT_DAYS = "{value!r} {unit} is not a number of days (a whole number of DAY, at most 999)."
TRUE, FALSE = frozenset({"true", "1"}), frozenset({"false", "0"})
_ELLIPSIS = "…"
# The same options for the prolog check and the full parse; see the module docstring.
PARSER_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "remove_comments": True,
}


class XmlImportInvalid(DomainError):
    """The file is not XML, not an e-invoice, refused for safety, or one Recon cannot read."""

    status_code = 400
    code = "xml_invalid"


# --- XML, safely --------------------------------------------------------------------------------


def xml_root(binary: IO[bytes]) -> Any:
    """The root element of a seekable XML file, parsed safely (module docstring); `XmlImportInvalid`
    for anything that is not well-formed XML or declares a DOCTYPE."""
    binary.seek(0)
    try:
        # The prolog first: stop at the root element's start tag and refuse a DOCTYPE before a
        # single entity reference in the body is parsed.
        prolog = etree.iterparse(binary, events=("start",), **PARSER_OPTIONS)
        try:
            _, first = next(prolog)
        except StopIteration:
            raise XmlImportInvalid(XML_NO_ROOT, details={"file": [XML_NO_ROOT]}) from None
        _refuse_doctype(first.getroottree().docinfo)
        del prolog, first
        binary.seek(0)
        # A new parser per document: lxml parsers are not meant to be shared between threads.
        tree = etree.parse(binary, etree.XMLParser(**PARSER_OPTIONS))
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (exc.lineno, 0)
        message = XML_MALFORMED.format(reason=exc.msg)
        raise XmlImportInvalid(message, details={"line": line, "column": column, "file": [message]}) from None
    _refuse_doctype(tree.docinfo)  # the same check on the whole document, in case the first missed one
    return tree.getroot()


def _refuse_doctype(docinfo: Any) -> None:
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise XmlImportInvalid(XML_DOCTYPE_REFUSED, details={"file": [XML_DOCTYPE_REFUSED]})


# --- what a reader finds ------------------------------------------------------------------------


@dataclass(frozen=True)
class LineFacts:
    id: str
    quantity: Decimal
    unit_code: str
    unit_price: Decimal
    amount: Decimal
    description: str
    sku: str
    po_line_number: int | None
    tax_percent: Decimal | None


@dataclass
class HeaderFacts:
    number: str
    currency: str
    issue_date: dt.date | None
    due_date: dt.date | None
    type_code: str
    is_credit_note: bool
    vendor_name: str
    vendor_tax_id: str
    po_number: str
    credited_number: str
    external_id: str = ""
    # Payment terms and the payee account as stated (invoices.documents.InvoiceDocument's fields).
    payment_terms_note: str = ""
    discount_pct: Decimal | None = None
    discount_days: int | None = None
    discount_due_date: dt.date | None = None
    discount_amount: Decimal | None = None
    payee_account: str = ""


@dataclass
class TotalsFacts:
    """EN 16931's document totals as the file states them (None: absent)."""

    amount_due: Decimal | None  # BT-115
    total_with_tax: Decimal | None  # BT-112
    prepaid: Decimal | None  # BT-113
    rounding: Decimal | None  # BT-114
    allowance_total: Decimal | None  # BT-107
    charge_total: Decimal | None  # BT-108
    tax: Decimal = Decimal(0)  # BT-110
    # The document-level allowances and charges themselves (BG-20, BG-21).
    allowances: Decimal = Decimal(0)
    charges: Decimal = Decimal(0)
    allowance_reasons: list[str] = field(default_factory=list)
    adjustment_rates: set[Decimal | None] = field(default_factory=set)


class ElementReader:
    """Reads one document, collecting every problem by element before it gives up."""

    syntax = "XML"

    def __init__(self, root: Any, namespaces: dict[str, str]) -> None:
        self.root = root
        self.namespaces = namespaces
        self.errors: dict[str, list[str]] = {}
        self.currency = ""

    def error(self, where: str, message: str) -> None:
        self.errors.setdefault(where, []).append(message)

    def text(self, element: Any, path: str) -> str:
        found = element.find(path, self.namespaces) if element is not None else None
        return (found.text or "").strip() if found is not None else ""

    def required(self, element: Any, path: str, where: str) -> str:
        value = self.text(element, path)
        if not value:
            self.error(where, REQUIRED)
        return value

    def decimal(self, element: Any, path: str, where: str, *, required: bool = False) -> Decimal | None:
        value = self.text(element, path)
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
            self.currency_check(element.find(path, self.namespaces), where)
        return value

    def currency_check(self, element: Any, where: str) -> None:
        currency = (element.get("currencyID") or "").strip().upper()
        if currency and self.currency and currency != self.currency:
            self.error(where, OTHER_CURRENCY.format(found=currency, currency=self.currency))

    def days(self, element: Any, path: str, where: str) -> int | None:
        """A period in days (UBL DurationMeasure, CII BasisPeriodMeasure with unitCode DAY, or
        none); a period in another unit, or not a whole number of days, is an error."""
        found = element.find(path, self.namespaces) if element is not None else None
        if found is None or not (found.text or "").strip():
            return None
        unit = (found.get("unitCode") or "DAY").strip().upper()
        value = self.decimal(element, path, where)
        if value is None:
            return None
        if unit != "DAY" or value != value.to_integral_value() or not 0 <= value <= _MAX_DAYS:
            self.error(where, NOT_DAYS.format(value=(found.text or "").strip(), unit=unit))
            return None
        return int(value)

    def indicator(self, element: Any, path: str, where: str) -> bool | None:
        value = self.text(element, path).lower()
        if value not in TRUE | FALSE:
            self.error(where, NOT_A_BOOLEAN.format(value=value))
            return None
        return value in TRUE

    def bounded(self, value: str, where: str, model: type, field_name: str) -> str:
        problem = length_error(value, model, field_name)
        if problem:
            self.error(where, problem)
        return value

    def line_facts(
        self,
        *,
        line_id: str,
        quantity: Decimal | None,
        unit_code: str,
        price: Decimal | None,
        base: Decimal | None,
        base_where: str,
        amount: Decimal | None,
        name: str,
        name_where: str,
        detail: str,
        sku: str,
        sku_where: str,
        po_line_hint: str,
        tax_percent: Decimal | None,
    ) -> LineFacts | None:
        """One line from its elements' values (None when a required one is missing or unreadable)."""
        if base is not None and base <= 0:
            self.error(base_where, BASE_QUANTITY_NOT_POSITIVE.format(value=base))
            base = None
        if not (name or detail):
            self.error(name_where, REQUIRED)
        self.bounded(sku, sku_where, InvoiceLine, "sku")
        description = _description(name, detail, column_max_length(InvoiceLine, "description"))
        self.bounded(description, name_where, InvoiceLine, "description")
        if quantity is None or amount is None or price is None:
            return None
        return LineFacts(
            id=line_id,
            quantity=quantity,
            unit_code=unit_code,
            unit_price=_unit_price(price, base),
            amount=amount,
            description=description,
            sku=sku,
            po_line_number=(
                int(po_line_hint) if _WHOLE.match(po_line_hint) and 1 <= int(po_line_hint) <= _MAX_INT else None
            ),
            tax_percent=tax_percent,
        )

    def raise_if_invalid(self) -> None:
        if self.errors:
            raise XmlImportInvalid(
                DOCUMENT_INVALID.format(syntax=self.syntax, count=len(self.errors)), details=self.errors
            )


def invoice_document_of(*, header: HeaderFacts, lines: list[LineFacts], totals: TotalsFacts) -> InvoiceDocument:
    """The normalized document of what a reader found, read without errors (module docstring:
    Totals, Signs)."""
    assert header.issue_date is not None and totals.amount_due is not None  # required: missing ones are errors
    rounding = totals.rounding or Decimal(0)
    prepaid = totals.prepaid or Decimal(0)
    total = totals.amount_due + prepaid if totals.total_with_tax is None else totals.total_with_tax + rounding
    adjustment = (
        (totals.charges if totals.charge_total is None else totals.charge_total)
        - (totals.allowances if totals.allowance_total is None else totals.allowance_total)
        + rounding
    )
    # Everything below is in the document's own signs; the door turns a negative document into
    # the other kind (module docstring, "Signs"). `sign` is the sign it will be stored with,
    # which decides only where the adjustment goes.
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
    # Stored, an adjustment of the total's sign is shipping (≥ 0); one of the other sign is a net
    # allowance, a line of quantity −1 at a positive price. In the document's signs that line has
    # quantity −sign: the door's negation of a negative document makes it −1.
    shipping = adjustment if sign * adjustment >= 0 else Decimal(0)
    if sign * adjustment < 0:
        reasons = totals.allowance_reasons
        label = f"{ALLOWANCE_LINE}: {', '.join(reasons)}" if reasons else ALLOWANCE_LINE
        documents.append(
            InvoiceLineDocument(
                description=_cut(label, column_max_length(InvoiceLine, "description")),
                quantity=Decimal(-sign),
                unit_price=abs(adjustment),
                amount=adjustment,
                line_number=max(numbered) + 1 if numbered else None,
            )
        )
    rates = {line.tax_percent for line in lines} | totals.adjustment_rates
    # A credit note's reference names the invoice it credits; a negative invoice is a correction
    # that the door stores as a credit note, so its reference is kept too. On a positive invoice
    # it is a preceding-invoice reference (BT-25), which Recon does not keep.
    credits = header.is_credit_note or total < 0
    return InvoiceDocument(
        invoice_number=header.number,
        currency=header.currency,
        invoice_date=header.issue_date,
        due_date=header.due_date,
        total_amount=total,
        tax_amount=totals.tax,
        shipping_amount=shipping,
        prepaid_amount=prepaid,
        amount_due=totals.amount_due,
        type_code=header.type_code,
        lines=documents,
        vendor_name=header.vendor_name,
        vendor_tax_id=header.vendor_tax_id,
        po_number=header.po_number,
        external_id=header.external_id,
        tax_rate=rates.pop() if len(rates) == 1 and None not in rates else None,
        document_type=DocumentType.CREDIT_NOTE if header.is_credit_note else DocumentType.INVOICE,
        credited_invoice_number=header.credited_number if credits else "",
        payment_terms_note=header.payment_terms_note,
        discount_pct=header.discount_pct,
        discount_days=header.discount_days,
        discount_due_date=header.discount_due_date,
        discount_amount=header.discount_amount,
        payee_account=header.payee_account,
    )


def _line_numbers(lines: list[LineFacts]) -> list[int] | None:
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
    """The item's name, then its description when that says more, cut at the column's limit.

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
