"""Writes of the payments app: importing bank statements (and reconciling what they brought)."""

from __future__ import annotations

import functools
import hashlib
import io
import logging
from dataclasses import dataclass, field
from typing import IO, Any

from django.db import transaction

from audit.services import audit_record
from core import locks
from core.actors import Actor
from core.http.uploads import file_size_check
from payments.accounts import account_hash, encrypt_account
from payments.exceptions import StatementInvalid
from payments.models import Payment, PaymentStatus, StatementFormat, StatementImport
from payments.statements import ParsedFile, StatementParseError, balance_check, parse_statement_file
from source_files.services import CSV, TEXT, XML, DocumentRef, source_file_keep
from tenants.models import Tenant

logger = logging.getLogger(__name__)

# The setting that bounds a statement file, at the API's door and here.
MAX_BYTES_SETTING = "PAYMENT_STATEMENT_MAX_BYTES"
WARN_ALREADY_IMPORTED = "This file was imported before (import {import_id}); lines already stored were skipped."
WARN_UNBALANCED = "Statement {statement}: {problem}"

_READ_CHUNK = 1 << 16
# The Content-Type a statement file is kept and served with, by the format it was read as.
_KEPT_AS: dict[str, str] = {StatementFormat.CAMT053: XML, StatementFormat.MT940: TEXT, StatementFormat.CSV: CSV}


