"""The demo month `make run` loads (recon_site.demo): what it promises a first-time visitor.

Every invoice state and every discrepancy type the engine knows, counts in the stated ranges,
the same data on every run, an audit chain that verifies, a dashboard whose cash forecast
has rows, vendors' bank accounts under four eyes (one cooling off, one change waiting) and an
approved payment run whose bank file validates, as their pages show them. The demo is seeded
twice (by the command, and into a twin tenant) inside one rolled-back transaction, so the module
costs two seeds, not one per test.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from io import StringIO
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from core.tenancy.rls import tenant_scope
from invoices.models import Invoice, InvoiceStatus, ReviewQueue
from matching.engine.vocabulary import (
    BANK_ACCOUNT_CHANGED,
    BANK_ACCOUNT_MISMATCH,
    DISCREPANCY_TYPES,
    NEW_VENDOR_LARGE_INVOICE,
    PAYMENT_RETURNED,
    SHARED_BANK_ACCOUNT,
    UNUSUAL_AMOUNT,
)
from matching.models import Discrepancy
from payments.models import Payment, PaymentRun, PaymentRunItem, PaymentRunStatus, PaymentStatus
from payments.runs.files import pain001_errors
from purchasing.models import GoodsReceipt, PurchaseOrder
from recon_site.dashboard import dashboard_summary
from recon_site.demo.decisions import RISK_CHECKS
from recon_site.demo.paying import COOLING_OFF_VENDOR, FORGED_VENDOR, PENDING_CHANGE_VENDOR
from recon_site.demo.people import DEMO_USERS
from recon_site.demo.risks import CHANGED_VENDOR, PROPERTY_MANAGER, UNUSUAL_VENDOR
from recon_site.demo.suppliers import VENDORS
from recon_site.demo.timeline import DemoSummary, demo_summary
from recon_site.management.commands.seed_demo import DEMO_SLUG, demo_tenant_create, demo_transaction
from tenants.models import Membership, Tenant
from tests.audit.sealing import seal
from vendors.models import BankAccountStatus, Vendor, VendorBankAccount
from vendors.selectors import vendor_bank_accounts_payable

TWIN_SLUG = "demo-twin"
RISK_SIGNALS = (
    BANK_ACCOUNT_MISMATCH,
    BANK_ACCOUNT_CHANGED,
    SHARED_BANK_ACCOUNT,
    UNUSUAL_AMOUNT,
    NEW_VENDOR_LARGE_INVOICE,
    PAYMENT_RETURNED,
)

# The tests read facts gathered once (the `demo` fixture); the mark is what has pytest-django
# set up the test database for this module at all.
pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class DemoFacts:
    """What the tests read, gathered while the seeded transaction was open."""

    first_output: str
    second_output: str
    summary: DemoSummary
    summary_after_second_run: DemoSummary
    statuses: Counter[tuple[str, str]]  # (status, review queue or "")
    discrepancy_types: set[str]
    payment_statuses: set[str]
    purchase_order_statuses: set[str]
    late_receipts: int
    prepaid_invoices: int
    roles: dict[str, str]
    audit_output: str
    forecast_weeks_with_cash: dict[str, int]
    documents: list[tuple[str, str, int, str, str]]  # number, currency, total, status, date
    assignees: Counter[str]  # who has the open invoices: My work is not empty for the demo's users
    twin_documents: list[tuple[str, str, int, str, str]]
    paying: PayingFacts
    # By risk signal (and `payment_returned`): the vendors whose invoices carry it, with each
    # invoice's status and review queue.
    signals: dict[str, set[tuple[str, str, str]]]
    # Of each approval of an invoice carrying a risk signal: the signals and the approver's reason.
    risk_approvals: list[tuple[frozenset[str], str]]


@dataclass(frozen=True)
class PayingFacts:
    """The vendors' bank accounts and the payment run, as the database and the pages have them."""

    account_statuses: Counter[str]
    payable_reasons: dict[str, str]  # vendor name: why a run cannot pay it now ("" when it can)
    decided_by_proposer: int  # accounts approved or rejected by whoever proposed them
    runs: list[tuple[str, str, int]]  # status, file name, invoices; oldest first
    run_invoice_statuses: list[set[str]]  # of each run, oldest first
    run_payments: Counter[str]  # statement lines carrying a run's EndToEndId, by status
    run_transfers: list[int]  # transfers (EndToEndIds) of each run, oldest first
    run_excluded_reasons: dict[str, set[str]]  # vendor name: why left out
    returned: set[tuple[str, str]]  # vendor name, invoice status of the run items the bank returned
    file_errors: list[str]
    end_to_end_ids_in_file: bool
    cooling_off_page: str  # the cooling-off vendor's bank accounts page, as the approver sees it
    pending_page: str
    run_page: str
    file_download: tuple[int, str]  # status code, Content-Disposition


