"""Writes of purchase orders and goods receipts: each document is one atomic write."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence

from django.db import IntegrityError, transaction

from audit.services import AuditEntry, audit_record_many, document_snapshot
from core.actors import Actor
from core.business_dates import business_date_error
from core.exceptions import DocumentInvalid, DuplicateDocument
from core.locks import matching_lock_wait
from core.money import MoneyError, normalize_currency
from core.quantities import quantity_error, unit_price_error
from matching.holds import matching_requeue_for_new_purchase_orders, matching_requeue_for_receipts
from purchasing.documents import GoodsReceiptDocument, PurchaseOrderDocument
from purchasing.models import GoodsReceipt, GoodsReceiptLine, PurchaseOrder, PurchaseOrderLine
from tenants.models import Tenant
from vendors.models import Vendor

PO_DUPLICATE = "Purchase order {po_number!r} already exists."
PO_UNKNOWN_VENDOR = "No vendor with this id."
PO_NO_LINES = "A purchase order needs at least one line."
LINE_NUMBER_POSITIVE = "Line numbers start at 1."
LINE_NUMBER_REPEATED = "Line number {line_number} appears more than once."
RECEIPT_DUPLICATE = "Goods receipt {receipt_number!r} already exists."
RECEIPT_UNKNOWN_PO = "No purchase order {po_number!r}."
RECEIPT_PO_CANCELLED = "Purchase order {po_number!r} is cancelled; nothing can be received against it."
RECEIPT_NO_LINES = "A goods receipt needs at least one line."
RECEIPT_UNKNOWN_PO_LINE = "Purchase order {po_number!r} has no line {line_number}."


def _repeated_line_numbers(numbers: list[int]) -> dict[str, list[str]]:
    counts = Counter(numbers)
    return {
        f"lines[{index}].line_number": [LINE_NUMBER_REPEATED.format(line_number=number)]
        for index, number in enumerate(numbers)
        if counts[number] > 1
    }


def _purchase_order_errors(*, document: PurchaseOrderDocument, vendor: Vendor | None) -> dict[str, list[str]]:
    """What is wrong with a PO document whose vendor is `vendor` (None: unknown), by field."""
    errors: dict[str, list[str]] = {}
    try:
        normalize_currency(document.currency)
    except MoneyError as exc:
        errors["currency"] = [str(exc)]
    if vendor is None:
        errors["vendor_id"] = [PO_UNKNOWN_VENDOR]
    if not document.lines:
        errors["lines"] = [PO_NO_LINES]
    for field_name, value in (("order_date", document.order_date), ("expected_date", document.expected_date)):
        if problem := business_date_error(value):
            errors[field_name] = [problem]
    errors.update(_repeated_line_numbers([line.line_number for line in document.lines]))
    for index, line in enumerate(document.lines):
        for field_name, problem in (
            ("line_number", None if line.line_number > 0 else LINE_NUMBER_POSITIVE),
            ("quantity", quantity_error(line.quantity)),
            ("unit_price", unit_price_error(line.unit_price)),
        ):
            if problem:
                errors[f"lines[{index}].{field_name}"] = [problem]
    return errors


def _purchase_orders_write(
    *, tenant: Tenant, documents: Sequence[PurchaseOrderDocument], vendors: dict[uuid.UUID, Vendor], actor: Actor
) -> list[PurchaseOrder]:
    """The checked documents' rows (each table in one statement), the re-match of the open invoices
    that named their numbers, and their events: inside the caller's transaction."""
    # Before any write: a run in flight finishes first, so none can match an invoice naming one
    # of these numbers against "no such PO" after the look-up below (as a receipt).
    matching_lock_wait(tenant=tenant)
    orders = PurchaseOrder.objects.bulk_create(
        PurchaseOrder(
            tenant=tenant,
            po_number=document.po_number,
            vendor=vendors[document.vendor_id],
            currency=normalize_currency(document.currency),
            order_date=document.order_date,
            expected_date=document.expected_date,
        )
        for document in documents
    )
    PurchaseOrderLine.objects.bulk_create(
        PurchaseOrderLine(
            tenant=tenant,
            purchase_order=purchase_order,
            line_number=line.line_number,
            sku=line.sku,
            description=line.description,
            quantity=line.quantity,
            uom=line.uom or "EA",
            unit_price=line.unit_price,
            cost_centre=line.cost_centre.strip(),
        )
        for purchase_order, document in zip(orders, documents, strict=True)
        for line in document.lines
    )
    # Open invoices that named these numbers before they existed are matched again; their rows
    # are locked before the audit chain (row, then chain: core/locks.py).
    matching_requeue_for_new_purchase_orders(tenant=tenant, purchase_orders=orders, actor=actor)
    audit_record_many(
        tenant=tenant,
        actor=actor,
        entries=[
            AuditEntry("purchase_order", str(purchase_order.pk), "created", None, document_snapshot(document))
            for purchase_order, document in zip(orders, documents, strict=True)
        ],
    )
    return orders


