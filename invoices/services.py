"""Writes of invoices. `invoice_create` is the one door every source comes through."""

from __future__ import annotations

import dataclasses
from collections import Counter
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from audit.services import audit_record, document_snapshot
from core.actors import Actor
from core.business_dates import business_date_error
from core.exceptions import DocumentInvalid
from core.money import MAX_MINOR_UNITS, MoneyError, format_minor, normalize_currency, to_minor
from core.quantities import quantity_error, unit_price_error
from core.text import nul_error
from invoices.billing import NO_LONGER_BILLING
from invoices.documents import (
    InvoiceDocument,
    InvoiceLineDocument,
    document_with_positive_total,
    line_amount_minor,
)
from invoices.lifecycle import INVOICE_LIFECYCLE, invoice_transition
from invoices.models import DocumentType, Invoice, InvoiceLine, InvoiceSource, InvoiceStatus
from invoices.numbers import normalize_invoice_number
from invoices.selectors import invoices_of_document_vendor
from matching.models import MatchRun
from matching.services import matching_enqueue
from tenants.models import Tenant
from vendors.models import Vendor
from vendors.selectors import vendor_resolve_exact

INVOICE_UNKNOWN_VENDOR_ID = "No vendor with this id."
INVOICE_NO_VENDOR = "Name the vendor by vendor_id, vendor_tax_id or vendor_name."
INVOICE_NO_LINES = "An invoice needs at least one line."
INVOICE_NUMBER_REQUIRED = "An invoice needs a number with at least one letter or digit."
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
CREDITED_IN_FULL = "Credited in full by credit note {number}."
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


