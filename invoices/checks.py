"""The one door's rules for an incoming invoice or credit note, the same for every source.

`invoice_document_check` reads a normalized document (invoices.documents) and answers with what
will be stored — the currency, the amounts in its minor units, the resolved vendor, the line
numbers and amounts — or raises `DocumentInvalid` with every problem by field (`lines[2].quantity`),
so that a CSV row, an API field and a cell of the web form each get their own error. Nothing is
written here: invoices.services writes what it returns.

A draft (a document a clerk is still typing in, `complete=False`) is held to the same shape rules
— a number, an amount, a quantity is either right or refused — but may still lack its number,
date, vendor and lines; submitting it checks it complete, like any other document.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from core.bank_accounts import account_hash, encrypt_account, mask_account, normalize_account
from core.business_dates import business_date_error
from core.exceptions import DocumentInvalid
from core.money import MAX_MINOR_UNITS, MoneyError, format_minor, normalize_currency, to_minor
from core.quantities import line_amount_minor, quantity_error, unit_price_error
from core.text import nul_error
from invoices.documents import InvoiceDocument, InvoiceLineDocument, document_with_positive_total
from invoices.models import DocumentType, Invoice, InvoiceSource
from invoices.numbers import normalize_invoice_number
from invoices.terms import AgreedTerms, InvoiceTerms, StatedTerms, invoice_terms
from tenants.models import Tenant
from vendors.ingest import VendorCache
from vendors.models import Vendor
from vendors.selectors import vendor_resolve_exact

INVOICE_UNKNOWN_VENDOR_ID = "No vendor with this id."
INVOICE_NO_VENDOR = "Name the vendor by vendor_id, vendor_tax_id or vendor_name."
INVOICE_NO_LINES = "An invoice needs at least one line."
INVOICE_NUMBER_REQUIRED = "An invoice needs a number with at least one letter or digit."
INVOICE_DATE_REQUIRED = "An invoice needs its date."
CURRENCY_BEFORE_AMOUNTS = "Choose the currency: amounts and lines are kept in its units."
LINE_NUMBER_REPEATED = "Line number {line_number} appears more than once."
AMOUNT_NEGATIVE = "Must not be negative."
AMOUNT_TOO_LARGE = "Too large: quantity × unit price does not fit in an amount."
SUBTOTAL_TOO_LARGE = "The lines add up to more than an amount can hold."
TAX_RATE_RANGE = "A tax rate is a percentage from 0 to 100."
TAX_RATE_PLACES = "A tax rate has at most 3 decimal places."
DOCUMENT_TYPE_UNKNOWN = "A document is an invoice or a credit_note."
CREDITED_NUMBER_ONLY_ON_CREDIT_NOTES = "Only a credit note names the invoice it credits."
QUANTITY_ZERO = "Must not be 0."
LINE_AMOUNT_SIGN = "A line's amount has the sign of its quantity (a unit price is never negative)."
PREPAID_EXCEEDS_TOTAL = "The prepaid amount cannot exceed the total ({total})."
AMOUNT_DUE_DISAGREES = (
    "The amount due {amount_due} is not the total {total} less the prepaid amount {prepaid} = {expected} "
    "(at most 1 minor unit of rounding)."
)
NEGATIVE_TOTAL_POSITIVE_LINES = (
    "A negative total makes this {stated} a {stored}: it is stored as one with every sign turned "
    "(converted_from), but then its lines would bill negative quantities. Send a {stored} with a "
    "positive total, or give the lines of a negative {stated} negative quantities."
)
DISCOUNT_PCT_RANGE = "An early-payment discount is a percent more than 0 and less than 100."
DISCOUNT_PCT_PLACES = "An early-payment discount percent has at most 2 decimal places."
DISCOUNT_DAYS_RANGE = "Discount days are a whole number from 0 to 999."
DISCOUNT_EXCEEDS_DUE = "The early-payment discount cannot exceed the amount due."
PAYMENT_TERMS_TOO_LONG = "At most {max} characters."
PAYEE_ACCOUNT_TOO_LONG = "An account number has at most 64 characters."
CONVERTED_LINE_QUANTITY = "Would be {quantity} in the {stored} this negative document is stored as; see total_amount."
CONVERTED_AMOUNT = (
    "Would be {amount} in the {stored} this negative {stated} is stored as: a negative {stated} "
    "states its tax, shipping and prepaid amounts negative too."
)

# Sources whose lines may have a negative quantity: a return or correction netted on the same
# document. EN 16931 allows it (BT-129; the Peppol BIS base example has one) and the sender's
# access point has checked the line amount against it. In a typed CSV cell or JSON value a
# negative quantity is far likelier a slip, so those sources keep quantities > 0.
NEGATIVE_LINES_SOURCES = frozenset({InvoiceSource.XML})
# DocumentType.values builds its list on every call.
_DOCUMENT_TYPES = frozenset(DocumentType.values)


@dataclass(frozen=True)
class CheckedInvoice:
    """A document that passed the door's rules, with what will be stored for it."""

    document: InvoiceDocument  # after the sign rule (document_with_positive_total)
    currency: str
    normalized_number: str
    vendor: Vendor | None
    tax_amount: int
    shipping_amount: int
    total_amount: int
    prepaid_amount: int
    line_numbers: list[int]
    line_amounts: list[int]
    credited_number: str
    terms: InvoiceTerms  # the document's, else the vendor's (invoices.terms)
    payee_account: str  # as stated, normalized; the document holds only its mask

    # The invoice's columns a document sets (not its state, source or credited invoice).
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "vendor", "vendor_name_raw", "vendor_tax_id_raw", "invoice_number", "invoice_number_normalized",
        "po_number", "currency", "invoice_date", "due_date", "subtotal_amount", "tax_amount", "shipping_amount",
        "total_amount", "prepaid_amount", "converted_from", "external_id", "tax_rate", "document_type",
        "credited_invoice_number", "payment_terms_note", "discount_pct", "discount_due_date", "discount_amount",
        "payee_account_encrypted", "payee_account_hash", "payee_account_mask",
    )  # fmt: skip

    def columns(self) -> dict[str, Any]:
        """`COLUMNS` with the values this document gives them."""
        document = self.document
        values = {
            "vendor": self.vendor,
            "vendor_name_raw": document.vendor_name.strip(),
            "vendor_tax_id_raw": document.vendor_tax_id.strip(),
            "invoice_number": document.invoice_number.strip(),
            "invoice_number_normalized": self.normalized_number,
            "po_number": document.po_number.strip(),
            "currency": self.currency,
            "invoice_date": document.invoice_date,
            "due_date": self.terms.due_date,
            "subtotal_amount": sum(self.line_amounts),
            "tax_amount": self.tax_amount,
            "shipping_amount": self.shipping_amount,
            "total_amount": self.total_amount,
            "prepaid_amount": self.prepaid_amount,
            "converted_from": document.converted_from,
            "external_id": document.external_id,
            "tax_rate": document.tax_rate,
            "document_type": document.document_type,
            "credited_invoice_number": self.credited_number,
            "payment_terms_note": self.terms.note,
            "discount_pct": self.terms.discount_pct,
            "discount_due_date": self.terms.discount_due_date,
            "discount_amount": self.terms.discount_amount,
            "payee_account_encrypted": encrypt_account(self.payee_account),
            "payee_account_hash": account_hash(self.payee_account),
            "payee_account_mask": mask_account(self.payee_account),
        }
        assert tuple(values) == self.COLUMNS
        return values