def _vendor_name(key: str) -> str:
    return next(entry.name for entry in VENDORS if entry.key == key)


def _paying_facts(tenant: Tenant) -> PayingFacts:
    accounts = VendorBankAccount.objects.for_tenant(tenant)
    vendors = dict(Vendor.objects.for_tenant(tenant).values_list("id", "name"))
    payable = vendor_bank_accounts_payable(tenant=tenant, vendor_ids=vendors, at=timezone.now())
    runs = list(PaymentRun.objects.for_tenant(tenant).order_by("created_at"))
    run = runs[-1]
    items = PaymentRunItem.objects.for_tenant(tenant).filter(run=run)
    excluded: dict[str, set[str]] = {}
    for row in run.excluded:
        excluded.setdefault(row["vendor_name"], set()).add(row["reason"])
    content = run.file_content.encode()
    approver = Client()
    approver.force_login(get_user_model().objects.get(username="approver"))
    by_name = {name: vendor_id for vendor_id, name in vendors.items()}

    def page(url: str) -> str:
        response = approver.get(url)
        assert response.status_code == 200, url
        return response.content.decode()

    download = approver.get(reverse("web:payment-run-file", args=[run.pk]))
    return PayingFacts(
        account_statuses=Counter(accounts.values_list("status", flat=True)),
        payable_reasons={vendors[vendor_id]: answer.reason for vendor_id, answer in payable.items()},
        decided_by_proposer=sum(
            1
            for account in accounts.exclude(decided_by_id="")
            if (account.proposed_by_kind, account.proposed_by_id) == ("user", account.decided_by_id)
        ),
        runs=[
            (each.status, each.file_name, PaymentRunItem.objects.for_tenant(tenant).filter(run=each).count())
            for each in runs
        ],
        run_invoice_statuses=[
            set(PaymentRunItem.objects.for_tenant(tenant).filter(run=each).values_list("invoice__status", flat=True))
            for each in runs
        ],
        run_payments=Counter(
            Payment.objects.for_tenant(tenant)
            .filter(end_to_end_id__in=PaymentRunItem.objects.for_tenant(tenant).values("end_to_end_id"))
            .values_list("status", flat=True)
        ),
        run_transfers=[
            PaymentRunItem.objects.for_tenant(tenant).filter(run=each).values("end_to_end_id").distinct().count()
            for each in runs
        ],
        run_excluded_reasons=excluded,
        returned=set(
            PaymentRunItem.objects.for_tenant(tenant)
            .filter(returned_at__isnull=False, return_reason="AC04")
            .values_list("vendor__name", "invoice__status")
        ),
        file_errors=pain001_errors(content, version=run.file_format),
        end_to_end_ids_in_file=all(
            f"<EndToEndId>{e2e}</EndToEndId>" in run.file_content
            for e2e in set(items.values_list("end_to_end_id", flat=True))
        ),
        cooling_off_page=page(reverse("web:vendor-bank-accounts", args=[by_name[_vendor_name(COOLING_OFF_VENDOR)]])),
        pending_page=page(reverse("web:vendor-bank-accounts", args=[by_name[_vendor_name(PENDING_CHANGE_VENDOR)]])),
        run_page=page(reverse("web:payment-run", args=[run.pk])),
        file_download=(download.status_code, download.get("Content-Disposition", "")),
    )