def purchase_order_create(*, tenant: Tenant, document: PurchaseOrderDocument, actor: Actor) -> PurchaseOrder:
    """Store a PO with its lines, all or nothing. The PO number is unique per tenant.

    Open invoices (in review, on hold) that name its number were matched when it did not exist:
    they go back to `received` with it, to be matched again (DESIGN.md §4, matching.holds).
    """
    vendor = Vendor.objects.for_tenant(tenant).filter(pk=document.vendor_id).first()
    if errors := _purchase_order_errors(document=document, vendor=vendor):
        raise DocumentInvalid("The purchase order is invalid; see details.", details=errors)
    assert vendor is not None  # an unknown vendor is one of the errors above
    if PurchaseOrder.objects.for_tenant(tenant).filter(po_number=document.po_number).exists():
        raise DuplicateDocument(
            PO_DUPLICATE.format(po_number=document.po_number), details={"po_number": document.po_number}
        )
    try:
        with transaction.atomic():
            [purchase_order] = _purchase_orders_write(
                tenant=tenant, documents=[document], vendors={vendor.pk: vendor}, actor=actor
            )
    except IntegrityError as exc:  # a concurrent create of the same number
        raise DuplicateDocument(PO_DUPLICATE.format(po_number=document.po_number)) from exc
    return purchase_order


def purchase_order_create_many(
    *, tenant: Tenant, documents: Sequence[PurchaseOrderDocument], actor: Actor
) -> list[PurchaseOrder]:
    """`purchase_order_create` for many POs, all or nothing: the same rows, re-matches and events
    as the documents sent one after the other, with each table written in one statement and the
    vendors and the numbers taken read once for the whole batch.

    A refused document raises `DocumentInvalid` (or `DuplicateDocument`) with its fields under
    `documents[<index>].`, and nothing is written.
    """
    if not documents:
        return []
    vendors = {
        vendor.pk: vendor
        for vendor in Vendor.objects.for_tenant(tenant).filter(pk__in={document.vendor_id for document in documents})
    }
    numbers = [document.po_number for document in documents]
    taken = set(
        PurchaseOrder.objects.for_tenant(tenant).filter(po_number__in=numbers).values_list("po_number", flat=True)
    )
    seen: set[str] = set()
    for index, document in enumerate(documents):
        if errors := _purchase_order_errors(document=document, vendor=vendors.get(document.vendor_id)):
            details = {f"documents[{index}].{path}": problem for path, problem in errors.items()}
            raise DocumentInvalid(f"documents[{index}]: The purchase order is invalid; see details.", details=details)
        if document.po_number in taken or document.po_number in seen:
            raise DuplicateDocument(
                PO_DUPLICATE.format(po_number=document.po_number),
                details={f"documents[{index}].po_number": document.po_number},
            )
        seen.add(document.po_number)
    try:
        with transaction.atomic():
            return _purchase_orders_write(tenant=tenant, documents=documents, vendors=vendors, actor=actor)
    except IntegrityError as exc:  # a concurrent create of one of the numbers
        raise DuplicateDocument(PO_DUPLICATE.format(po_number=", ".join(numbers))) from exc