def invoice_document_check(
    *,
    tenant: Tenant,
    document: InvoiceDocument,
    source: str,
    complete: bool = True,
    vendors: VendorCache | None = None,
) -> CheckedInvoice:
    """Every rule of the door, for every source (module docstring).

    The vendor is resolved exactly (id → tax id → normalized name/alias). An id that is not the
    tenant's is an error; a name or tax id that matches no vendor is accepted and kept raw, for
    the matching engine to resolve fuzzily or flag as `unknown_vendor`. Lines with a negative
    quantity are accepted only from `NEGATIVE_LINES_SOURCES`. A document with a negative total is
    stored as the other kind, signs turned (invoices.documents.document_with_positive_total). The
    prepaid amount (BT-113) is 0 ≤ prepaid ≤ total; an amount due the document states (BT-115) must
    be total − prepaid, give or take 1 minor unit of rounding. Text holding a NUL character is
    refused before anything is looked up (PostgreSQL can neither store nor compare it); dates
    outside core.business_dates' range are refused by field. `vendors`, when given, resolves the
    vendor from what it remembers (a batch's references preloaded: invoices.bulk).
    """
    document = document_with_positive_total(document)
    if unstorable := _unstorable_texts(document):
        raise DocumentInvalid("The invoice is invalid; see details.", details=unstorable)
    errors: dict[str, list[str]] = {
        field_name: [problem]
        for field_name, value in (("invoice_date", document.invoice_date), ("due_date", document.due_date))
        if (problem := business_date_error(value))
    }
    negative_lines = source in NEGATIVE_LINES_SOURCES

    def money(field_name: str, value: Decimal | None, currency: str | None, *, signed: bool = False) -> int:
        if value is None or currency is None:
            return 0
        try:
            minor = to_minor(value, currency)
        except MoneyError as exc:
            errors[field_name] = [str(exc)]
            return 0
        if minor < 0 and not signed:
            # Written positive beside a negative total, the sign rule turned it: "must not be
            # negative" about a positive number would make no sense to the sender.
            converted = bool(document.converted_from) and not field_name.startswith("lines[")
            errors[field_name] = [
                CONVERTED_AMOUNT.format(
                    amount=value,
                    stored=_kind_label(document.document_type),
                    stated=_kind_label(document.converted_from),
                )
                if converted
                else AMOUNT_NEGATIVE
            ]
        return minor

    if document.document_type not in _DOCUMENT_TYPES:
        errors["document_type"] = [DOCUMENT_TYPE_UNKNOWN]
    credited_number = document.credited_invoice_number.strip()
    if credited_number and document.document_type != DocumentType.CREDIT_NOTE:
        errors["credited_invoice_number"] = [CREDITED_NUMBER_ONLY_ON_CREDIT_NOTES]

    currency: str | None = None
    # A draft may not know its currency yet (a PDF waiting to be typed in): then it holds no
    # amount, since amounts are kept in a currency's minor units.
    currency_unknown = not complete and not document.currency.strip()
    if currency_unknown:
        amounts = (document.tax_amount, document.shipping_amount, document.total_amount, document.prepaid_amount)
        if document.lines or any(amount for amount in amounts):
            errors["currency"] = [CURRENCY_BEFORE_AMOUNTS]
    else:
        try:
            currency = normalize_currency(document.currency)
        except MoneyError as exc:
            errors["currency"] = [str(exc)]

    normalized_number = normalize_invoice_number(document.invoice_number)
    if not normalized_number and (complete or document.invoice_number.strip()):
        errors["invoice_number"] = [INVOICE_NUMBER_REQUIRED]
    if document.invoice_date is None and complete:
        errors["invoice_date"] = [INVOICE_DATE_REQUIRED]

    resolve = vendors.resolve if vendors is not None else functools.partial(vendor_resolve_exact, tenant=tenant)
    vendor = None
    if document.vendor_id is not None:
        vendor = resolve(vendor_id=document.vendor_id)
        if vendor is None:
            errors["vendor_id"] = [INVOICE_UNKNOWN_VENDOR_ID]
    elif document.vendor_tax_id or document.vendor_name:
        vendor = resolve(tax_id=document.vendor_tax_id, name=document.vendor_name)
    elif complete:
        errors["vendor"] = [INVOICE_NO_VENDOR]

    tax_amount = money("tax_amount", document.tax_amount, currency)
    if document.tax_rate is not None:
        if not document.tax_rate.is_finite() or not 0 <= document.tax_rate <= 100:
            errors["tax_rate"] = [TAX_RATE_RANGE]
        elif document.tax_rate.quantize(Decimal("0.001")) != document.tax_rate:
            errors["tax_rate"] = [TAX_RATE_PLACES]
    shipping_amount = money("shipping_amount", document.shipping_amount, currency)
    total_amount = money("total_amount", document.total_amount, currency)
    prepaid_amount = money("prepaid_amount", document.prepaid_amount, currency)
    if "total_amount" not in errors and prepaid_amount > total_amount:
        errors.setdefault("prepaid_amount", []).append(PREPAID_EXCEEDS_TOTAL.format(total=document.total_amount))
    if document.amount_due is not None:
        amount_due = money("amount_due", document.amount_due, currency, signed=True)
        expected_due = total_amount - prepaid_amount
        checkable = currency is not None and not errors.keys() & {"amount_due", "total_amount", "prepaid_amount"}
        if checkable and abs(amount_due - expected_due) > 1:
            assert currency is not None  # for the type checker
            errors["amount_due"] = [
                AMOUNT_DUE_DISAGREES.format(
                    amount_due=document.amount_due,
                    total=document.total_amount,
                    prepaid=document.prepaid_amount,
                    expected=format_minor(expected_due, currency),
                )
            ]

    terms_note = _terms_errors(document, errors)
    stated_discount_minor = (
        money("discount_amount", document.discount_amount, currency) if document.discount_amount is not None else None
    )
    if (
        stated_discount_minor is not None
        and "discount_amount" not in errors
        and stated_discount_minor > total_amount - prepaid_amount
    ):
        errors["discount_amount"] = [DISCOUNT_EXCEEDS_DUE]

    if not document.lines and complete:
        errors["lines"] = [INVOICE_NO_LINES]
    line_numbers = [line.line_number or index + 1 for index, line in enumerate(document.lines)]
    repeated = {number for number, count in Counter(line_numbers).items() if count > 1}
    line_amounts: list[int] = []
    for index, line in enumerate(document.lines):
        if line_numbers[index] in repeated:
            errors[f"lines[{index}].line_number"] = [LINE_NUMBER_REPEATED.format(line_number=line_numbers[index])]
        # Each line's problems by name only when it has one: a bulk import checks every line of
        # hundreds of thousands, nearly all without.
        quantity_problem = _line_quantity_error(line.quantity, negative_allowed=negative_lines, document=document)
        if quantity_problem:
            errors[f"lines[{index}].quantity"] = [quantity_problem]
        price_problem = unit_price_error(line.unit_price)
        if price_problem:
            errors[f"lines[{index}].unit_price"] = [price_problem]
        if line.amount is not None:
            amount = money(f"lines[{index}].amount", line.amount, currency, signed=negative_lines)
            if negative_lines and line.quantity.is_finite() and amount * line.quantity < 0:
                errors[f"lines[{index}].amount"] = [LINE_AMOUNT_SIGN]
            line_amounts.append(amount)
        elif currency is not None and not quantity_problem and not price_problem:
            computed = line_amount_minor(line.quantity, line.unit_price, currency)
            if abs(computed) > MAX_MINOR_UNITS:
                errors[f"lines[{index}].amount"] = [AMOUNT_TOO_LARGE]
                computed = 0
            line_amounts.append(computed)
        else:
            line_amounts.append(0)
    if document.converted_from and any(
        _turned_negative(line.quantity, negative_allowed=negative_lines, document=document) for line in document.lines
    ):
        errors.setdefault("total_amount", []).append(
            NEGATIVE_TOTAL_POSITIVE_LINES.format(
                stated=_kind_label(document.converted_from), stored=_kind_label(document.document_type)
            )
        )
    if abs(sum(line_amounts)) > MAX_MINOR_UNITS:  # each line fits a BIGINT, their sum may not
        errors.setdefault("lines", []).append(SUBTOTAL_TOO_LARGE)

    if errors:
        raise DocumentInvalid("The invoice is invalid; see details.", details=errors)
    if currency is None:  # no errors: a draft without a currency, and so without amounts
        currency = ""
    terms = invoice_terms(
        stated=StatedTerms(
            note=terms_note,
            due_date=document.due_date,
            discount_pct=document.discount_pct,
            discount_days=document.discount_days,
            discount_due_date=document.discount_due_date,
            discount_amount=stated_discount_minor,
        ),
        agreed=AgreedTerms(
            net_days=vendor.payment_net_days, discount_pct=vendor.discount_pct, discount_days=vendor.discount_days
        )
        if vendor is not None
        else None,
        invoice_date=document.invoice_date,
        amount_due=total_amount - prepaid_amount,
        currency=currency,
    )
    payee_account = normalize_account(document.payee_account)
    if (payee_mask := mask_account(payee_account)) != document.payee_account:  # most documents name none
        document = dataclasses.replace(document, payee_account=payee_mask)
    return CheckedInvoice(
        document=document,
        currency=currency,
        normalized_number=normalized_number,
        vendor=vendor,
        tax_amount=tax_amount,
        shipping_amount=shipping_amount,
        total_amount=total_amount,
        prepaid_amount=prepaid_amount,
        line_numbers=line_numbers,
        line_amounts=line_amounts,
        credited_number=credited_number,
        terms=terms,
        payee_account=payee_account,
    )


