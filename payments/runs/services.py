"""Payment runs: propose, edit, approve (four eyes), cancel (DESIGN.md §6a).

Every write here is one transaction with its audit event (entity `payment_run`). The invoices
move approved → payment_scheduled on approval and back on cancellation through the lifecycle's
one transition function (invoice_transition_many, `payment_run=True`: RUN_ONLY moves), so each
has its own audited transition. What a run pays for an invoice is its open balance
(payments.reconciliation.loading.open_balances: amount due less credit notes and payments),
never recomputed here. The file is built and validated against its XSD before anything is
written; a file that fails validation refuses the approval.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from collections import defaultdict

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import audit_record, outbox_enqueue
from core.actors import Actor
from core.exceptions import DocumentInvalid, NotFoundError
from core.money import MoneyError, format_minor, normalize_currency
from core.tenancy.scoping import tenant_rows_update
from invoices.lifecycle import InvoiceMove, invoice_transition_many
from invoices.models import DocumentType, Invoice, InvoiceStatus
from payments.accounts import decrypt_account, encrypt_account, mask_account
from payments.exceptions import FourEyesRequired, PaymentRunConflict
from payments.models import PaymentFileFormat, PaymentRun, PaymentRunItem, PaymentRunStatus
from payments.reconciliation.loading import open_balances
from payments.runs import files
from payments.runs.creditors import Creditor, creditors_at
from payments.runs.proposals import (
    INVOICE_FIELDS,
    OVER_MAX_TOTAL,
    Candidate,
    candidates_of,
    excluded_row,
    items_insert,
    new_end_to_end_id,
    proposal_choose,
)
from payments.runs.returns import returns_held_back
from tenants.models import Tenant
from vendors.bank_accounts import bank_account_parsed
from vendors.models import Vendor

ENTITY = "payment_run"
REMOVED_BY = "Removed from the proposal by {who}."
NOT_ELIGIBLE = "Invoice {number} cannot be paid by this run: {reason}"
NOT_APPROVED = "it is {status}, not approved."
OTHER_CURRENCY = "it is in {currency}, the run pays {run_currency}."
NOT_IN_RUN = "Invoice {number} is not in this run."
ALREADY_IN_RUN = "Invoice {number} is already in this run."
ONLY_PROPOSED = "The run is {status}: only a proposed run can be changed or approved."
EMPTY_RUN = "The run pays nothing: add invoices or cancel it."
FOUR_EYES = "You proposed this run: another person must approve it."
NEEDS_PERSON = "A payment run is approved by a person signed in, not by an API key."
CHANGED_SINCE = "Invoices changed since the proposal (remove them or propose again): {numbers}."
UNPAYABLE_NOW = "Vendors cannot be paid now (remove their invoices): {vendors}."
FILE_INVALID = "The bank file did not validate against the {version} schema, so it is not offered: {errors}"
CANNOT_CANCEL = "The run is {status}: it cannot be cancelled."
ALREADY_PAID = "Invoices of this run are already paid, so it cannot be cancelled: {numbers}."
NAME_REQUIRED = "Name the account holder (your organisation, as the bank knows it)."
DUE_BY_REQUIRED = "Say which due date the run pays up to."
MAX_TOTAL_INVALID = "The maximum total must be more than zero."
FORMAT_INVALID = "The file format is pain.001.001.09 or pain.001.001.03."
EXECUTION_IN_PAST = "The execution date cannot be in the past."


def _label(actor: Actor) -> str:
    return (actor.label or actor.id)[:150]


def _debtor_checked(*, name: str, iban: str, bic: str) -> tuple[str, str, str]:
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name:
        errors["debtor_name"] = [NAME_REQUIRED]
    try:
        parsed = bank_account_parsed(iban=iban, bic=bic)
    except DocumentInvalid as exc:
        for field, problems in (exc.details or {}).items():
            errors[f"debtor_{field}"] = list(problems)
        parsed = None
    if errors or parsed is None:
        first = next(iter(errors.values()))[0]
        raise DocumentInvalid(first, details=errors)
    return name[:70], parsed.number, parsed.bic


def payment_run_propose(
    *,
    tenant: Tenant,
    actor: Actor,
    currency: str,
    due_by: dt.date | None,
    debtor_name: str,
    debtor_iban: str,
    debtor_bic: str = "",
    max_total: int | None = None,
    execution_date: dt.date | None = None,
    file_format: str = PaymentFileFormat.PAIN_001_09,
    take_discounts: bool = True,
) -> PaymentRun:
    """Propose a run: the tenant's approved invoices in `currency` due by `due_by`, each for its
    open balance (less its early-payment discount when `take_discounts` and the discount is still
    available on the execution date: payments.runs.discounts), within `max_total`; the rest listed
    with why (vendor unknown, in another run, nothing open, no payable bank account — none,
    waiting for approval, cooling off)."""
    errors: dict[str, list[str]] = {}
    try:
        currency = normalize_currency(currency)
    except MoneyError as exc:
        errors["currency"] = [str(exc)]
    if due_by is None:
        errors["due_by"] = [DUE_BY_REQUIRED]
    if max_total is not None and max_total <= 0:
        errors["max_total"] = [MAX_TOTAL_INVALID]
    if file_format not in PaymentFileFormat.values:
        errors["file_format"] = [FORMAT_INVALID]
    today = timezone.localdate()
    if execution_date is not None and execution_date < today:
        errors["execution_date"] = [EXECUTION_IN_PAST]
    try:
        name, iban, bic = _debtor_checked(name=debtor_name, iban=debtor_iban, bic=debtor_bic)
    except DocumentInvalid as exc:
        errors.update(exc.details or {})
    if errors:
        raise DocumentInvalid(next(iter(errors.values()))[0], details=errors)
    assert due_by is not None
    now = timezone.now()
    invoices = list(
        Invoice.objects.for_tenant(tenant)
        .filter(status=InvoiceStatus.APPROVED, document_type=DocumentType.INVOICE, currency=currency)
        .filter(Q(due_date__lte=due_by) | Q(due_date__isnull=True))
        .only(*INVOICE_FIELDS)
    )
    candidates = candidates_of(
        tenant=tenant,
        invoices=invoices,
        currency=currency,
        at=now,
        paid_on=execution_date or today,
        take_discounts=take_discounts,
    )
    chosen, left_out = proposal_choose(
        returns_held_back(tenant=tenant, candidates=candidates, at=now), max_total=max_total
    )
    with transaction.atomic():
        run = PaymentRun.objects.create(
            tenant=tenant,
            currency=currency,
            due_by=due_by,
            execution_date=execution_date or today,
            max_total=max_total,
            take_discounts=take_discounts,
            file_format=file_format,
            debtor_name=name,
            debtor_account_encrypted=encrypt_account(iban),
            debtor_account_mask=mask_account(iban),
            debtor_bic=bic,
            excluded=[excluded_row(candidate, reason, currency) for candidate, reason in left_out],
            proposed_by_kind=actor.kind,
            proposed_by_id=str(actor.id)[:64],
            proposed_by_label=_label(actor),
        )
        end_to_end: dict[uuid.UUID, str] = defaultdict(new_end_to_end_id)
        items_insert(tenant=tenant, run=run, chosen=chosen, end_to_end=end_to_end)
        audit_record(
            tenant=tenant,
            actor=actor,
            entity_type=ENTITY,
            entity_id=run.pk,
            action="payment_run_proposed",
            after={
                "currency": currency,
                "due_by": due_by.isoformat(),
                "max_total": max_total,
                "invoices": len(chosen),
                "total": sum(candidate.amount for candidate in chosen),
                "discounts": sum(candidate.discount for candidate in chosen),
                "take_discounts": take_discounts,
                "excluded": len(left_out),
                "debtor_account": run.debtor_account_mask,
            },
        )
    return run


def _run_locked(tenant: Tenant, run: PaymentRun) -> PaymentRun:
    return PaymentRun.objects.for_tenant(tenant).select_for_update(no_key=True).get(pk=run.pk)


def _proposed_checked(run: PaymentRun) -> None:
    if run.status != PaymentRunStatus.PROPOSED:
        raise PaymentRunConflict(ONLY_PROPOSED.format(status=run.get_status_display().lower()))


def payment_run_line_remove(*, tenant: Tenant, run: PaymentRun, invoice_id: uuid.UUID, actor: Actor) -> PaymentRun:
    """Take an invoice out of a proposed run; it is listed among the excluded, with who removed it."""
    with transaction.atomic():
        locked = _run_locked(tenant, run)
        _proposed_checked(locked)
        item = (
            PaymentRunItem.objects.for_tenant(tenant)
            .filter(run=locked, invoice_id=invoice_id)
            .select_related("invoice", "vendor")
            .first()
        )
        if item is None:
            raise NotFoundError(NOT_IN_RUN.format(number=invoice_id), details={"invoice_id": [str(invoice_id)]})
        candidate = Candidate(
            item.invoice_id, item.invoice.invoice_number, item.vendor_id, item.vendor.name, None, item.amount, ""
        )
        PaymentRunItem.objects.for_tenant(tenant).filter(pk=item.pk).delete()
        locked.excluded = [
            excluded_row(candidate, REMOVED_BY.format(who=_label(actor)), locked.currency),
            *[row for row in locked.excluded if row["invoice_id"] != str(invoice_id)],
        ]
        locked.save(update_fields=["excluded", "updated_at"])
        audit_record(
            tenant=tenant,
            actor=actor,
            entity_type=ENTITY,
            entity_id=locked.pk,
            action="payment_run_line_removed",
            before={"invoice_id": str(invoice_id), "invoice_number": candidate.invoice_number, "amount": item.amount},
        )
    return locked


def payment_run_line_add(*, tenant: Tenant, run: PaymentRun, invoice_id: uuid.UUID, actor: Actor) -> PaymentRun:
    """Add an approved invoice of the run's currency to a proposed run (within its maximum), for
    its open balance, if its vendor can be paid; its vendor's transfer takes it."""
    with transaction.atomic():
        locked = _run_locked(tenant, run)
        _proposed_checked(locked)
        invoice = (
            Invoice.objects.for_tenant(tenant).filter(pk=invoice_id).only(*INVOICE_FIELDS, "status", "currency").first()
        )
        if invoice is None:
            raise NotFoundError("No invoice with this id.", details={"invoice_id": [str(invoice_id)]})
        items = PaymentRunItem.objects.for_tenant(tenant).filter(run=locked)
        if items.filter(invoice_id=invoice_id).exists():
            raise PaymentRunConflict(ALREADY_IN_RUN.format(number=invoice.invoice_number))
        reason = ""
        if invoice.status != InvoiceStatus.APPROVED:
            reason = NOT_APPROVED.format(status=invoice.get_status_display().lower())
        elif invoice.currency != locked.currency:
            reason = OTHER_CURRENCY.format(currency=invoice.currency, run_currency=locked.currency)
        else:
            [candidate] = candidates_of(
                tenant=tenant,
                invoices=[invoice],
                currency=locked.currency,
                at=timezone.now(),
                paid_on=max(locked.execution_date, timezone.localdate()),
                take_discounts=locked.take_discounts,
                run=locked,
            )
            reason = candidate.reason
            if not reason and locked.max_total is not None:
                total = sum(items.values_list("amount", flat=True))
                if total + candidate.amount > locked.max_total:
                    reason = OVER_MAX_TOTAL
        if reason:
            message = NOT_ELIGIBLE.format(number=invoice.invoice_number, reason=reason)
            raise PaymentRunConflict(message, details={"invoice_id": [message]})
        same_vendor = items.filter(vendor_id=candidate.payee).values_list("end_to_end_id", flat=True).first()
        PaymentRunItem.objects.create(
            tenant=tenant,
            run=locked,
            invoice_id=invoice.pk,
            vendor_id=candidate.payee,
            amount=candidate.amount,
            discount_amount=candidate.discount,
            end_to_end_id=same_vendor or new_end_to_end_id(),
        )
        locked.excluded = [row for row in locked.excluded if row["invoice_id"] != str(invoice_id)]
        locked.save(update_fields=["excluded", "updated_at"])
        audit_record(
            tenant=tenant,
            actor=actor,
            entity_type=ENTITY,
            entity_id=locked.pk,
            action="payment_run_line_added",
            after={
                "invoice_id": str(invoice.pk),
                "invoice_number": invoice.invoice_number,
                "amount": candidate.amount,
                "discount": candidate.discount,
            },
        )
    return locked


