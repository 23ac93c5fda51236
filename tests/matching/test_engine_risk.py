"""The risk signals (matching.engine.risk) on hand-built data: where the money would go, unusual
amounts, new vendors and accounts shared between vendors. Each test states the facts a clerk
would see and the decision they lead to."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from decimal import Decimal

from core.amount_limits import AmountLimits
from matching.engine import MatchOutcome, match_batch
from matching.engine.risk import robust_z_score
from matching.engine.types import (
    AcceptedTotalRecord,
    BankAccountRecord,
    InvoiceRecord,
    MatchContext,
    SharedAccountInvoiceRecord,
    VendorHistoryRecord,
    VendorRecord,
)
from tests.matching.engine_builders import ACME, DAY, NORDIC, context, inv_line, invoice, po_line, purchase_order

T0 = dt.datetime(2026, 10, 1, 9, 0, tzinfo=dt.UTC)
OLD = BankAccountRecord("hash-old", "****1111", "retired", T0 - dt.timedelta(days=400), T0 - dt.timedelta(days=397))
CURRENT = BankAccountRecord("hash-cur", "****4300", "active", T0 - dt.timedelta(days=300), T0 - dt.timedelta(days=297))


def bolts_po() -> object:
    return purchase_order(po_line(1, "HB", "Hex bolts", "100", "1.00", received="100"))


def bolts(total_units: str = "100", *, number: str = "INV-1", vendor: VendorRecord = ACME, **fields: object):
    """An invoice that is otherwise a clean 3-way match of PO-1 (100 bolts at 1.00 = 100.00 EUR)."""
    record = invoice(inv_line(1, "HB", "Hex bolts", total_units, "1.00"), number=number, vendor=vendor)
    return dataclasses.replace(record, received_at=fields.pop("received_at", T0), **fields)  # type: ignore[arg-type]


def with_accounts(*accounts: BankAccountRecord, vendor: VendorRecord = ACME) -> VendorRecord:
    return dataclasses.replace(vendor, bank_accounts=accounts)


def match(record: InvoiceRecord, ctx: MatchContext) -> MatchOutcome:
    [outcome] = match_batch([record], ctx)
    assert isinstance(outcome, MatchOutcome)
    return outcome


def types_of(outcome: MatchOutcome) -> list[str]:
    return [d.type for d in outcome.discrepancies]


def ctx_with(vendor: VendorRecord, **settings: object) -> MatchContext:
    return context(bolts_po(), vendors=(vendor, NORDIC), **settings)


# --- bank_account_mismatch ----------------------------------------------------------------


class TestBankAccountMismatch:
    def test_an_account_not_on_record_is_critical_and_escalates_a_small_invoice(self) -> None:
        vendor = with_accounts(CURRENT, OLD)
        outcome = match(bolts(payee_account_hash="hash-evil", payee_account_mask="****1234"), ctx_with(vendor))
        [finding] = outcome.discrepancies
        assert (finding.type, finding.severity) == ("bank_account_mismatch", "critical")
        assert finding.message.startswith("Account ****1234 is not one of Acme Supplies Ltd's accounts")
        assert "****4300" in finding.message and "by phone" in finding.message
        # 100.00 EUR would be auto-approved (below the limit) were it not for the account.
        assert (outcome.status, outcome.review_queue) == ("pending_review", "escalated")
        assert "bank_account_mismatch" in outcome.decision_reason

    def test_the_active_or_an_old_account_is_no_mismatch(self) -> None:
        vendor = with_accounts(CURRENT, OLD)
        for digest in ("hash-cur", "hash-old"):
            outcome = match(bolts(payee_account_hash=digest, payee_account_mask="****"), ctx_with(vendor))
            assert outcome.discrepancies == () and outcome.status == "approved"

    def test_a_vendor_without_accounts_on_record_or_an_invoice_naming_none_is_not_judged(self) -> None:
        assert match(bolts(payee_account_hash="hash-evil"), ctx_with(ACME)).status == "approved"
        only_pending = with_accounts(BankAccountRecord("hash-new", "****7777", "pending"))
        assert match(bolts(payee_account_hash="hash-evil"), ctx_with(only_pending)).status == "approved"
        assert match(bolts(), ctx_with(with_accounts(CURRENT))).status == "approved"

    def test_an_account_waiting_for_approval_or_rejected_is_named_as_such(self) -> None:
        pending = BankAccountRecord("hash-new", "****7777", "pending")
        rejected = BankAccountRecord("hash-bad", "****6666", "rejected", T0 - dt.timedelta(days=5))
        vendor = with_accounts(pending, rejected, CURRENT)
        waiting = match(bolts(payee_account_hash="hash-new", payee_account_mask="****7777"), ctx_with(vendor))
        assert types_of(waiting) == ["bank_account_mismatch"]
        assert "proposed on the vendor's page and not approved yet" in waiting.discrepancies[0].message
        refused = match(bolts(payee_account_hash="hash-bad", payee_account_mask="****6666"), ctx_with(vendor))
        assert "proposed as the vendor's account and rejected" in refused.discrepancies[0].message
        # The pending change is flagged beside it; on the invoice naming it, the mismatch says it all.
        assert types_of(refused) == ["bank_account_mismatch", "bank_account_changed"]


# --- bank_account_changed -------------------------------------------------------------------


class TestBankAccountChanged:
    changed = dataclasses.replace(
        CURRENT, decided_at=T0 - dt.timedelta(days=1), usable_from=T0 + dt.timedelta(days=2), replaces_mask="****1111"
    )

    def test_an_invoice_received_while_the_new_account_cools_off_is_flagged(self) -> None:
        vendor = with_accounts(self.changed, OLD)
        outcome = match(bolts(payee_account_hash="hash-cur"), ctx_with(vendor))
        [finding] = outcome.discrepancies
        assert (finding.type, finding.severity) == ("bank_account_changed", "high")
        assert "changed on 2026-09-30 from ****1111 to ****4300" in finding.message
        assert "cooling-off ended (2026-10-03)" in finding.message
        assert (outcome.status, outcome.review_queue) == ("pending_review", "escalated")

    def test_after_the_cooling_off_or_for_a_first_account_nothing_is_flagged(self) -> None:
        later = bolts(received_at=T0 + dt.timedelta(days=2))  # exactly when it became usable
        assert match(later, ctx_with(with_accounts(self.changed, OLD))).status == "approved"
        first = dataclasses.replace(self.changed, replaces_mask="")
        assert match(bolts(), ctx_with(with_accounts(first))).status == "approved"

    def test_a_change_waiting_for_approval_is_flagged(self) -> None:
        vendor = with_accounts(BankAccountRecord("hash-new", "****7777", "pending"), CURRENT)
        outcome = match(bolts(payee_account_hash="hash-cur"), ctx_with(vendor))
        assert types_of(outcome) == ["bank_account_changed"]
        assert "from ****4300 to ****7777 is waiting for approval" in outcome.discrepancies[0].message


# --- unusual_amount ---------------------------------------------------------------------------


def history(vendor: VendorRecord, *totals: int, currency: str = "EUR") -> dict[uuid.UUID, VendorHistoryRecord]:
    recent = tuple(
        AcceptedTotalRecord(T0 - dt.timedelta(days=n + 1), total, currency) for n, total in enumerate(totals)
    )
    return {vendor.id: VendorHistoryRecord(vendor.id, first_accepted_at=T0 - dt.timedelta(days=365), recent=recent)}


def big_order(units: str) -> tuple[object, InvoiceRecord]:
    po = purchase_order(po_line(1, "HB", "Hex bolts", "100000", "1.00", received="100000"))
    record = invoice(inv_line(1, "HB", "Hex bolts", units, "1.00"))
    return po, dataclasses.replace(record, received_at=T0)


class TestUnusualAmount:
    steady = (100_000, 110_000, 95_000, 105_000, 98_000, 102_000)  # about 1,000 EUR

    def test_an_amount_far_above_the_vendors_history_is_flagged_with_its_usual(self) -> None:
        po, record = big_order("48000")  # 48,000.00 EUR
        ctx = context(po)
        ctx.vendor_histories = history(ACME, *self.steady)
        outcome = match(record, ctx)
        [finding] = outcome.discrepancies
        assert (finding.type, finding.severity) == ("unusual_amount", "high")
        assert finding.message.startswith("Total 48000.00 EUR is far above Acme Supplies Ltd's usual invoices")
        assert "over its last 6 accepted" in finding.message and finding.expected == "1010.00 EUR"
        assert (outcome.status, outcome.review_queue) == ("pending_review", "escalated")

    def test_an_amount_inside_the_history_or_below_it_is_not(self) -> None:
        for units in ("1200", "300"):
            po, record = big_order(units)
            ctx = context(po)
            ctx.vendor_histories = history(ACME, *self.steady)
            assert "unusual_amount" not in types_of(match(record, ctx))

    def test_below_the_minimum_history_nothing_is_judged(self) -> None:
        po, record = big_order("48000")
        ctx = context(po, unusual_amount_min_history=7)
        ctx.vendor_histories = history(ACME, *self.steady)  # 6 < 7
        assert "unusual_amount" not in types_of(match(record, ctx))

    def test_the_window_takes_the_latest_invoices_only(self) -> None:
        po, record = big_order("48000")
        ctx = context(po, unusual_amount_window=3, unusual_amount_min_history=3)
        # The three latest are as large as this one; older small ones fall outside the window.
        ctx.vendor_histories = history(ACME, 4_700_000, 4_900_000, 4_800_000, *self.steady)
        assert "unusual_amount" not in types_of(match(record, ctx))

    def test_identical_amounts_mad_zero_flag_a_large_jump_but_not_a_cent_more(self) -> None:
        same = (100_000,) * 8
        assert robust_z_score(100_001, same)[0] < Decimal("0.01")
        assert robust_z_score(160_000, same)[0] < Decimal("3.5") < robust_z_score(180_000, same)[0]
        po, record = big_order("1800")
        ctx = context(po)
        ctx.vendor_histories = history(ACME, *same)
        assert types_of(match(record, ctx)) == ["unusual_amount"]

    def test_another_currencys_history_does_not_count(self) -> None:
        po, record = big_order("48000")
        ctx = context(po)
        ctx.vendor_histories = history(ACME, *self.steady, currency="USD")
        assert "unusual_amount" not in types_of(match(record, ctx))

    def test_the_threshold_is_a_setting(self) -> None:
        po, record = big_order("48000")
        ctx = context(po, unusual_amount_threshold=Decimal("50"))
        ctx.vendor_histories = history(ACME, *self.steady)
        assert "unusual_amount" not in types_of(match(record, ctx))


# --- new_vendor_large_invoice ------------------------------------------------------------------


class TestNewVendor:
    # The tenant's limit for a new vendor's first invoice in EUR: 5,000.00 (none by default).
    limits = {"EUR": AmountLimits("EUR", 10_000, 1_000_000, 500, new_vendor_first_invoice_max=500_000)}

    def new(self, ctx: MatchContext) -> MatchContext:
        ctx.vendor_histories = {ACME.id: VendorHistoryRecord(ACME.id)}
        return ctx

    def test_without_a_limit_nothing_is_judged(self) -> None:
        po, record = big_order("90000")
        assert match(record, self.new(context(po))).discrepancies == ()

    def test_a_first_invoice_above_the_limit_is_flagged(self) -> None:
        po, record = big_order("6000")  # 6,000.00 EUR > 5,000.00 EUR
        outcome = match(record, self.new(context(po, amount_limits=self.limits)))
        [finding] = outcome.discrepancies
        assert (finding.type, finding.severity) == ("new_vendor_large_invoice", "high")
        assert "above the new-vendor limit 5000.00 EUR" in finding.message
        assert (outcome.status, outcome.review_queue) == ("pending_review", "escalated")

    def test_at_the_limit_or_with_an_accepted_invoice_before_it_is_not(self) -> None:
        po, record = big_order("5000")
        assert match(record, self.new(context(po, amount_limits=self.limits))).discrepancies == ()
        po, record = big_order("6000")
        ctx = context(po, amount_limits=self.limits)
        ctx.vendor_histories = {ACME.id: VendorHistoryRecord(ACME.id, first_accepted_at=T0 - dt.timedelta(days=1))}
        assert match(record, ctx).discrepancies == ()

    def test_an_accepted_invoice_received_after_this_one_does_not_make_it_a_known_vendor(self) -> None:
        po, record = big_order("6000")
        ctx = context(po, amount_limits=self.limits)
        ctx.vendor_histories = {ACME.id: VendorHistoryRecord(ACME.id, first_accepted_at=T0 + dt.timedelta(hours=1))}
        assert types_of(match(record, ctx)) == ["new_vendor_large_invoice"]

    def test_the_limit_is_the_tenants_in_the_invoices_currency(self) -> None:
        po, record = big_order("6000")
        higher = {"EUR": AmountLimits("EUR", 10_000, 1_000_000, 500, new_vendor_first_invoice_max=1_000_000)}
        assert match(record, self.new(context(po, amount_limits=higher))).discrepancies == ()
        usd_only = {"USD": self.limits["EUR"]}
        assert match(record, self.new(context(po, amount_limits=usd_only))).discrepancies == ()

    def test_a_small_first_invoice_approved_in_the_batch_makes_the_next_a_known_vendors(self) -> None:
        po = purchase_order(po_line(1, "HB", "Hex bolts", "100000", "1.00", received="100000"))
        first = dataclasses.replace(invoice(inv_line(1, "HB", "Hex bolts", "50", "1.00")), received_at=T0)
        second = dataclasses.replace(
            invoice(inv_line(1, "HB", "Hex bolts", "6000", "1.00"), number="INV-2"), received_at=T0 + dt.timedelta(1)
        )
        outcomes = match_batch([first, second], self.new(context(po, amount_limits=self.limits)))
        assert [o.status for o in outcomes if isinstance(o, MatchOutcome)] == ["approved", "approved"]


# --- shared_bank_account -----------------------------------------------------------------------


class TestSharedAccount:
    def shared(self, *, number: str = "X-9", total: int = 10_000) -> dict[str, list[SharedAccountInvoiceRecord]]:
        return {
            "hash-cur": [
                SharedAccountInvoiceRecord("hash-cur", uuid.uuid4(), NORDIC.id, NORDIC.name, number,
                                           number.replace("-", ""), total, "EUR", DAY)
            ]
        }  # fmt: skip

    def test_the_same_number_at_another_vendor_with_the_account_is_flagged(self) -> None:
        ctx = ctx_with(with_accounts(CURRENT))
        ctx.shared_account_invoices = self.shared(number="INV-1", total=1)
        outcome = match(bolts(payee_account_hash="hash-cur", payee_account_mask="****4300"), ctx)
        [finding] = outcome.discrepancies
        assert (finding.type, finding.severity) == ("shared_bank_account", "high")
        assert "Account ****4300 is also Nordic Fasteners AB's" in finding.message
        assert "the same invoice number INV-1" in finding.message
        assert outcome.status == "pending_review"

    def test_the_same_total_is_flagged_and_a_different_bill_is_not(self) -> None:
        ctx = ctx_with(with_accounts(CURRENT))
        ctx.shared_account_invoices = self.shared(total=10_000)  # 100.00 EUR, as the invoice
        assert types_of(match(bolts(payee_account_hash="hash-cur"), ctx)) == ["shared_bank_account"]
        ctx.shared_account_invoices = self.shared(total=10_001)
        assert match(bolts(payee_account_hash="hash-cur"), ctx).discrepancies == ()

    def test_two_vendors_of_one_batch_billing_the_same_to_one_account(self) -> None:
        nordic_po = purchase_order(po_line(1, "HB", "Hex bolts", "100", "1.00", received="100"), number="PO-2",
                                   vendor=NORDIC)  # fmt: skip
        ctx = context(bolts_po(), nordic_po)
        first = bolts(payee_account_hash="hash-x")
        second = dataclasses.replace(
            invoice(inv_line(1, "HB", "Hex bolts", "100", "1.00"), number="N-77", vendor=NORDIC, po_number="PO-2"),
            payee_account_hash="hash-x",
            received_at=T0 + dt.timedelta(minutes=1),
        )
        outcomes = [o for o in match_batch([first, second], ctx) if isinstance(o, MatchOutcome)]
        assert types_of(outcomes[0]) == [] and types_of(outcomes[1]) == ["shared_bank_account"]