@dataclass
class StatementImportReport:
    format: str
    encoding: str
    filename: str
    file_sha256: str
    dry_run: bool
    statements: int = 0
    entries: int = 0
    created: int = 0
    duplicates: int = 0
    import_id: str | None = None
    previous_import_ids: list[str] = field(default_factory=list)
    balance_checks: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_response(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _digest(binary: IO[bytes]) -> str:
    binary.seek(0)
    digest = hashlib.sha256()
    while chunk := binary.read(_READ_CHUNK):
        digest.update(chunk)
    binary.seek(0)
    return digest.hexdigest()


def _payments(parsed: ParsedFile, *, tenant: Tenant, statement_import: StatementImport | None) -> list[Payment]:
    """Unsaved rows for every entry; each distinct account is encrypted and hashed once."""
    encrypted: dict[str, tuple[str, str]] = {}

    def protect(number: str) -> tuple[str, str]:
        if number not in encrypted:
            encrypted[number] = (encrypt_account(number), account_hash(number))
        return encrypted[number]

    rows = []
    for statement in parsed.statements:
        bank_encrypted, bank_hash = protect(statement.account)
        for entry in statement.entries:
            counterparty_encrypted, counterparty_hash = protect(entry.counterparty_account)
            rows.append(
                Payment(
                    tenant=tenant,
                    bank_account_encrypted=bank_encrypted,
                    bank_account_hash=bank_hash,
                    booking_date=entry.booking_date,
                    value_date=entry.value_date,
                    amount=entry.amount,
                    currency=entry.currency,
                    direction=entry.direction,
                    counterparty_name=entry.counterparty_name,
                    counterparty_account_encrypted=counterparty_encrypted,
                    counterparty_account_hash=counterparty_hash,
                    remittance_text=entry.remittance_text,
                    bank_transaction_id=entry.bank_transaction_id,
                    end_to_end_id=entry.end_to_end_id,
                    return_reason=entry.return_reason,
                    statement_reference=statement.reference[:128],
                    status=PaymentStatus.UNMATCHED,
                    statement_import=statement_import,
                )
            )
    return rows


def statement_import(
    *,
    tenant: Tenant,
    binary: IO[bytes] | bytes,
    filename: str,
    actor: Actor,
    format: str | None = None,
    dry_run: bool = False,
) -> StatementImportReport:
    """Import one bank statement file (CAMT.053, MT940 or CSV) for `tenant`, all or nothing.

    The format is detected from the content unless given. A file that cannot be read raises
    `StatementInvalid` (400, with every problem by location) and writes nothing. Lines already
    stored (same account and transaction id) are skipped and counted, so importing a statement
    twice adds nothing. A statement whose opening balance plus entries misses its closing
    balance is imported and reported (a bank file that does not add up is the bank's problem to
    explain, and refusing it would leave the payments it does hold unmatched). `dry_run` runs
    the whole import and rolls it back. An import keeps the file (source_files), linked to its
    `StatementImport`; the same file again is kept once.
    """
    if isinstance(binary, bytes):
        binary = io.BytesIO(binary)
    file_size_check(binary=binary, setting=MAX_BYTES_SETTING)
    sha256 = _digest(binary)
    try:
        parsed = parse_statement_file(binary, format=format)
    except StatementParseError as exc:
        raise StatementInvalid(exc.message, details=exc.details) from exc

    checks = [balance_check(statement) for statement in parsed.statements]
    report = StatementImportReport(
        format=parsed.format,
        encoding=parsed.encoding,
        filename=filename,
        file_sha256=sha256,
        dry_run=dry_run,
        statements=len(parsed.statements),
        entries=len(parsed.entries),
        balance_checks=[check.as_dict() for check in checks],
        warnings=list(parsed.warnings),
    )
    report.warnings += [
        WARN_UNBALANCED.format(statement=check.statement, problem=check.problem)
        for check in checks
        if check.balanced is False
    ]

    with transaction.atomic():
        # One import per tenant at a time, so "is this line already stored?" cannot race with a
        # concurrent import of the same file (the unique constraint would then fail the second).
        locks.tenant_lock_wait(locks.STATEMENT_IMPORT, tenant.pk)
        previous = list(
            StatementImport.objects.for_tenant(tenant)
            .filter(file_sha256=sha256)
            .order_by("created_at")
            .values_list("id", flat=True)
        )
        report.previous_import_ids = [str(pk) for pk in previous]
        if previous:
            report.warnings.insert(0, WARN_ALREADY_IMPORTED.format(import_id=previous[0]))
        batch = StatementImport.objects.create(
            tenant=tenant,
            format=parsed.format,
            filename=filename[:255],
            file_sha256=sha256,
            encoding=parsed.encoding,
            statements_count=report.statements,
            entries_count=report.entries,
            balance_checks=report.balance_checks,
            actor_kind=actor.kind,
            actor_id=str(actor.id)[:64],
        )
        rows = _payments(parsed, tenant=tenant, statement_import=batch)
        stored = set(
            Payment.objects.for_tenant(tenant)
            .filter(
                bank_account_hash__in={row.bank_account_hash for row in rows},
                bank_transaction_id__in={row.bank_transaction_id for row in rows},
            )
            .values_list("bank_account_hash", "bank_transaction_id")
        )
        new_rows = [row for row in rows if (row.bank_account_hash, row.bank_transaction_id) not in stored]
        Payment.objects.bulk_create(new_rows, batch_size=1000)
        report.created = len(new_rows)
        report.duplicates = len(rows) - len(new_rows)
        batch.created_count, batch.duplicates_count = report.created, report.duplicates
        batch.save(update_fields=["created_count", "duplicates_count"])
        report.import_id = None if dry_run else str(batch.pk)
        # One event for the import, not one per line: a statement can hold thousands of lines,
        # and each event is a link in the tenant's hash chain written under the tenant's lock.
        # The event is still complete: it names the batch and the file's SHA-256, every payment
        # row points at its batch, and the lines are bank facts that no one edits afterwards
        # (their later status changes write their own events).
        audit_record(
            tenant=tenant,
            actor=actor,
            entity_type="statement_import",
            entity_id=batch.pk,
            action="imported",
            after={
                "format": parsed.format,
                "filename": filename,
                "file_sha256": sha256,
                "statements": report.statements,
                "entries": report.entries,
                "created": report.created,
                "duplicates": report.duplicates,
                "unbalanced_statements": [check.statement for check in checks if check.balanced is False],
            },
        )
        if dry_run:
            transaction.set_rollback(True)
        else:
            if new_rows:
                # Reconciled after the import commits, not at the schedule's next turn (#18).
                reconciliation_enqueue(tenant=tenant)
            # Kept last, after every row: the file links to the import its payments point at.
            source_file_keep(
                tenant=tenant,
                binary=binary,
                filename=filename,
                content_type=_KEPT_AS[parsed.format],
                actor=actor,
                documents=[DocumentRef(StatementImport._meta.label_lower, batch.pk)],
            )
    return report


def reconciliation_enqueue(*, tenant: Tenant) -> None:
    """Queue a reconciliation run for the tenant once the current transaction commits.

    New statement lines are matched at once instead of waiting for the schedule
    (RECONCILE_SCHEDULE_MINUTES). A broker that is down loses
    nothing: the scheduled run picks the payments up, so the error is logged and the import still
    succeeds (`robust`). The run takes the tenant's reconciliation lock, so a run already under way
    makes this one return at once (payments.tasks).
    """
    tenant_id = str(tenant.pk)
    # update_wrapper: Django's robust on_commit logs the callback's __qualname__, which a bare
    # partial lacks (as matching.services.matching_enqueue).
    now = _reconciliation_enqueue_now
    callback = functools.update_wrapper(functools.partial(now, tenant_id), now)
    transaction.on_commit(callback, robust=True)


def _reconciliation_enqueue_now(tenant_id: str) -> None:
    from django_q.tasks import async_task

    try:
        async_task("payments.tasks.reconcile_payments", tenant_id, task_name=f"reconcile-{tenant_id}")
    except Exception:
        logger.exception("Could not queue reconciliation for tenant %s; the schedule will", tenant_id)