def _transfers(
    items: list[PaymentRunItem], creditors: dict[uuid.UUID, Creditor], names: dict[uuid.UUID, str]
) -> tuple[files.CreditTransfer, ...]:
    by_payment: dict[str, list[PaymentRunItem]] = defaultdict(list)
    for item in items:
        by_payment[item.end_to_end_id].append(item)
    transfers = []
    for end_to_end_id, group in sorted(by_payment.items(), key=lambda pair: (names[pair[1][0].vendor_id], pair[0])):
        creditor = creditors[group[0].vendor_id]
        transfers.append(
            files.CreditTransfer(
                end_to_end_id=end_to_end_id,
                creditor_name=names[group[0].vendor_id],
                creditor_account=creditor.account,
                creditor_bic=creditor.bic,
                amount=sum(item.amount for item in group),
                invoice_numbers=tuple(sorted(item.invoice.invoice_number for item in group)),
            )
        )
    return tuple(transfers)


def _discount_still_available(item: PaymentRunItem, *, paid_on: dt.date) -> bool:
    """A line that takes a discount is paid by its deadline, or it is a change since the proposal."""
    deadline = item.invoice.discount_due_date
    return not item.discount_amount or (deadline is not None and paid_on <= deadline)


def payment_run_approve(*, tenant: Tenant, run: PaymentRun, actor: Actor) -> PaymentRun:
    """A second person approves a proposed run: every invoice is checked again (still approved,
    same open balance, vendor still payable now), the file is written and validated against its
    XSD, and the invoices move to payment_scheduled — all or nothing. The proposer is refused."""
    with transaction.atomic():
        locked = _run_locked(tenant, run)
        _proposed_checked(locked)
        if actor.kind == "api_key":
            # A key is anyone who holds it: the second pair of eyes on money leaving must be a
            # person signed in, as for a vendor's bank account (vendors.bank_accounts). Keys may
            # propose, and Recon's own tasks (system actors) approve only in benchmarks and the demo.
            raise FourEyesRequired(NEEDS_PERSON)
        if (locked.proposed_by_kind, locked.proposed_by_id) == (actor.kind, str(actor.id)[:64]):
            raise FourEyesRequired(FOUR_EYES)
        items = list(
            PaymentRunItem.objects.for_tenant(tenant)
            .filter(run=locked)
            .select_related("invoice")
            .only("id", "invoice_id", "vendor_id", "amount", "end_to_end_id", "creditor_account_mask",
                  "invoice__invoice_number", "invoice__status", "invoice__amount_due", "invoice__tenant_id",
                  "discount_amount", "invoice__discount_due_date")
        )  # fmt: skip
        if not items:
            raise PaymentRunConflict(EMPTY_RUN)
        invoices = [item.invoice for item in items]
        balances = open_balances(tenant=tenant, invoices=invoices)
        changed = sorted(
            item.invoice.invoice_number
            for item in items
            if item.invoice.status != InvoiceStatus.APPROVED
            or balances[item.invoice_id] != item.amount + item.discount_amount
            or not _discount_still_available(item, paid_on=max(locked.execution_date, timezone.localdate()))
        )
        if changed:
            raise PaymentRunConflict(
                CHANGED_SINCE.format(numbers=", ".join(changed[:20])), details={"invoices": changed}
            )
        vendor_ids = {item.vendor_id for item in items}
        now = timezone.now()
        creditors = creditors_at(tenant=tenant, vendor_ids=vendor_ids, at=now, currency=locked.currency, decrypt=True)
        names = dict(Vendor.objects.for_tenant(tenant).filter(pk__in=vendor_ids).values_list("id", "name"))
        unpayable = sorted(f"{names[vendor_id]} ({c.reason})" for vendor_id, c in creditors.items() if not c.payable)
        if unpayable:
            raise PaymentRunConflict(
                UNPAYABLE_NOW.format(vendors="; ".join(unpayable[:10])), details={"vendors": unpayable}
            )
        message_id = f"RCN{now:%Y%m%d%H%M%S}{secrets.token_hex(4).upper()}"
        payment_file = files.PaymentFile(
            message_id=message_id,
            created_at=now,
            execution_date=max(locked.execution_date, timezone.localdate()),
            currency=locked.currency,
            debtor_name=locked.debtor_name,
            debtor_iban=decrypt_account(locked.debtor_account_encrypted),
            debtor_bic=locked.debtor_bic,
            transfers=_transfers(items, creditors, names),
        )
        if locked.currency == files.SEPA_CURRENCY:
            content = files.pain001_write(payment_file, version=locked.file_format)
            problems = files.pain001_errors(content, version=locked.file_format)
            if problems:
                message = FILE_INVALID.format(version=locked.file_format, errors="; ".join(problems[:5]))
                raise DocumentInvalid(message, details={"file": problems[:20]})
            file_name = f"{message_id}.xml"
        else:
            content = files.csv_write(payment_file)
            file_name = f"{message_id}.csv"
        moves = [
            InvoiceMove(
                invoice_id=item.invoice_id,
                to_status=InvoiceStatus.PAYMENT_SCHEDULED,
                expected_status=InvoiceStatus.APPROVED,
                reason="Payment run approved",
                context={"payment_run_id": str(locked.pk), "end_to_end_id": item.end_to_end_id},
                payment_run=True,
            )
            for item in items
        ]
        # Pipelined: the audit events are built while PostgreSQL writes the 10,000 invoice rows.
        with connection.pipelined():  # type: ignore[attr-defined]  # core.tenancy.db_backend's
            results = invoice_transition_many(tenant=tenant, moves=moves, actor=actor)
        refused = [result for result in results if not result.ok]
        if refused:
            raise PaymentRunConflict(str(refused[0].error))
        # The account each line is paid to: the proposal wrote it; only lines whose vendor's
        # account changed since (a new one approved meanwhile) are rewritten.
        tenant_rows_update(
            tenant=tenant,
            model=PaymentRunItem,
            fields=("creditor_account_mask",),
            rows=[
                (item.pk, creditors[item.vendor_id].mask)
                for item in items
                if item.creditor_account_mask != creditors[item.vendor_id].mask
            ],
        )()
        locked.status = PaymentRunStatus.APPROVED
        locked.approved_by_kind, locked.approved_by_id = actor.kind, str(actor.id)[:64]
        locked.approved_by_label, locked.approved_at = _label(actor), now
        locked.file_name, locked.message_id = file_name, message_id
        locked.file_content = content.decode("utf-8")
        locked.file_sha256 = hashlib.sha256(content).hexdigest()
        locked.save()
        audit_record(
            tenant=tenant,
            actor=actor,
            entity_type=ENTITY,
            entity_id=locked.pk,
            action="payment_run_approved",
            before={"status": PaymentRunStatus.PROPOSED},
            after={
                "status": PaymentRunStatus.APPROVED,
                "invoices": len(items),
                "payments": len(payment_file.transfers),
                "total": sum(item.amount for item in items),
                "discounts": sum(item.discount_amount for item in items),
                "file": file_name,
                "file_sha256": locked.file_sha256,
                "proposed_by": locked.proposed_by_label,
            },
        )
        # One event for the run (DESIGN.md §7's envelope): not one per invoice scheduled, which a
        # 10,000-invoice run would turn into 10,000 outbox rows for one decision.
        outbox_enqueue(
            tenant=tenant,
            event_type="payment_run.approved",
            payload={
                "payment_run_id": str(locked.pk),
                "currency": locked.currency,
                "total": format_minor(sum(item.amount for item in items), locked.currency),
                "invoice_ids": [str(item.invoice_id) for item in items],
                "end_to_end_ids": sorted({item.end_to_end_id for item in items}),
                "execution_date": payment_file.execution_date.isoformat(),
            },
        )
    return locked