def _receipt_document_errors(
    *, document: GoodsReceiptDocument, po_lines: dict[int, PurchaseOrderLine]
) -> dict[str, list[str]]:
    """What is wrong with a goods receipt for the PO of `po_lines` (by line number), by field."""
    errors: dict[str, list[str]] = {}
    if not document.lines:
        errors["lines"] = [RECEIPT_NO_LINES]
    if problem := business_date_error(document.received_date):
        errors["received_date"] = [problem]
    for index, line in enumerate(document.lines):
        if problem := quantity_error(line.quantity):
            errors[f"lines[{index}].quantity"] = [problem]
        if line.po_line_number not in po_lines:
            message = RECEIPT_UNKNOWN_PO_LINE.format(po_number=document.po_number, line_number=line.po_line_number)
            errors[f"lines[{index}].po_line_number"] = [message]
    errors.update(
        {
            key.replace(".line_number", ".po_line_number"): value
            for key, value in _repeated_line_numbers([line.po_line_number for line in document.lines]).items()
        }
    )
    return errors


def _receipt_po_refusal(
    *, document: GoodsReceiptDocument, purchase_order: PurchaseOrder | None
) -> DocumentInvalid | None:
    if purchase_order is None:
        message = RECEIPT_UNKNOWN_PO.format(po_number=document.po_number)
        return DocumentInvalid(message, details={"po_number": [message]})
    if purchase_order.status == PurchaseOrder.Status.CANCELLED:
        message = RECEIPT_PO_CANCELLED.format(po_number=document.po_number)
        return DocumentInvalid(message, details={"po_number": [message]})
    return None


def _receipts_booked(
    *,
    tenant: Tenant,
    receipts: Sequence[GoodsReceipt],
    documents: Sequence[GoodsReceiptDocument],
    actor: Actor,
) -> None:
    """After the receipts' rows are written: the invoices on hold for these goods go back to
    `received` (each receipt's, in their order), then the receipts' own events. Their rows are
    locked before the audit chain is appended to (row, then chain: the order of core/locks.py),
    so their events come first."""
    matching_requeue_for_receipts(tenant=tenant, goods_receipts=receipts)
    audit_record_many(
        tenant=tenant,
        actor=actor,
        entries=[
            AuditEntry("goods_receipt", str(receipt.pk), "created", None, document_snapshot(document))
            for receipt, document in zip(receipts, documents, strict=True)
        ],
    )


def goods_receipt_create(*, tenant: Tenant, document: GoodsReceiptDocument, actor: Actor) -> GoodsReceipt:
    """Store what arrived against a PO's lines. Several receipts per PO are normal.

    Invoices of the PO waiting `on_hold` for the goods go back to `received` with it, to be
    matched again (DESIGN.md §4).
    """
    purchase_order = PurchaseOrder.objects.for_tenant(tenant).filter(po_number=document.po_number).first()
    if refusal := _receipt_po_refusal(document=document, purchase_order=purchase_order):
        raise refusal
    assert purchase_order is not None
    po_lines = {line.line_number: line for line in purchase_order.lines.all()}
    if errors := _receipt_document_errors(document=document, po_lines=po_lines):
        raise DocumentInvalid("The goods receipt is invalid; see details.", details=errors)
    if GoodsReceipt.objects.for_tenant(tenant).filter(receipt_number=document.receipt_number).exists():
        message = RECEIPT_DUPLICATE.format(receipt_number=document.receipt_number)
        raise DuplicateDocument(message, details={"receipt_number": document.receipt_number})
    try:
        with transaction.atomic():
            # Before any write (and the audit lock): a run of this tenant in flight finishes first.
            matching_lock_wait(tenant=tenant)
            # The status again, now that the matching lock is held: a PO's transition takes that
            # lock first too, so a cancel committed since the check above refuses the receipt, and
            # a cancel that comes after waits for this transaction and then sees the receipt
            # (purchasing.lifecycle refuses to cancel a PO with goods received). Not a row lock:
            # a CSV import's later receipts would take it after the audit lock.
            current_status = (
                PurchaseOrder.objects.for_tenant(tenant).values_list("status", flat=True).get(pk=purchase_order.pk)
            )
            if current_status == PurchaseOrder.Status.CANCELLED:
                message = RECEIPT_PO_CANCELLED.format(po_number=document.po_number)
                raise DocumentInvalid(message, details={"po_number": [message]})
            receipt = GoodsReceipt.objects.create(
                tenant=tenant,
                receipt_number=document.receipt_number,
                purchase_order=purchase_order,
                received_date=document.received_date,
            )
            GoodsReceiptLine.objects.bulk_create(
                GoodsReceiptLine(
                    tenant=tenant,
                    goods_receipt=receipt,
                    purchase_order_line=po_lines[line.po_line_number],
                    quantity=line.quantity,
                )
                for line in document.lines
            )
            _receipts_booked(tenant=tenant, receipts=[receipt], documents=[document], actor=actor)
    except IntegrityError as exc:
        raise DuplicateDocument(RECEIPT_DUPLICATE.format(receipt_number=document.receipt_number)) from exc
    return receipt


