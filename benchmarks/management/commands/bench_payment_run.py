"""`manage.py bench_payment_run --invoices 10000 [--vendors 500] [--output FILE] [--seed S]`.

How fast a payment run goes through: proposal (open balances, bank accounts, choice), approval by
another person (every line checked again, the pain.001.001.09 written and validated against its
XSD, every invoice moved to payment_scheduled with its audit event) — the real services of
payments.runs. Prints each step's wall time and queries, the file's size and transfers, whether
it validates, and peak RSS; `--output` writes the file it produced.

Where it runs: on the configured database, in a fresh tenant (`bench-run-<time>-<random>`),
deactivated at the end; nothing is deleted (audit events are append-only). Use a scratch database.
The fixture goes in with `bulk_create` from `random.Random(--seed)`: `--vendors` vendors, each
with an active IBAN past its cooling-off, and `--invoices` approved invoices spread over them,
due within the run's date, one in twenty with a partial credit note (netted by the run).
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from schwifty import IBAN

from benchmarks.measures import peak_rss_mb
from benchmarks.scratch import bench_tenant_deactivate, database_describe, fixture_tables_analyze
from core.actors import Actor, system_actor
from invoices.models import DocumentType, Invoice, InvoiceStatus
from invoices.numbers import normalize_invoice_number
from payments.accounts import account_hash, encrypt_account, mask_account
from payments.models import PaymentRunItem
from payments.runs import files
from payments.runs.services import payment_run_approve, payment_run_propose
from tenants.services import tenant_create
from vendors.models import BankAccountStatus, Vendor, VendorBankAccount
from vendors.names import normalize_vendor_name

BENCH_ACTOR = system_actor("bench_payment_run")
PROPOSER = Actor(kind="system", id="bench-clerk", label="bench clerk")
APPROVER = Actor(kind="system", id="bench-approver", label="bench approver")
DEBTOR_IBAN = "DE89370400440532013000"
DUE_BY = dt.date(2026, 12, 31)
INSERT_BATCH = 2000
INVALID_SIZE = "--invoices and --vendors must be ≥ 1."


def vendor_iban(index: int) -> str:
    return str(IBAN.generate("NL", bank_code="ABNA", account_code=f"{100000000 + index:010d}"))


class Command(BaseCommand):
    help = "Time a payment run's proposal, approval and pain.001 over a synthetic tenant."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--invoices", type=int, default=10_000)
        parser.add_argument("--vendors", type=int, default=500)
        parser.add_argument("--seed", type=int, default=19)
        parser.add_argument("--output", type=str, default="", help="Write the pain.001 produced to this file.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["invoices"] < 1 or options["vendors"] < 1:
            raise CommandError(INVALID_SIZE)
        self.stdout.write(database_describe())
        rng = random.Random(options["seed"])  # noqa: S311 (a reproducible fixture, not a secret)
        started = time.perf_counter()
        tenant = self._build(rng, invoices=options["invoices"], vendors=options["vendors"])
        self.stdout.write(f"Fixture: {options['invoices']} invoices over {options['vendors']} vendors "
                          f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
        timings: dict[str, tuple[float, int]] = {}

        with CaptureQueriesContext(connection) as queries:
            began = time.perf_counter()
            run = payment_run_propose(
                tenant=tenant,
                actor=PROPOSER,
                currency="EUR",
                due_by=DUE_BY,
                debtor_name="Bench Treasury",
                debtor_iban=DEBTOR_IBAN,
            )
            timings["proposal"] = (time.perf_counter() - began, len(queries))
        with CaptureQueriesContext(connection) as queries:
            began = time.perf_counter()
            run = payment_run_approve(tenant=tenant, run=run, actor=APPROVER)
            timings["approval + pain.001 + XSD"] = (time.perf_counter() - began, len(queries))
        content = run.file_content.encode("utf-8")
        began = time.perf_counter()
        problems = files.pain001_errors(content, version=run.file_format)
        validation = time.perf_counter() - began
        items = PaymentRunItem.objects.for_tenant(tenant).filter(run=run)
        scheduled = Invoice.objects.for_tenant(tenant).filter(status=InvoiceStatus.PAYMENT_SCHEDULED).count()
        total = sum(timing for timing, _ in timings.values())
        for step, (seconds, count) in timings.items():
            self.stdout.write(f"{step:<28} {seconds * 1000:8.0f} ms  {count:6d} queries")
        self.stdout.write(f"{'total':<28} {total * 1000:8.0f} ms")
        self.stdout.write(f"XSD validation alone         {validation * 1000:8.0f} ms")
        self.stdout.write(
            f"Run: {items.count()} invoices paid in {len(files.file_amounts(content))} transfers, "
            f"{len(run.excluded)} left out; {scheduled} invoices payment_scheduled"
        )
        self.stdout.write(f"File: {run.file_name}, {len(content) / 1024:.0f} KiB, {run.file_format}")
        self.stdout.write(f"XSD valid: {'yes' if not problems else 'NO: ' + '; '.join(problems[:3])}")
        self.stdout.write(f"Peak RSS: {peak_rss_mb():.0f} MB")
        if options["output"]:
            Path(options["output"]).write_bytes(content)
            self.stdout.write(f"Wrote {options['output']}")
        bench_tenant_deactivate(tenant=tenant, actor=BENCH_ACTOR)
        if problems:
            raise CommandError("The file did not validate against its XSD.")

    def _build(self, rng: random.Random, *, invoices: int, vendors: int) -> Any:
        slug = f"bench-run-{timezone.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
        tenant, _ = tenant_create(name=f"Payment run bench {slug[10:]}", slug=slug, actor=BENCH_ACTOR)
        now = timezone.now()
        with transaction.atomic():
            vendor_rows = Vendor.objects.bulk_create(
                [
                    Vendor(
                        tenant=tenant,
                        name=f"Bench Vendor {index:04d} GmbH",
                        normalized_name=normalize_vendor_name(f"Bench Vendor {index:04d} GmbH"),
                        tax_id=f"DE{800000000 + index}",
                        default_currency="EUR",
                    )
                    for index in range(vendors)
                ]
            )
            VendorBankAccount.objects.bulk_create(
                [
                    VendorBankAccount(
                        tenant=tenant,
                        vendor=vendor,
                        status=BankAccountStatus.ACTIVE,
                        kind="iban",
                        account_encrypted=encrypt_account(vendor_iban(index)),
                        account_hash=account_hash(vendor_iban(index)),
                        account_mask=mask_account(vendor_iban(index)),
                        country="NL",
                        bic="ABNANL2A",
                        proposed_by_kind="system",
                        proposed_by_id="bench-proposer",
                        proposed_by_label="bench proposer",
                        decided_by_id="bench-decider",
                        decided_by_label="bench decider",
                        decided_at=now - dt.timedelta(days=10),
                        usable_from=now - dt.timedelta(days=7),
                    )
                    for index, vendor in enumerate(vendor_rows)
                ]
            )
            plans = []
            for number in range(invoices):
                vendor = vendor_rows[rng.randrange(vendors)]
                plans.append((vendor, f"BR-{number:06d}", rng.randint(10_00, 25_000_00)))
            created = Invoice.objects.bulk_create(
                (
                    Invoice(
                        tenant=tenant,
                        vendor=vendor,
                        vendor_name_raw=vendor.name,
                        invoice_number=number,
                        invoice_number_normalized=normalize_invoice_number(number),
                        currency="EUR",
                        invoice_date=DUE_BY - dt.timedelta(days=60),
                        due_date=DUE_BY - dt.timedelta(days=rng.randrange(30)),
                        subtotal_amount=amount,
                        total_amount=amount,
                        status=InvoiceStatus.APPROVED,
                    )
                    for vendor, number, amount in plans
                ),
                batch_size=INSERT_BATCH,
            )
            Invoice.objects.bulk_create(
                (
                    Invoice(
                        tenant=tenant,
                        vendor_id=invoice.vendor_id,
                        vendor_name_raw="",
                        invoice_number=f"CN-{invoice.invoice_number}",
                        invoice_number_normalized=normalize_invoice_number(f"CN-{invoice.invoice_number}"),
                        document_type=DocumentType.CREDIT_NOTE,
                        credited_invoice=invoice,
                        credited_invoice_number=invoice.invoice_number,
                        currency="EUR",
                        invoice_date=DUE_BY - dt.timedelta(days=40),
                        subtotal_amount=invoice.total_amount // 4,
                        total_amount=invoice.total_amount // 4,
                        status=InvoiceStatus.APPROVED,
                    )
                    for invoice in created[::20]
                ),
                batch_size=INSERT_BATCH,
            )
        fixture_tables_analyze(models=(Vendor, VendorBankAccount, Invoice))
        return tenant