def payment_run_cancel(*, tenant: Tenant, run: PaymentRun, actor: Actor, reason: str = "") -> PaymentRun:
    """Cancel a run that is not paid: its invoices go back to approved (each an audited move) and
    may be proposed again. Refused once any of its invoices has been paid."""
    with transaction.atomic():
        locked = _run_locked(tenant, run)
        if locked.status == PaymentRunStatus.CANCELLED:
            raise PaymentRunConflict(CANNOT_CANCEL.format(status=locked.get_status_display().lower()))
        items = list(PaymentRunItem.objects.for_tenant(tenant).filter(run=locked).select_related("invoice"))
        if locked.status == PaymentRunStatus.APPROVED:
            paid = sorted(
                item.invoice.invoice_number for item in items if item.invoice.status != InvoiceStatus.PAYMENT_SCHEDULED
            )
            if paid:
                raise PaymentRunConflict(ALREADY_PAID.format(numbers=", ".join(paid[:20])), details={"invoices": paid})
            moves = [
                InvoiceMove(
                    invoice_id=item.invoice_id,
                    to_status=InvoiceStatus.APPROVED,
                    expected_status=InvoiceStatus.PAYMENT_SCHEDULED,
                    reason="Payment run cancelled",
                    context={"payment_run_id": str(locked.pk)},
                    payment_run=True,
                )
                for item in items
            ]
            refused = [r for r in invoice_transition_many(tenant=tenant, moves=moves, actor=actor) if not r.ok]
            if refused:
                raise PaymentRunConflict(str(refused[0].error))
        PaymentRunItem.objects.for_tenant(tenant).filter(run=locked).update(is_live=False)
        before = {"status": locked.status}
        locked.status = PaymentRunStatus.CANCELLED
        locked.cancelled_by_label, locked.cancelled_at = _label(actor), timezone.now()
        locked.cancel_reason = (reason or "").strip()[:1000]
        locked.save(update_fields=["status", "cancelled_by_label", "cancelled_at", "cancel_reason", "updated_at"])
        audit_record(
            tenant=tenant,
            actor=actor,
            entity_type=ENTITY,
            entity_id=locked.pk,
            action="payment_run_cancelled",
            before=before,
            after={"status": PaymentRunStatus.CANCELLED, "invoices": len(items), "reason": locked.cancel_reason},
        )
    return locked