def _documents(tenant: Tenant) -> list[tuple[str, str, int, str, str]]:
    """Each document as a clerk would compare two exports: number, money, state, date (ids differ)."""
    rows = Invoice.objects.for_tenant(tenant).values_list(
        "invoice_number", "currency", "total_amount", "status", "invoice_date"
    )
    return sorted(
        (number, currency, total, status, date.isoformat() if date else "")
        for number, currency, total, status, date in rows
    )


def _signals(tenant: Tenant) -> dict[str, set[tuple[str, str, str]]]:
    signals: dict[str, set[tuple[str, str, str]]] = {}
    rows = Discrepancy.objects.for_tenant(tenant).filter(type__in=RISK_SIGNALS)
    for kind, vendor, status, queue in rows.values_list(
        "type", "invoice__vendor__name", "invoice__status", "invoice__review_queue"
    ):
        signals.setdefault(kind, set()).add((vendor, status, queue or ""))
    return signals


def _risk_approvals(tenant: Tenant) -> list[tuple[frozenset[str], str]]:
    flagged: dict[str, set[str]] = {}
    rows = Discrepancy.objects.for_tenant(tenant).filter(type__in=RISK_CHECKS)
    for invoice_id, kind in rows.values_list("invoice_id", "type"):
        flagged.setdefault(str(invoice_id), set()).add(kind)
    approvals = AuditEvent.objects.for_tenant(tenant).filter(
        entity_type="invoice", action="transition", entity_id__in=flagged, after__status=InvoiceStatus.APPROVED
    )
    return [
        (frozenset(flagged[entity_id]), (after or {}).get("reason", ""))
        for entity_id, after in approvals.values_list("entity_id", "after")
    ]


def _facts(tenant: Tenant, **outputs: Any) -> dict[str, Any]:
    invoices = Invoice.objects.for_tenant(tenant)
    receipts = GoodsReceipt.objects.for_tenant(tenant).select_related("purchase_order")
    audit = StringIO()
    assert seal(tenant).unsealed == 0
    call_command("verify_audit", "--tenant", tenant.slug, stdout=audit)
    with tenant_scope(tenant):
        summary = dashboard_summary(tenant=tenant)
    return {
        "summary": demo_summary(tenant=tenant),
        "statuses": Counter((status, queue or "") for status, queue in invoices.values_list("status", "review_queue")),
        "discrepancy_types": set(Discrepancy.objects.for_tenant(tenant).values_list("type", flat=True)),
        "payment_statuses": set(Payment.objects.for_tenant(tenant).values_list("status", flat=True)),
        "purchase_order_statuses": set(PurchaseOrder.objects.for_tenant(tenant).values_list("status", flat=True)),
        "late_receipts": sum(
            1
            for receipt in receipts
            if receipt.purchase_order.expected_date and receipt.received_date > receipt.purchase_order.expected_date
        ),
        "prepaid_invoices": invoices.filter(prepaid_amount__gt=0).count(),
        "roles": dict(Membership.objects.for_tenant(tenant).values_list("user__username", "role")),
        "assignees": Counter(
            invoices.filter(assigned_to__isnull=False).values_list("assigned_to__username", flat=True)
        ),
        "audit_output": audit.getvalue(),
        "forecast_weeks_with_cash": {
            chart.currency: sum(1 for bar in chart.bars if bar.amount_minor > 0) for chart in summary.cash_forecast
        },
        "documents": _documents(tenant),
        "paying": _paying_facts(tenant),
        "signals": _signals(tenant),
        "risk_approvals": _risk_approvals(tenant),
        **outputs,
    }