def _terms_errors(document: InvoiceDocument, errors: dict[str, list[str]]) -> str:
    """The stated terms' problems, added to `errors`; returns the note as it will be stored."""
    if document.discount_pct is not None:
        pct = document.discount_pct
        if not pct.is_finite() or not 0 < pct < 100:
            errors["discount_pct"] = [DISCOUNT_PCT_RANGE]
        elif pct.quantize(Decimal("0.01")) != pct:
            errors["discount_pct"] = [DISCOUNT_PCT_PLACES]
    if document.discount_days is not None and not 0 <= document.discount_days <= 999:
        errors["discount_days"] = [DISCOUNT_DAYS_RANGE]
    if problem := business_date_error(document.discount_due_date):
        errors["discount_due_date"] = [problem]
    note = " ".join(document.payment_terms_note.split())
    note_max = Invoice._meta.get_field("payment_terms_note").max_length or 255
    if len(note) > note_max:
        errors["payment_terms_note"] = [PAYMENT_TERMS_TOO_LONG.format(max=note_max)]
    if len(normalize_account(document.payee_account)) > 64:
        errors["payee_account"] = [PAYEE_ACCOUNT_TOO_LONG]
    return note


def _unstorable_texts(document: InvoiceDocument) -> dict[str, list[str]]:
    """Every text of the document that holds a NUL, by field (`lines[2].description`).

    The parsers refuse a NUL where they can name its row or payload path; this is the door's own
    check, for every source alike. Every text field counts, including ones added later.
    """
    if not _may_hold_nul(document) and not any(map(_may_hold_nul, document.lines)):
        return {}
    texts = _texts_of(document)
    for index, line in enumerate(document.lines):
        texts += [(f"lines[{index}].{name}", value) for name, value in _texts_of(line)]
    return {name: [problem] for name, value in texts if (problem := nul_error(value))}