def goods_receipt_create_many(
    *, tenant: Tenant, documents: Sequence[GoodsReceiptDocument], actor: Actor
) -> list[GoodsReceipt]:
    """`goods_receipt_create` for many receipts, all or nothing: the same rows and events as the
    documents sent one after the other, in their order, with each table written in one statement
    and the POs, their lines and the numbers taken read once for the whole batch.

    A refused document raises `DocumentInvalid` (or `DuplicateDocument`) with its fields under
    `documents[<index>].`, and nothing is written.
    """
    if not documents:
        return []
    numbers = {document.po_number for document in documents}
    orders = {
        order.po_number: order for order in PurchaseOrder.objects.for_tenant(tenant).filter(po_number__in=numbers)
    }
    lines_of: dict[uuid.UUID, dict[int, PurchaseOrderLine]] = {order.pk: {} for order in orders.values()}
    for po_line in PurchaseOrderLine.objects.for_tenant(tenant).filter(purchase_order_id__in=list(lines_of)):
        lines_of[po_line.purchase_order_id][po_line.line_number] = po_line
    receipt_numbers = [document.receipt_number for document in documents]
    taken = set(
        GoodsReceipt.objects.for_tenant(tenant)
        .filter(receipt_number__in=receipt_numbers)
        .values_list("receipt_number", flat=True)
    )
    seen: set[str] = set()
    for index, document in enumerate(documents):
        purchase_order = orders.get(document.po_number)
        refusal = _receipt_po_refusal(document=document, purchase_order=purchase_order)
        if refusal is None:
            assert purchase_order is not None
            errors = _receipt_document_errors(document=document, po_lines=lines_of[purchase_order.pk])
            if errors:
                refusal = DocumentInvalid("The goods receipt is invalid; see details.", details=errors)
        if refusal is not None:
            details = {f"documents[{index}].{path}": problem for path, problem in (refusal.details or {}).items()}
            raise DocumentInvalid(f"documents[{index}]: {refusal.message}", details=details)
        if document.receipt_number in taken or document.receipt_number in seen:
            message = RECEIPT_DUPLICATE.format(receipt_number=document.receipt_number)
            raise DuplicateDocument(message, details={f"documents[{index}].receipt_number": document.receipt_number})
        seen.add(document.receipt_number)
    try:
        with transaction.atomic():
            matching_lock_wait(tenant=tenant)
            # The POs' status again under the matching lock, as goods_receipt_create does.
            cancelled = set(
                PurchaseOrder.objects.for_tenant(tenant)
                .filter(pk__in=[order.pk for order in orders.values()], status=PurchaseOrder.Status.CANCELLED)
                .values_list("po_number", flat=True)
            )
            if cancelled:
                message = RECEIPT_PO_CANCELLED.format(po_number=min(cancelled))
                raise DocumentInvalid(message, details={"po_number": [message]})
            receipts = GoodsReceipt.objects.bulk_create(
                GoodsReceipt(
                    tenant=tenant,
                    receipt_number=document.receipt_number,
                    purchase_order=orders[document.po_number],
                    received_date=document.received_date,
                )
                for document in documents
            )
            GoodsReceiptLine.objects.bulk_create(
                GoodsReceiptLine(
                    tenant=tenant,
                    goods_receipt=receipt,
                    purchase_order_line=lines_of[receipt.purchase_order_id][line.po_line_number],
                    quantity=line.quantity,
                )
                for receipt, document in zip(receipts, documents, strict=True)
                for line in document.lines
            )
            _receipts_booked(tenant=tenant, receipts=receipts, documents=documents, actor=actor)
    except IntegrityError as exc:  # a concurrent create of one of the numbers
        raise DuplicateDocument(RECEIPT_DUPLICATE.format(receipt_number=", ".join(receipt_numbers))) from exc
    return receipts