@pytest.fixture(scope="module")
def demo(django_db_setup: None, django_db_blocker: Any) -> Iterator[DemoFacts]:
    """The demo seeded by the command (twice: the second run must reuse it) and into a twin tenant.

    All inside one transaction that is rolled back at the end, run as the app's runtime role so
    row-level security binds the seed as in production. The outer block is marked as a test
    case's own, as Django's TestCase marks its blocks, so each seed is an application
    transaction of its own for the lock-order check (core.locks) and the backend's bookkeeping.
    """
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer._from_testcase = True  # type: ignore[attr-defined]
        with outer:
            with connection.cursor() as cursor:
                cursor.execute(f'SET ROLE "{settings.DB_RUNTIME_ROLE}"')
            first, second = StringIO(), StringIO()
            call_command("seed_demo", stdout=first)
            tenant = Tenant.objects.get(slug=DEMO_SLUG)
            loaded = demo_summary(tenant=tenant)
            call_command("seed_demo", stdout=second)
            with demo_transaction() as scope:
                twin = demo_tenant_create(
                    slug=TWIN_SLUG, name="Demo Twin GmbH", today=timezone.localdate(), scope=scope
                )
            facts = _facts(
                tenant,
                first_output=first.getvalue(),
                second_output=second.getvalue(),
                summary_after_second_run=demo_summary(tenant=tenant),
                twin_documents=_documents(twin),
            )
            assert facts["summary_after_second_run"] == loaded
            transaction.set_rollback(True)
    yield DemoFacts(**facts)


def test_every_invoice_state_is_in_the_demo(demo: DemoFacts) -> None:
    present = {status for status, _ in demo.statuses}
    assert present == set(InvoiceStatus.values)
    queues = {queue for status, queue in demo.statuses if status == InvoiceStatus.PENDING_REVIEW}
    assert queues == set(ReviewQueue.values)


def test_every_discrepancy_type_the_engine_produces_is_in_the_demo(demo: DemoFacts) -> None:
    assert demo.discrepancy_types == set(DISCREPANCY_TYPES)


def test_payments_purchase_orders_and_receipts_cover_their_cases(demo: DemoFacts) -> None:
    assert demo.payment_statuses == set(PaymentStatus.values)
    assert demo.purchase_order_statuses == set(PurchaseOrder.Status.values)
    assert demo.late_receipts >= 20
    assert demo.prepaid_invoices >= 3


def test_the_counts_are_those_the_readme_states(demo: DemoFacts) -> None:
    summary = demo.summary
    assert 35 <= summary.vendors <= 45
    assert 550 <= summary.purchase_orders <= 650
    assert summary.goods_receipts >= summary.purchase_orders
    assert 1300 <= summary.invoices + summary.credit_notes <= 1700
    assert 20 <= summary.credit_notes <= 80
    assert 10 <= summary.statements <= 15
    assert 300 <= summary.payments <= 800
    # Something waits in every queue a clerk opens on day one.
    assert demo.statuses[(InvoiceStatus.PENDING_REVIEW, ReviewQueue.STANDARD)] >= 5
    assert demo.statuses[(InvoiceStatus.PENDING_REVIEW, ReviewQueue.ESCALATED)] >= 10
    assert demo.statuses[(InvoiceStatus.ON_HOLD, "")] >= 3
    assert demo.statuses[(InvoiceStatus.DISPUTED, "")] >= 3


def test_the_demo_is_the_same_on_every_run(demo: DemoFacts) -> None:
    """Two seeds into two fresh tenants: the same documents, amounts and outcomes."""
    assert demo.documents == demo.twin_documents
    assert len(demo.documents) == demo.summary.invoices + demo.summary.credit_notes


def test_the_demo_dates_end_today(demo: DemoFacts) -> None:
    dates = [dt.date.fromisoformat(date) for *_, date in demo.documents]
    today = timezone.localdate()
    assert max(dates) <= today
    assert today - max(dates) <= dt.timedelta(days=2)
    assert today - min(dates) >= dt.timedelta(days=85)


def test_the_open_work_is_shared_out(demo: DemoFacts) -> None:
    open_work = sum(
        count for (status, _queue), count in demo.statuses.items() if status in ("on_hold", "pending_review")
    )
    assert {"clerk", "clerk2"} <= set(demo.assignees)
    assert 0 < sum(demo.assignees.values()) < open_work  # some left for whoever takes them


def test_the_demo_users_have_their_roles_and_are_printed(demo: DemoFacts) -> None:
    assert demo.roles == {user.username: user.role for user in DEMO_USERS}
    for user in DEMO_USERS:
        assert f"Web login: {user.username} / recon-demo" in demo.first_output


def test_a_second_run_reuses_the_demo(demo: DemoFacts) -> None:
    assert "Loaded the demo tenant" in demo.first_output
    assert "reusing its data" in demo.second_output
    assert demo.summary_after_second_run == demo.summary