def _texts_of(document: InvoiceDocument | InvoiceLineDocument) -> list[tuple[str, str]]:
    return [(name, value) for name in _field_names(type(document)) if isinstance(value := getattr(document, name), str)]


def _may_hold_nul(document: InvoiceDocument | InvoiceLineDocument) -> bool:
    """False when no field of `document` (its lines aside) holds a NUL; True when one may.

    The check of nearly every document, cheaper than looking at each text in Python (a bulk
    import checks every field of hundreds of thousands of lines): the fields' values in one
    `repr`, in C, where a NUL in a text shows as the escape `\\x00`. A text that holds those four
    characters themselves is a false alarm, which the exact look of `_unstorable_texts` clears.
    """
    return "\\x00" in repr(_values_getter(type(document))(document))


@functools.cache
def _values_getter(kind: type) -> Callable[[Any], tuple[Any, ...]]:
    names = tuple(name for name in _field_names(kind) if name != "lines")
    return operator.attrgetter(*names)  # type: ignore[return-value]  # a tuple: more than one name


@functools.cache
def _field_names(kind: type) -> tuple[str, ...]:
    # Once per class, not per document and line: a bulk import checks hundreds of thousands.
    return tuple(field.name for field in dataclasses.fields(kind))


def _line_quantity_error(quantity: Decimal, *, negative_allowed: bool, document: InvoiceDocument) -> str | None:
    """The door's quantity rule: > 0, or ≠ 0 for the sources that may net returns on a document.

    On a document converted for its negative total, a quantity the conversion made negative is
    explained as such (and on total_amount): the sender wrote it positive and would not understand
    "must be > 0".
    """
    if not negative_allowed and not document.converted_from:  # the usual case, at once
        return quantity_error(quantity)
    if _turned_negative(quantity, negative_allowed=negative_allowed, document=document):
        return CONVERTED_LINE_QUANTITY.format(stored=_kind_label(document.document_type), quantity=quantity)
    if negative_allowed and quantity.is_finite():
        return QUANTITY_ZERO if quantity == 0 else quantity_error(abs(quantity))
    return quantity_error(quantity)


def _turned_negative(quantity: Decimal, *, negative_allowed: bool, document: InvoiceDocument) -> bool:
    """A line quantity written positive that the sign rule made negative, from a typed source."""
    return bool(document.converted_from) and not negative_allowed and quantity.is_finite() and quantity < 0


def _kind_label(document_type: str) -> str:
    return document_type.replace("_", " ")
