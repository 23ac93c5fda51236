"""Webhook payloads to invoice documents: QuickBooks Online Bills and Xero ACCPAY invoices.

Normalized by shape, whichever signature scheme carried them (invoices.ingest.webhooks); a
Standard Webhooks envelope `{"type", "timestamp", "data"}` is unwrapped first:

- a QuickBooks Online `Bill`, as the QBO API returns it (`{"Bill": {...}}`) or bare;
- Xero `Invoices` of Type ACCPAY (`{"Invoices": [...]}` or one invoice); ACCREC (sales) and
  void/deleted bills are ignored;
- the senders' own change notifications (Xero `events`, including the intent-to-receive
  handshake with `"events": []`; Intuit `eventNotifications` and CloudEvents arrays) only name
  what changed and are acknowledged and ignored: Recon does not call their APIs;
- anything else is another entity, ignored.

No prepaid amount (EN 16931 BT-113) is read: a QuickBooks Bill has none, and Xero's AmountPaid,
AmountCredited and Prepayments (and QuickBooks' Balance) are the ledger's allocations at the time of
delivery, not what the document states. They change with every payment booked in the ledger, and
the money behind them reaches Recon as bank statement lines that reconciliation allocates itself;
taking them off the amount due as well would count that money twice. Both carry the whole bill as
the amount due.

Nothing here touches the database: the result goes to the one door (`invoice_create`), which
validates and stores it as for every other source. Numbers are read with
`json.loads(body, parse_float=Decimal)`, so no float ever touches an amount. Errors are reported
by payload path (`Bill.Line[1].Amount`), all at once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from core.business_dates import business_date_error
from core.exceptions import DocumentInvalid
from core.money import MoneyError, parse_decimal
from core.problems import MAX_PROBLEMS_REPORTED
from core.quantities import QUANTITY_DIGITS, UNIT_PRICE_DIGITS, UNIT_PRICE_PLACES, quantity_error
from core.text import NUL_REFUSED, length_error, nul_paths
from invoices.documents import InvoiceDocument, InvoiceLineDocument
from invoices.models import Invoice, InvoiceLine

# --- what is ignored, and why (the INFO log line and the delivery's detail) -------------------
IGNORED_XERO_HANDSHAKE = "Xero intent-to-receive validation: acknowledged."
IGNORED_XERO_EVENTS = (
    "Xero event notification: it names the changed records without their content, and Recon does not "
    "call the Xero API; ignored."
)
IGNORED_INTUIT_EVENTS = (
    "Intuit event notification: it names the changed entities without their content, and Recon does not "
    "call the QuickBooks API; ignored."
)
IGNORED_XERO_ACCREC = "Xero invoice of Type ACCREC is a sales invoice (receivable), not a bill; ignored."
IGNORED_XERO_TYPE = "Xero invoice of Type {type!r} is not a bill (ACCPAY); ignored."
IGNORED_XERO_STATUS = "Xero bill with Status {status} is not payable; ignored."
IGNORED_OTHER_ENTITY = "{entity} is not a QuickBooks Bill or a Xero ACCPAY invoice; ignored."
IGNORED_EMPTY = "The delivery holds no invoices; ignored."
UNKNOWN_SHAPE = "A document of unknown shape"


# --- payload errors (400, deterministic: the same body fails the same way on every retry) -------
PAYLOAD_INVALID = "The webhook document is invalid; see details."
NOT_JSON = "The body is not valid JSON: {reason}."
NOT_AN_OBJECT = "Must be a JSON object."
NOT_A_LIST = "Must be a JSON array."
NOT_TEXT = "Must be a string."
REQUIRED = "Required."
NOT_A_DATE = "{value!r} is not a date: expected YYYY-MM-DD, an ISO 8601 date-time or /Date(milliseconds+hhmm)/."
QBO_LINE_TYPE = (
    "Line type {detail_type!r} is not supported: expected ItemBasedExpenseLineDetail or AccountBasedExpenseLineDetail."
)
QBO_TAX_CALCULATION = "{value!r} is unknown: expected TaxExcluded, TaxInclusive or NotApplicable."
QBO_INCLUSIVE_INCONSISTENT = (
    "With TaxInclusive the line amounts must be net of tax (lines {lines} + TotalTax {tax} = TotalAmt {total}); "
    "they are not, so the net amounts cannot be known."
)
XERO_LINE_AMOUNT_TYPES = "{value!r} is unknown: expected Exclusive, Inclusive or NoTax."
XERO_INCLUSIVE_NEEDS_TAX = (
    "With LineAmountTypes Inclusive each line needs LineAmount and TaxAmount to take the tax out."
)
XERO_INCLUSIVE_INCONSISTENT = "The lines net of tax add up to {lines}, not to the SubTotal {subtotal}."

# `re.ASCII`: `\d` would take "١٢", which int() reads as 12.
_MS_DATE = re.compile(r"^/Date\((-?\d{1,15})(?:([+-])(\d{2})(\d{2}))?\)/$", re.ASCII)
_ISO_DATE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?$", re.ASCII
)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_UNIT_PRICE_QUANTUM = Decimal(1).scaleb(-UNIT_PRICE_PLACES)


# --- reading payload values ----------------------------------------------------------------------


class _Errors(dict[str, list[str]]):
    """Problems by payload path (`Bill.Line[1].Amount`), like the door reports them by field."""

    def add(self, path: str, message: str) -> None:
        self.setdefault(path, []).append(message)


def webhook_payload_parse(body: bytes) -> Any:
    """The JSON body with every non-integer number as an exact `Decimal` (never a float)."""

    def refuse_constant(name: str) -> Any:  # NaN and Infinity are not JSON, and not money
        raise ValueError(f"{name} is not a number")

    try:
        payload = json.loads(body, parse_float=Decimal, parse_constant=refuse_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        message = NOT_JSON.format(reason=exc)
        raise DocumentInvalid(message, details={"body": [message]}) from exc
    # Anywhere in the payload, as the API's parser does: a 400 by path, never a 500 (and a retry
    # loop) from the database; the sender is told where.
    if paths := nul_paths(payload, limit=MAX_PROBLEMS_REPORTED):
        raise DocumentInvalid(PAYLOAD_INVALID, details={path: [NUL_REFUSED] for path in paths})
    return payload


def _object(value: Any, path: str, errors: _Errors) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    errors.add(path, NOT_AN_OBJECT if value is not None else REQUIRED)
    return {}


def _text(value: Any, path: str, errors: _Errors, *, required: bool = False) -> str:
    if value is None or value == "":
        if required:
            errors.add(path, REQUIRED)
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):  # ids sent as numbers
        return str(value)
    errors.add(path, NOT_TEXT)
    return ""


def _limited(value: str, path: str, errors: _Errors, model: type, field_name: str) -> str:
    # The door does not bound texts (its REST serializer does); an overlong one must be a 400 here.
    problem = length_error(value, model, field_name)
    if problem:
        errors.add(path, problem)
    return value


def _number(value: Any, path: str, errors: _Errors, *, required: bool = False) -> Decimal | None:
    if value is None or value == "":
        if required:
            errors.add(path, REQUIRED)
        return None
    try:
        return parse_decimal(value)  # JSON numbers arrive as int or Decimal; "12.50" strings too
    except MoneyError as exc:
        errors.add(path, str(exc))
        return None


def _date(value: Any, path: str, errors: _Errors, *, required: bool = False) -> dt.date | None:
    """`2026-10-12`, `2026-10-12T00:00:00[+hh:mm]`, or Xero's `/Date(1791763200000+0000)/`.

    Of a date-time only the date as written counts: it is the document's own calendar date.
    The `/Date(ms±hhmm)/` form counts UTC milliseconds; the offset gives the sender's local date.
    """
    text = _text(value, path, errors, required=required)
    if not text:
        return None
    date: dt.date | None = None
    if ms_date := _MS_DATE.match(text):
        milliseconds, sign, hours, minutes = ms_date.groups()
        offset = dt.timedelta(hours=int(hours or 0), minutes=int(minutes or 0)) * (-1 if sign == "-" else 1)
        with contextlib.suppress(OverflowError):
            date = (_EPOCH + dt.timedelta(milliseconds=int(milliseconds)) + offset).date()
    elif iso_date := _ISO_DATE.match(text):
        with contextlib.suppress(ValueError):
            date = dt.date.fromisoformat(iso_date.group(1))
    if date is None:
        errors.add(path, NOT_A_DATE.format(value=text))
    elif problem := business_date_error(date):
        errors.add(path, problem)
        date = None
    return date


def _net_unit_price(amount: Decimal, quantity: Decimal) -> Decimal:
    """A line's amount per unit, to the unit-price column's 6 places (half up).

    Only for lines whose document states no net unit price; the line amount itself stays exact.
    """
    with localcontext(prec=QUANTITY_DIGITS + UNIT_PRICE_DIGITS + 4):
        return (amount / quantity).quantize(_UNIT_PRICE_QUANTUM, rounding=ROUND_HALF_UP)


def _quantity(value: Any, path: str, errors: _Errors) -> Decimal | None:
    """A quantity (1 when the line states none, as for an expense line); None when unusable."""
    quantity = _number(value, path, errors)
    if quantity is None:
        return None if path in errors else Decimal(1)
    if problem := quantity_error(quantity):
        errors.add(path, problem)
        return None
    return quantity


# --- normalization -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceDocument:
    """One invoice found in a payload, with where it was found (for error paths)."""

    path: str  # "Bill", "Invoices[1]", "" for a bare object
    document: InvoiceDocument
    # QBO's id of a linked purchase order (LinkedTxn.TxnId): not its number, see _with_po_number.
    po_reference: str = ""


@dataclass
class Normalized:
    documents: list[SourceDocument] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # why each skipped record was skipped
    # Set for a sender's own change notification (Xero events, Intuit eventNotifications).
    notification: str = ""
    xero_notification: bool = False  # Xero wants its notifications answered with no body


def _entity_name(payload: dict[str, Any]) -> str:
    """`{"Invoice": {...}, "time": ...}` → "'Invoice'"; a shape without a name → generic."""
    keys = [key for key in payload if key != "time"]
    if len(keys) == 1 and keys[0][:1].isupper() and isinstance(payload[keys[0]], (dict, list)):
        return f"{keys[0]!r}"
    return UNKNOWN_SHAPE


def _is_bare_bill(payload: dict[str, Any]) -> bool:
    # A QBO object carries no type of its own. A PurchaseOrder has POStatus; a VendorCredit has
    # no DueDate (a credit is not due). A bill without DueDate must come wrapped: {"Bill": ...}.
    return {"VendorRef", "Line", "TotalAmt", "DueDate"} <= payload.keys() and "POStatus" not in payload


def _is_xero_invoice(payload: dict[str, Any]) -> bool:
    return "Type" in payload and ("LineItems" in payload or "InvoiceID" in payload or "Contact" in payload)


def webhook_documents(payload: Any) -> Normalized:
    """The invoices a payload holds, normalized; `DocumentInvalid` (by payload path) if any is invalid."""
    errors = _Errors()
    normalized = Normalized()
    if isinstance(payload, dict) and isinstance(payload.get("type"), str) and isinstance(payload.get("data"), dict):
        payload = payload["data"]  # a Standard Webhooks envelope
    if isinstance(payload, list):
        if payload and all(isinstance(event, dict) and "specversion" in event for event in payload):
            normalized.notification = IGNORED_INTUIT_EVENTS  # Intuit's CloudEvents format
        else:
            normalized.ignored.append(IGNORED_OTHER_ENTITY.format(entity=UNKNOWN_SHAPE))
        return normalized
    if not isinstance(payload, dict):
        normalized.ignored.append(IGNORED_OTHER_ENTITY.format(entity=UNKNOWN_SHAPE))
        return normalized

    if isinstance(payload.get("events"), list):
        normalized.notification = IGNORED_XERO_EVENTS if payload["events"] else IGNORED_XERO_HANDSHAKE
        normalized.xero_notification = True
    elif "eventNotifications" in payload:
        normalized.notification = IGNORED_INTUIT_EVENTS
    elif "Bill" in payload:
        _add(normalized, "Bill", _qbo_bill(_object(payload["Bill"], "Bill", errors), "Bill", errors))
    elif _is_bare_bill(payload):
        _add(normalized, "", _qbo_bill(payload, "", errors))
    elif "Invoices" in payload:
        invoices = payload["Invoices"]
        if not isinstance(invoices, list):
            errors.add("Invoices", NOT_A_LIST)
            invoices = []
        for index, invoice in enumerate(invoices):
            path = f"Invoices[{index}]"
            _add(normalized, path, _xero_invoice(_object(invoice, path, errors), path, errors))
        if not invoices:
            normalized.ignored.append(IGNORED_EMPTY)
    elif _is_xero_invoice(payload):
        _add(normalized, "", _xero_invoice(payload, "", errors))
    else:
        normalized.ignored.append(IGNORED_OTHER_ENTITY.format(entity=_entity_name(payload)))
    if errors:
        raise DocumentInvalid(PAYLOAD_INVALID, details=dict(errors))
    return normalized


def _add(normalized: Normalized, path: str, result: SourceDocument | str | None) -> None:
    if isinstance(result, str):
        normalized.ignored.append(result)
    elif result is not None:
        normalized.documents.append(replace(result, path=path))


def _at(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _qbo_bill(bill: dict[str, Any], path: str, errors: _Errors) -> SourceDocument | None:
    """A QuickBooks Online Bill (Intuit API reference, Bill entity) as an invoice document.

    Lines: ItemBasedExpenseLineDetail (Qty, UnitPrice, ItemRef) and AccountBasedExpenseLineDetail
    (an amount booked to an account: quantity 1). Line `Amount` is net of tax in QBO whatever
    `GlobalTaxCalculation` says (TaxInclusive only changes how amounts are entered and shown;
    the gross is in `TaxInclusiveAmt`); for TaxInclusive that is checked against the header
    (lines + TotalTax = TotalAmt) and the bill refused when it does not hold.
    """
    if not bill:
        return None
    tax_calculation = _text(bill.get("GlobalTaxCalculation"), _at(path, "GlobalTaxCalculation"), errors)
    if tax_calculation not in ("", "TaxExcluded", "TaxInclusive", "NotApplicable"):
        errors.add(_at(path, "GlobalTaxCalculation"), QBO_TAX_CALCULATION.format(value=tax_calculation))
    inclusive = tax_calculation == "TaxInclusive"
    vendor = bill.get("VendorRef") if isinstance(bill.get("VendorRef"), dict) else {}
    currency = bill.get("CurrencyRef") if isinstance(bill.get("CurrencyRef"), dict) else {}
    tax_detail = bill.get("TxnTaxDetail") if isinstance(bill.get("TxnTaxDetail"), dict) else {}

    lines: list[InvoiceLineDocument] = []
    po_ids: set[str] = set()
    complete = True  # every amount line was read: only then can the header be checked against them
    raw_lines = bill.get("Line")
    if not isinstance(raw_lines, list):
        errors.add(_at(path, "Line"), NOT_A_LIST if raw_lines is not None else REQUIRED)
        raw_lines = []
    for index, raw_line in enumerate(raw_lines):
        line_path = _at(path, f"Line[{index}]")
        line = _object(raw_line, line_path, errors)
        detail_type = line.get("DetailType")
        if detail_type in ("SubTotalLineDetail", "DescriptionOnly"):
            continue  # presentation lines: no amount of their own
        if detail_type not in ("ItemBasedExpenseLineDetail", "AccountBasedExpenseLineDetail"):
            errors.add(_at(line_path, "DetailType"), QBO_LINE_TYPE.format(detail_type=detail_type))
            complete = False
            continue
        detail = _object(line.get(detail_type), _at(line_path, detail_type), errors)
        po_ids.update(_po_ids(line.get("LinkedTxn")))
        amount = _number(line.get("Amount"), _at(line_path, "Amount"), errors, required=True)
        item = detail.get("ItemRef") if isinstance(detail.get("ItemRef"), dict) else {}
        account = detail.get("AccountRef") if isinstance(detail.get("AccountRef"), dict) else {}
        item_name = _text(item.get("name") or item.get("value"), _at(line_path, f"{detail_type}.ItemRef"), errors)
        quantity = _quantity(detail.get("Qty"), _at(line_path, f"{detail_type}.Qty"), errors)
        unit_price = _number(detail.get("UnitPrice"), _at(line_path, f"{detail_type}.UnitPrice"), errors)
        if amount is None or quantity is None:
            complete = False
            continue
        if unit_price is None or inclusive:
            # No stated price (an account line), or a TaxInclusive price that may hold tax: the
            # net price is the net amount per unit.
            unit_price = _net_unit_price(amount, quantity)
        description = (
            _text(line.get("Description"), _at(line_path, "Description"), errors)
            or item_name
            or (_text(account.get("name"), _at(line_path, f"{detail_type}.AccountRef.name"), errors))
        )
        line_number = line.get("LineNum")
        lines.append(
            InvoiceLineDocument(
                description=_limited(description, _at(line_path, "Description"), errors, InvoiceLine, "description"),
                quantity=quantity,
                unit_price=unit_price,
                line_number=line_number if isinstance(line_number, int) and line_number > 0 else None,
                sku=_limited(item_name, _at(line_path, f"{detail_type}.ItemRef"), errors, InvoiceLine, "sku"),
                amount=amount,
            )
        )
    po_ids.update(_po_ids(bill.get("LinkedTxn")))

    total = _number(bill.get("TotalAmt"), _at(path, "TotalAmt"), errors, required=True)
    tax = _number(tax_detail.get("TotalTax"), _at(path, "TxnTaxDetail.TotalTax"), errors) or Decimal(0)
    if inclusive and complete and total is not None:
        net = sum((line.amount or Decimal(0) for line in lines), Decimal(0))
        if net + tax != total:
            errors.add(_at(path, "TotalAmt"), QBO_INCLUSIVE_INCONSISTENT.format(lines=net, tax=tax, total=total))
    bill_id = _text(bill.get("Id"), _at(path, "Id"), errors)
    document = InvoiceDocument(
        invoice_number=_limited(
            _text(bill.get("DocNumber"), _at(path, "DocNumber"), errors, required=True),
            _at(path, "DocNumber"),
            errors,
            Invoice,
            "invoice_number",
        ),
        currency=_text(currency.get("value"), _at(path, "CurrencyRef.value"), errors, required=True),
        invoice_date=_date(bill.get("TxnDate"), _at(path, "TxnDate"), errors, required=True),  # type: ignore[arg-type]
        due_date=_date(bill.get("DueDate"), _at(path, "DueDate"), errors),
        total_amount=total if total is not None else Decimal(0),
        tax_amount=tax,
        vendor_name=_limited(
            _text(vendor.get("name"), _at(path, "VendorRef.name"), errors),
            _at(path, "VendorRef.name"),
            errors,
            Invoice,
            "vendor_name_raw",
        ),
        lines=lines,
        external_id=_limited(f"qbo-bill:{bill_id}" if bill_id else "", _at(path, "Id"), errors, Invoice, "external_id"),
    )
    # Several linked POs cannot be one invoice's PO number: matching infers it from the lines.
    po_reference = next(iter(po_ids)) if len(po_ids) == 1 else ""
    return SourceDocument(path=path, document=document, po_reference=po_reference)


def _po_ids(linked: Any) -> set[str]:
    if not isinstance(linked, list):
        return set()
    return {
        str(txn["TxnId"])
        for txn in linked
        if isinstance(txn, dict) and txn.get("TxnType") == "PurchaseOrder" and txn.get("TxnId") not in (None, "")
    }


def _xero_invoice(invoice: dict[str, Any], path: str, errors: _Errors) -> SourceDocument | str | None:
    """A Xero Invoice of Type ACCPAY (a bill; Xero Accounting API, Invoices) as an invoice document.

    For ACCPAY, InvoiceNumber is the supplier's invoice number (shown as "Reference" in Xero's
    app); the API's Reference carries the PO number here. LineAmountTypes Exclusive / NoTax: line
    amounts are net. Inclusive: LineAmount holds the tax, so each line's net is LineAmount −
    TaxAmount and its unit price that net per unit; the nets must add up to SubTotal (Xero's
    total excluding tax), or the invoice is refused rather than stored with guessed amounts.
    """
    if not invoice:
        return None
    invoice_type = invoice.get("Type")
    if invoice_type == "ACCREC":
        return IGNORED_XERO_ACCREC
    if invoice_type != "ACCPAY":
        return IGNORED_XERO_TYPE.format(type=invoice_type)
    if invoice.get("Status") in ("VOIDED", "DELETED"):
        return IGNORED_XERO_STATUS.format(status=invoice["Status"])
    amount_types = _text(invoice.get("LineAmountTypes"), _at(path, "LineAmountTypes"), errors) or "Exclusive"
    if amount_types not in ("Exclusive", "Inclusive", "NoTax"):
        errors.add(_at(path, "LineAmountTypes"), XERO_LINE_AMOUNT_TYPES.format(value=amount_types))
    inclusive = amount_types == "Inclusive"
    contact = _object(invoice.get("Contact"), _at(path, "Contact"), errors)

    lines: list[InvoiceLineDocument] = []
    raw_lines = invoice.get("LineItems")
    if not isinstance(raw_lines, list):
        errors.add(_at(path, "LineItems"), NOT_A_LIST if raw_lines is not None else REQUIRED)
        raw_lines = []
    complete = True
    for index, raw_line in enumerate(raw_lines):
        line_path = _at(path, f"LineItems[{index}]")
        line = _object(raw_line, line_path, errors)
        line_amount = _number(line.get("LineAmount"), _at(line_path, "LineAmount"), errors)
        if not line_amount and not line.get("Quantity") and line.get("UnitAmount") in (None, "", 0):
            continue  # a text-only line: Xero allows description lines without amounts
        quantity = _quantity(line.get("Quantity"), _at(line_path, "Quantity"), errors)
        unit_amount = _number(line.get("UnitAmount"), _at(line_path, "UnitAmount"), errors)
        tax_amount = _number(line.get("TaxAmount"), _at(line_path, "TaxAmount"), errors)
        if quantity is None:
            complete = False
            continue
        if inclusive:
            if line_amount is None or tax_amount is None:
                errors.add(line_path, XERO_INCLUSIVE_NEEDS_TAX)
                complete = False
                continue
            amount: Decimal | None = line_amount - tax_amount
            unit_price = _net_unit_price(line_amount - tax_amount, quantity)
        else:
            amount = line_amount  # after any discount; None lets the door compute quantity × price
            if unit_amount is not None:
                unit_price = unit_amount
            elif line_amount is not None:
                unit_price = _net_unit_price(line_amount, quantity)
            else:
                errors.add(_at(line_path, "UnitAmount"), REQUIRED)
                complete = False
                continue
        description = _text(line.get("Description"), _at(line_path, "Description"), errors)
        sku = _text(line.get("ItemCode"), _at(line_path, "ItemCode"), errors)
        lines.append(
            InvoiceLineDocument(
                description=_limited(description, _at(line_path, "Description"), errors, InvoiceLine, "description"),
                quantity=quantity,
                unit_price=unit_price,
                sku=_limited(sku, _at(line_path, "ItemCode"), errors, InvoiceLine, "sku"),
                amount=amount,
            )
        )
    subtotal = _number(invoice.get("SubTotal"), _at(path, "SubTotal"), errors)
    if inclusive and complete and subtotal is not None:
        net = sum((line.amount or Decimal(0) for line in lines), Decimal(0))
        if net != subtotal:
            errors.add(_at(path, "SubTotal"), XERO_INCLUSIVE_INCONSISTENT.format(lines=net, subtotal=subtotal))

    invoice_id = _text(invoice.get("InvoiceID"), _at(path, "InvoiceID"), errors)
    date_value = invoice.get("Date") or invoice.get("DateString")
    total = _number(invoice.get("Total"), _at(path, "Total"), errors, required=True)
    document = InvoiceDocument(
        invoice_number=_limited(
            _text(invoice.get("InvoiceNumber"), _at(path, "InvoiceNumber"), errors, required=True),
            _at(path, "InvoiceNumber"),
            errors,
            Invoice,
            "invoice_number",
        ),
        currency=_text(invoice.get("CurrencyCode"), _at(path, "CurrencyCode"), errors, required=True),
        invoice_date=_date(date_value, _at(path, "Date"), errors, required=True),  # type: ignore[arg-type]
        due_date=_date(invoice.get("DueDate") or invoice.get("DueDateString"), _at(path, "DueDate"), errors),
        total_amount=total if total is not None else Decimal(0),
        tax_amount=_number(invoice.get("TotalTax"), _at(path, "TotalTax"), errors) or Decimal(0),
        vendor_name=_limited(
            _text(contact.get("Name"), _at(path, "Contact.Name"), errors),
            _at(path, "Contact.Name"),
            errors,
            Invoice,
            "vendor_name_raw",
        ),
        vendor_tax_id=_limited(
            _text(contact.get("TaxNumber"), _at(path, "Contact.TaxNumber"), errors),
            _at(path, "Contact.TaxNumber"),
            errors,
            Invoice,
            "vendor_tax_id_raw",
        ),
        po_number=_limited(
            _text(invoice.get("Reference"), _at(path, "Reference"), errors),
            _at(path, "Reference"),
            errors,
            Invoice,
            "po_number",
        ),
        lines=lines,
        external_id=_limited(
            f"xero-invoice:{invoice_id}" if invoice_id else "", _at(path, "InvoiceID"), errors, Invoice, "external_id"
        ),
    )
    return SourceDocument(path=path, document=document)