def test_the_demo_audit_trail_verifies(demo: DemoFacts) -> None:
    assert f"{DEMO_SLUG}: " in demo.audit_output
    assert "chain intact" in demo.audit_output
    assert "OK: 1 chains intact." in demo.audit_output


def test_the_dashboard_forecast_has_cash_in_most_weeks(demo: DemoFacts) -> None:
    assert demo.forecast_weeks_with_cash.get("EUR", 0) >= 5
    assert len(demo.forecast_weeks_with_cash) >= 3  # other currencies than euros are due too


def test_credit_notes_are_stored_received_and_never_matched(demo: DemoFacts) -> None:
    """Credit notes answer to invoices, not POs: matching leaves them `received` (the demo's CN- numbers)."""
    credit_notes = [status for number, _, _, status, _ in demo.documents if number.startswith("CN-")]
    assert len(credit_notes) == demo.summary.credit_notes
    assert set(credit_notes) == {InvoiceStatus.RECEIVED}


def test_every_vendor_has_a_bank_account_approved_by_a_second_person(demo: DemoFacts) -> None:
    paying = demo.paying
    vendors = demo.summary.vendors
    # One account per vendor, one of them replaced in the last week, one change still waiting.
    assert paying.account_statuses == Counter(
        {BankAccountStatus.ACTIVE: vendors, BankAccountStatus.RETIRED: 1, BankAccountStatus.PENDING: 1}
    )
    assert paying.decided_by_proposer == 0
    cooling_off = _vendor_name(COOLING_OFF_VENDOR)
    # The changed account cools off, and so does the account of the vendor set up this week.
    assert {name: reason for name, reason in paying.payable_reasons.items() if reason} == {
        cooling_off: "cooling_off",
        PROPERTY_MANAGER.name: "cooling_off",
    }
    assert "Cooling off until" in paying.cooling_off_page
    # The waiting change does not stop payment to the vendor's active account; the approver may decide it.
    assert "Pending approval by another person" in paying.pending_page
    assert 'value="approve"' in paying.pending_page
    assert "Cooling off until" not in paying.pending_page


def test_the_payment_run_is_approved_and_its_file_validates(demo: DemoFacts) -> None:
    """The last working day's run: approved, its invoices scheduled, its file offered and valid."""
    paying = demo.paying
    [_earlier, (status, file_name, invoices)] = paying.runs
    assert status == PaymentRunStatus.APPROVED
    assert file_name.endswith(".xml")
    assert invoices >= 20
    assert paying.run_invoice_statuses[-1] == {InvoiceStatus.PAYMENT_SCHEDULED}
    assert demo.statuses[(InvoiceStatus.PAYMENT_SCHEDULED, "")] == invoices
    assert paying.file_errors == []
    assert paying.end_to_end_ids_in_file
    assert paying.file_download == (200, f'attachment; filename="{file_name}"')
    assert f"Download {file_name}" in paying.run_page
    # The vendor whose new account is cooling off is left out, and the page says why.
    reasons = paying.run_excluded_reasons[_vendor_name(COOLING_OFF_VENDOR)]
    assert len(reasons) == 1
    assert "can be paid from" in next(iter(reasons))
    assert next(iter(reasons)) in paying.run_page.replace("&#x27;", "'")


def test_an_earlier_runs_transfers_come_back_on_the_statement_and_reconcile(demo: DemoFacts) -> None:
    """The week before's run: the bank statement brings each transfer back with its EndToEndId,
    and tier 0 reconciles exactly its invoices."""
    paying = demo.paying
    [(status, _, invoices), _last] = paying.runs
    assert status == PaymentRunStatus.APPROVED
    assert invoices >= 10
    # Reconciled, but for the invoices of the one transfer the bank sent back (approved again).
    assert paying.run_invoice_statuses[0] == {InvoiceStatus.RECONCILED, InvoiceStatus.APPROVED}
    # One statement line per transfer of the earlier run, every one matched but the returned one, which
    # is set aside with the credit that brought it back; none yet for the last run's.
    assert paying.run_payments == Counter(
        {PaymentStatus.MATCHED: paying.run_transfers[0] - 1, PaymentStatus.IGNORED: 2}
    )