def invoice_create(
    *, tenant: Tenant, document: InvoiceDocument, actor: Actor, source: str = InvoiceSource.API
) -> Invoice:
    """Validate and store an incoming invoice with its lines, all or nothing, in `received`.

    The vendor is resolved exactly (id → tax id → normalized name/alias). An id that is not the
    tenant's is an error; a name or tax id that matches no vendor is accepted and kept raw, for
    the matching engine to resolve fuzzily or flag as `unknown_vendor`. Duplicates are accepted
    too: detecting and explaining them is matching's job (`duplicate_invoice`).

    A credit note names the invoice it credits by number; that invoice is looked up among the
    tenant's invoices of the same vendor (`credited_invoice`, else only the number is kept). A
    credit note for the credited invoice's full total, in its currency, voids it when it is not
    final (DESIGN.md §4), in the same transaction and through the lifecycle's one function.
    Lines with a negative quantity are accepted only from `NEGATIVE_LINES_SOURCES`.

    A document with a negative total is stored as the other kind, signs turned, with
    `converted_from` saying so (invoices.documents.document_with_positive_total: the same rule
    for every source). The prepaid amount (BT-113) is 0 ≤ prepaid ≤ total; an amount due the
    document states (BT-115) must be total − prepaid, give or take 1 minor unit of rounding. The
    stored amount due is always total − prepaid (a generated column).

    Text holding a NUL character is refused before anything is looked up (PostgreSQL can neither
    store nor compare it); dates outside core.business_dates' range are refused by field.
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

    if document.document_type not in DocumentType.values:
        errors["document_type"] = [DOCUMENT_TYPE_UNKNOWN]
    credited_number = document.credited_invoice_number.strip()
    if credited_number and document.document_type != DocumentType.CREDIT_NOTE:
        errors["credited_invoice_number"] = [CREDITED_NUMBER_ONLY_ON_CREDIT_NOTES]

    currency: str | None
    try:
        currency = normalize_currency(document.currency)
    except MoneyError as exc:
        currency = None
        errors["currency"] = [str(exc)]

    normalized_number = normalize_invoice_number(document.invoice_number)
    if not normalized_number:
        errors["invoice_number"] = [INVOICE_NUMBER_REQUIRED]

    vendor = None
    if document.vendor_id is not None:
        vendor = vendor_resolve_exact(tenant=tenant, vendor_id=document.vendor_id)
        if vendor is None:
            errors["vendor_id"] = [INVOICE_UNKNOWN_VENDOR_ID]
    elif document.vendor_tax_id or document.vendor_name:
        vendor = vendor_resolve_exact(tenant=tenant, tax_id=document.vendor_tax_id, name=document.vendor_name)
    else:
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

    if not document.lines:
        errors["lines"] = [INVOICE_NO_LINES]
    line_numbers = [line.line_number or index + 1 for index, line in enumerate(document.lines)]
    repeated = {number for number, count in Counter(line_numbers).items() if count > 1}
    line_amounts: list[int] = []
    for index, line in enumerate(document.lines):
        if line_numbers[index] in repeated:
            errors[f"lines[{index}].line_number"] = [LINE_NUMBER_REPEATED.format(line_number=line_numbers[index])]
        for field_name, problem in (
            ("quantity", _line_quantity_error(line.quantity, negative_allowed=negative_lines, document=document)),
            ("unit_price", unit_price_error(line.unit_price)),
        ):
            if problem:
                errors[f"lines[{index}].{field_name}"] = [problem]
        if line.amount is not None:
            amount = money(f"lines[{index}].amount", line.amount, currency, signed=negative_lines)
            if negative_lines and line.quantity.is_finite() and amount * line.quantity < 0:
                errors[f"lines[{index}].amount"] = [LINE_AMOUNT_SIGN]
            line_amounts.append(amount)
        elif (
            currency is not None
            and f"lines[{index}].quantity" not in errors
            and f"lines[{index}].unit_price" not in errors
        ):
            computed = line_amount_minor(line.quantity, line.unit_price, currency)
            if abs(computed) > MAX_MINOR_UNITS:
                errors[f"lines[{index}].amount"] = [AMOUNT_TOO_LARGE]
                computed = 0
            line_amounts.append(computed)
        else:
            line_amounts.append(0)
    if any(
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
    assert currency is not None  # for the type checker: errors would have been raised

    with transaction.atomic():
        # Locked before this transaction appends to the audit chain, in the order a reviewer's
        # transition takes them (row, then chain), so the two cannot deadlock.
        credited = (
            _credited_invoice_locked(tenant=tenant, vendor=vendor, document=document)
            if document.document_type == DocumentType.CREDIT_NOTE
            else None
        )
        invoice = Invoice.objects.create(
            tenant=tenant,
            vendor=vendor,
            vendor_name_raw=document.vendor_name.strip(),
            vendor_tax_id_raw=document.vendor_tax_id.strip(),
            invoice_number=document.invoice_number.strip(),
            invoice_number_normalized=normalized_number,
            po_number=document.po_number.strip(),
            currency=currency,
            invoice_date=document.invoice_date,
            due_date=document.due_date,
            subtotal_amount=sum(line_amounts),
            tax_amount=tax_amount,
            shipping_amount=shipping_amount,
            total_amount=total_amount,
            prepaid_amount=prepaid_amount,
            converted_from=document.converted_from,
            source=source,
            external_id=document.external_id,
            tax_rate=document.tax_rate,
            document_type=document.document_type,
            credited_invoice=credited,
            credited_invoice_number=credited_number,
        )
        InvoiceLine.objects.bulk_create(
            InvoiceLine(
                tenant=tenant,
                invoice=invoice,
                line_number=line_numbers[index],
                sku=line.sku,
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                amount=line_amounts[index],
                po_line_number=line.po_line_number,
            )
            for index, line in enumerate(document.lines)
        )
        audit_record(
            tenant=tenant,
            actor=actor,
            entity_type="invoice",
            entity_id=invoice.pk,
            action="created",
            after={
                **document_snapshot(document),
                "source": source,
                "vendor_id": str(vendor.pk) if vendor is not None else None,
                "credited_invoice_id": str(credited.pk) if credited is not None else None,
                "status": invoice.status,
            },
        )
        if credited is not None:
            _void_if_credited_in_full(tenant=tenant, credit_note=invoice, credited=credited, actor=actor)
        if settings.MATCH_ON_INGEST:
            matching_enqueue(tenant=tenant, trigger=MatchRun.Trigger.INGEST)
    return invoice


def _unstorable_texts(document: InvoiceDocument) -> dict[str, list[str]]:
    """Every text of the document that holds a NUL, by field (`lines[2].description`).

    The parsers refuse a NUL where they can name its row or payload path; this is the door's own
    check, for every source alike. Every text field counts, including ones added later.
    """
    texts = _texts_of(document)
    for index, line in enumerate(document.lines):
        texts += [(f"lines[{index}].{name}", value) for name, value in _texts_of(line)]
    return {name: [problem] for name, value in texts if (problem := nul_error(value))}


def _texts_of(document: InvoiceDocument | InvoiceLineDocument) -> list[tuple[str, str]]:
    return [
        (field.name, value)
        for field in dataclasses.fields(document)
        if isinstance(value := getattr(document, field.name), str)
    ]


def _line_quantity_error(quantity: Decimal, *, negative_allowed: bool, document: InvoiceDocument) -> str | None:
    """The door's quantity rule: > 0, or ≠ 0 for the sources that may net returns on a document.

    On a document converted for its negative total, a quantity the conversion made negative is
    explained as such (and on total_amount): the sender wrote it positive and would not understand
    "must be > 0".
    """
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


def _credited_invoice_locked(*, tenant: Tenant, vendor: Vendor | None, document: InvoiceDocument) -> Invoice | None:
    """The invoice a credit note credits, locked (`SELECT … FOR NO KEY UPDATE`), or None.

    The same vendor (the resolved one; without one, the same raw tax id and name) and the same
    normalized number, within the tenant. When the number was billed more than once (a duplicate
    that matching rejected, say), the credit is for the one that still bills, else the oldest.
    """
    number = normalize_invoice_number(document.credited_invoice_number)
    if not number:
        return None
    candidates = (
        Invoice.objects.for_tenant(tenant)
        .filter(document_type=DocumentType.INVOICE, invoice_number_normalized=number)
        .order_by("created_at", "id")
    )
    found = invoices_of_document_vendor(
        candidates.only("id", "status", "vendor_tax_id_raw", "vendor_name_raw"), vendor=vendor, document=document
    )
    if not found:
        return None
    chosen = next((candidate for candidate in found if candidate.status not in NO_LONGER_BILLING), found[0])
    return Invoice.objects.for_tenant(tenant).select_for_update(no_key=True).get(pk=chosen.pk)


def _void_if_credited_in_full(*, tenant: Tenant, credit_note: Invoice, credited: Invoice, actor: Actor) -> None:
    """DESIGN.md §4: "any non-final → void: credit note for the full amount".

    Full = the credited invoice's total, in its currency. A partial credit changes no state: what
    is still owed is the difference, for review and payment matching to see. An invoice already
    final (rejected, reconciled, void) is left alone; the credit note is stored all the same.
    """
    if InvoiceStatus.VOID not in INVOICE_LIFECYCLE.allowed_from(credited.status):
        return  # final, or reconciled (closed to everything but a payment reversal)
    if (credit_note.currency, credit_note.total_amount) != (credited.currency, credited.total_amount):
        return
    invoice_transition(
        tenant=tenant,
        invoice=credited,
        to_status=InvoiceStatus.VOID,
        actor=actor,
        reason=CREDITED_IN_FULL.format(number=credit_note.invoice_number),
        context={"credit_note_id": str(credit_note.pk), "credit_note_number": credit_note.invoice_number},
    )