def test_a_returned_transfer_reopens_its_invoices_and_the_next_run_holds_them_back(demo: DemoFacts) -> None:
    """The bank sent one vendor's transfer back (account closed): its invoices are approved again with
    the discrepancy, and the last run leaves them out until the vendor's account is changed."""
    [(vendor, status)] = demo.paying.returned
    assert status == InvoiceStatus.APPROVED
    assert {(vendor, InvoiceStatus.APPROVED, "")} == demo.signals[PAYMENT_RETURNED]
    [reason] = demo.paying.run_excluded_reasons[vendor]
    assert reason.startswith("The bank returned its last payment (account closed (AC04)")


def test_each_risk_signal_holds_its_invoice_for_the_approver(demo: DemoFacts) -> None:
    """The forged bill, the bill within the cooling-off, a zero too many, and the rent billed twice
    by a new vendor paid to the landlord's account: each waits in the escalated queue, flagged
    (other invoices may carry a signal too: Müller's while its change waited, a big order)."""
    escalated = (InvoiceStatus.PENDING_REVIEW, ReviewQueue.ESCALATED)
    expected = {
        BANK_ACCOUNT_MISMATCH: _vendor_name(FORGED_VENDOR),
        BANK_ACCOUNT_CHANGED: _vendor_name(CHANGED_VENDOR),
        UNUSUAL_AMOUNT: _vendor_name(UNUSUAL_VENDOR),
        NEW_VENDOR_LARGE_INVOICE: PROPERTY_MANAGER.name,
        SHARED_BANK_ACCOUNT: PROPERTY_MANAGER.name,
    }
    for signal, vendor in expected.items():
        assert (vendor, *escalated) in demo.signals[signal], signal
    # The new vendor's is the only first invoice above the limit the administrator set.
    assert demo.signals[NEW_VENDOR_LARGE_INVOICE] == {(PROPERTY_MANAGER.name, *escalated)}


def test_an_approver_passes_a_risk_signal_only_saying_what_was_checked(demo: DemoFacts) -> None:
    """A big order or a bill after a bank change may be approved in the demo, but never on the
    delivery note alone: the reason names the check made for each signal it carries."""
    assert demo.risk_approvals
    for signals, reason in demo.risk_approvals:
        for signal in signals:
            assert RISK_CHECKS[signal] in reason, (signal, reason)


def test_the_seed_sends_no_mail_of_its_past_and_restores_the_backend() -> None:
    """The bank-account notices of the demo's three months would be e-mailed when the seed
    commits; they belong to the past, and `make run`'s console would print each one."""
    from django.core import mail

    from recon_site.management.commands.seed_demo import _past_mail_unsent

    backend = settings.EMAIL_BACKEND
    mail.outbox = []
    with _past_mail_unsent():
        mail.send_mail("[Recon] past notice", "body", None, ["admin@demo.invalid"])
    assert mail.outbox == []
    assert backend == settings.EMAIL_BACKEND
    mail.send_mail("[Recon] today's notice", "body", None, ["admin@demo.invalid"])
    assert [message.subject for message in mail.outbox] == ["[Recon] today's notice"]


@pytest.mark.parametrize("offset", range(7), ids=lambda offset: f"today+{offset}")
def test_whatever_the_weekday_one_payment_run_is_the_last_to_come_back_on_a_statement(offset: int) -> None:
    """The demo ends on any weekday; its last run whose transfers an imported statement shows is
    where an instalment is started, so an invoice is still partly paid at the end (found missing
    on a Tuesday, when no instalment had happened to fall in the last two runs)."""
    from recon_site.demo.bank import _last_reported_run, is_payment_run
    from recon_site.demo.plan import FIRST_DAY, DemoCalendar

    calendar = DemoCalendar(dt.date(2026, 12, 7) + dt.timedelta(days=offset))
    runs = [day for day in range(FIRST_DAY, 1) if is_payment_run(calendar, day)]
    last = [day for day in runs if _last_reported_run(calendar, day)]
    assert len(last) == 1
    assert -11 <= last[0] <= -4  # booked the next day, on a Monday statement by today (today included)
