"""The pure reconciliation engine, tier by tier, with hand-built payments and invoices."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest

from core.amount_limits import AmountLimits
from invoices.numbers import normalize_invoice_number
from payments.reconciliation.engine import reconcile_batch, reconcile_payment
from payments.reconciliation.references import OpenInvoiceIndex, reference_key, remittance_keys
from payments.reconciliation.tiers import subset_sum, write_off_limit
from payments.reconciliation.types import (
    OpenInvoice,
    PaymentRecord,
    ProposedAllocation,
    ReconcileSettings,
    VendorRecord,
)

SETTINGS = ReconcileSettings()
ACME = VendorRecord(
    uuid.UUID(int=1), "Acme Supplies Ltd", aliases=("ACME SUPPL",), account_hashes=frozenset({"h-acme"})
)
GLOBEX = VendorRecord(uuid.UUID(int=2), "Globex Corporation", account_hashes=frozenset({"h-globex"}))
VENDORS = [ACME, GLOBEX]
_ids = iter(range(100, 100_000))


def invoice(
    number: str,
    balance: int,
    *,
    vendor: VendorRecord = ACME,
    day: int = 1,
    currency: str = "EUR",
) -> OpenInvoice:
    return OpenInvoice(
        id=uuid.UUID(int=next(_ids)),
        vendor_id=vendor.id,
        number_normalized=number,
        open_balance=balance,
        currency=currency,
        invoice_date=dt.date(2026, 9, day),
        due_date=dt.date(2026, 10, day),
    )


def payment(
    amount: int,
    *,
    text: str = "",
    name: str = "",
    account: str = "",
    currency: str = "EUR",
    debit: bool = True,
) -> PaymentRecord:
    return PaymentRecord(
        id=uuid.UUID(int=next(_ids)),
        amount=amount,
        currency=currency,
        is_debit=debit,
        counterparty_name=name,
        counterparty_account_hash=account,
        remittance_text=text,
        booking_date=dt.date(2026, 10, 12),
    )


@pytest.mark.parametrize(
    ("number", "key"),
    [("INV000123", "123"), ("RE2026042", "2026042"), ("INVNO77123", "77123"), ("ABC123", "ABC123"), ("INV", "")],
)
def test_reference_key_drops_prefixes_and_zero_padding(number: str, key: str) -> None:
    assert reference_key(number) == key


@pytest.mark.parametrize(
    "text",
    ["Payment inv-000123", "RE 123 thanks", "Rechnung Nr. 0123", "#123", "invoice no 123", "INV 0 0123"],
)
def test_remittance_finds_the_number_however_it_is_written(text: str) -> None:
    assert "123" in remittance_keys(text)


def test_short_numbers_are_not_references() -> None:
    assert {"12", "7", "10"}.isdisjoint(remittance_keys("paid 12 items on 7/10"))


# Invoice numbers with slashes (Polish "FV/…/09/2026", "EP/…/2026/118"): a number of any length
# is a run of whole words of the remittance, and a number inside another number is not a reference.
TAG = "K7Q2"


def numbered(number: str, balance: int, **fields: Any) -> OpenInvoice:
    """An open invoice numbered as printed, normalized as the loader reads it from the database."""
    return invoice(normalize_invoice_number(number), balance, **fields)


@pytest.mark.parametrize("number", [f"FV/{TAG}/09/2026", "FV/ABC/09/2026", f"EP/{TAG}/2026/118", "A/B/C/D/E/F/1234"])
def test_a_slashed_invoice_number_of_any_length_is_found_in_the_remittance(number: str) -> None:
    target = numbered(number, 1_230_00)
    index = OpenInvoiceIndex([target, numbered("FV/1/09/2026", 1_230_00)])
    assert index.references_in("EUR", f"Zaplata za fakture {number} dziekujemy") == [
        reference_key(target.number_normalized)
    ]


def test_exact_payment_of_a_slashed_invoice_number_is_allocated_to_it() -> None:
    target = numbered(f"FV/{TAG}/09/2026", 1_230_00)
    decoy = numbered(f"FV/{TAG}/10/2026", 1_230_00)  # same amount, next month
    proposal = reconcile_payment(
        payment(1_230_00, text=f"Zaplata za fakture FV/{TAG}/09/2026"), [decoy, target], VENDORS, SETTINGS
    )
    assert proposal is not None
    assert (proposal.tier, proposal.auto_apply) == (1, True)
    assert proposal.allocations == (ProposedAllocation(target.id, 1_230_00, "payment"),)


def test_partial_payment_of_a_slashed_invoice_number_is_allocated_to_it() -> None:
    target = numbered(f"EP/{TAG}/2026/118", 1_000_00)
    proposal = reconcile_payment(
        payment(400_00, text=f"Partial payment EP/{TAG}/2026/118", account="h-acme"), [target], VENDORS, SETTINGS
    )
    assert proposal is not None
    assert (proposal.tier, proposal.auto_apply) == (5, True)
    assert proposal.allocations == (ProposedAllocation(target.id, 400_00, "payment"),)


@pytest.mark.parametrize(
    ("number", "text"),
    [
        ("INV-1", "Payment INV-12"),
        ("INV-123", "Payment INV-1234"),
        ("INV-1234", "Payment INV-123"),
        ("FV/1/09/2026", "Zaplata za fakture FV/1/09/20261"),
        ("FV/1/09/2026", "Zaplata za fakture XFV/1/09/2026"),
        (f"EP/{TAG}/2026/118", f"Partial payment EP/{TAG}/2026/1180"),
    ],
)
def test_a_number_inside_a_longer_word_is_never_allocated(number: str, text: str) -> None:
    target = numbered(number, 50_00)
    assert OpenInvoiceIndex([target]).references_in("EUR", text) == []
    assert reconcile_payment(payment(50_00, text=text), [target], VENDORS, SETTINGS) is None


def test_a_short_number_inside_a_longer_open_number_is_not_a_second_reference() -> None:
    # "118" (another invoice of the same vendor) has exactly the payment's amount: matched as
    # the tail of EP/…/2026/118 it would be paid in full, and the invoice the text names not at all.
    short = numbered("118", 400_00)
    year = numbered("2026", 400_00)
    named = numbered(f"EP/{TAG}/2026/118", 1_000_00)
    text = f"Partial payment EP/{TAG}/2026/118"
    assert OpenInvoiceIndex([short, year, named]).references_in("EUR", text) == [reference_key(named.number_normalized)]
    proposal = reconcile_payment(payment(400_00, text=text, account="h-acme"), [short, year, named], VENDORS, SETTINGS)
    assert proposal is not None
    assert proposal.tier == 5
    assert proposal.allocations == (ProposedAllocation(named.id, 400_00, "payment"),)


def test_a_short_number_named_on_its_own_beside_a_longer_one_is_a_reference_too() -> None:
    short, named = numbered("118", 400_00), numbered(f"EP/{TAG}/2026/118", 600_00)
    text = f"118 and EP/{TAG}/2026/118"
    assert OpenInvoiceIndex([short, named]).references_in("EUR", text) == [
        "118",
        reference_key(named.number_normalized),
    ]
    proposal = reconcile_payment(payment(1_000_00, text=text), [short, named], VENDORS, SETTINGS)
    assert proposal is not None and proposal.tier == 1
    assert {allocation.invoice_id for allocation in proposal.allocations} == {short.id, named.id}


def test_a_short_number_ending_a_reference_that_is_not_open_is_still_a_reference() -> None:
    # Decided: with EP/…/2026/118 not open (paid, or not approved yet) the text's "118" may be how
    # a clerk entered that same invoice; the tiers' amount rules judge it as any reference.
    short = numbered("118", 400_00)
    assert OpenInvoiceIndex([short]).references_in("EUR", f"Payment EP/{TAG}/2026/118") == ["118"]


@pytest.mark.parametrize("filler", ["0", "-", "INV"])
def test_a_long_remittance_is_scanned_in_time_linear_in_its_words(filler: str) -> None:
    # Runs of words are unbounded in count, so a text whose key never grows ("X 0 0 0 ...") or
    # that has no digit at all must still stop each run after a bounded number of characters.
    index = OpenInvoiceIndex([numbered(f"FV/{TAG}/09/2026", 10_00)])
    words = 20_000
    text = "X " + " ".join([filler] * words) + f" FV/{TAG}/09/2026"
    before = reference_key.cache_info()
    found = index.references_in("EUR", text)
    after = reference_key.cache_info()
    assert found == [reference_key(normalize_invoice_number(f"FV/{TAG}/09/2026"))]
    # Linear, counted rather than timed (a busy machine makes any time limit flaky): the keys
    # looked at grow with the words, by a bounded number per word.
    assert (after.hits + after.misses) - (before.hits + before.misses) < 60 * (words + 10)


def test_numbers_printed_in_groups_are_still_found_whatever_the_length() -> None:
    grouped = numbered("INV-2026-0042", 10_00)
    assert OpenInvoiceIndex([grouped]).references_in("EUR", "Rechnung Nr. 2026 0042 vom 1.9.") == ["20260042"]
    assert "20260042" in remittance_keys("Rechnung Nr. 2026 0042 vom 1.9.")


# Tier 1
def test_tier1_one_referenced_invoice_with_the_exact_amount() -> None:
    target = invoice("INV000123", 50_000)
    other = invoice("INV000124", 50_000)
    proposal = reconcile_payment(payment(50_000, text="Invoice INV-123"), [other, target], VENDORS, SETTINGS)
    assert proposal is not None
    assert (proposal.tier, proposal.is_suggestion, proposal.auto_apply) == (1, False, True)
    assert proposal.allocations == (ProposedAllocation(target.id, 50_000, "payment"),)
    assert proposal.confidence == Decimal("0.970")
    assert "INV000123" in proposal.reason


def test_tier1_several_referenced_invoices_that_sum_to_the_payment() -> None:
    first, second, unrelated = invoice("INV1001", 10_000), invoice("INV1002", 2_550), invoice("INV1003", 999)
    proposal = reconcile_payment(
        payment(12_550, text="INV1001 INV1002 INV1003", account="h-acme"), [first, second, unrelated], VENDORS, SETTINGS
    )
    assert proposal is not None and proposal.tier == 1 and proposal.auto_apply
    assert {allocation.invoice_id for allocation in proposal.allocations} == {first.id, second.id}
    assert proposal.confidence == Decimal("0.990")  # the known account agrees


def test_tier1_reference_of_another_vendor_is_only_a_suggestion() -> None:
    globex_invoice = invoice("INV5555", 7_000, vendor=GLOBEX)
    proposal = reconcile_payment(payment(7_000, text="INV 5555", account="h-acme"), [globex_invoice], VENDORS, SETTINGS)
    assert proposal is not None and proposal.tier == 1
    assert proposal.is_suggestion and not proposal.auto_apply


def test_other_currency_is_never_matched() -> None:
    usd = invoice("INV000123", 50_000, currency="USD")
    assert reconcile_payment(payment(50_000, text="INV-123", account="h-acme"), [usd], VENDORS, SETTINGS) is None


def test_a_credit_is_not_a_payment_to_a_vendor() -> None:
    target = invoice("INV000123", 50_000)
    assert reconcile_payment(payment(50_000, text="INV-123", debit=False), [target], VENDORS, SETTINGS) is None


# Tier 2
@pytest.mark.parametrize(
    ("fields", "confidence", "auto"),
    [
        ({"account": "h-acme"}, "0.950", True),
        ({"name": "ACME SUPPLIES LIMITED"}, "0.930", True),
        ({"name": "Acme Suppl"}, "0.930", True),  # the alias
        ({"name": "Acme Suplies"}, "0.880", False),  # fuzzy: a suggestion at the default threshold
    ],
    ids=["account", "name", "alias", "fuzzy"],
)
def test_tier2_vendor_and_one_equal_balance(fields: dict[str, str], confidence: str, auto: bool) -> None:
    target, other = invoice("A-1", 42_00), invoice("A-2", 99_00)
    proposal = reconcile_payment(payment(42_00, text="thanks", **fields), [target, other], VENDORS, SETTINGS)
    assert proposal is not None and proposal.tier == 2
    assert proposal.confidence == Decimal(confidence)
    assert proposal.auto_apply is auto
    assert proposal.allocations == (ProposedAllocation(target.id, 42_00, "payment"),)


def test_tier2_equal_recurring_amounts_do_not_auto_match() -> None:
    """Three months of the same rent: which one was paid is a clerk's call."""
    months = [invoice(f"RENT-{month}", 1_500_00, day=month) for month in (1, 2, 3)]
    proposal = reconcile_payment(payment(1_500_00, account="h-acme"), months, VENDORS, SETTINGS)
    assert proposal is not None and proposal.tier == 2
    assert proposal.is_suggestion and not proposal.auto_apply
    assert set(proposal.candidates) == {month.id for month in months}
    assert "3 open invoices" in proposal.reason


def test_unknown_counterparty_without_reference_is_no_match() -> None:
    assert reconcile_payment(payment(42_00, name="Initech"), [invoice("A-1", 42_00)], VENDORS, SETTINGS) is None


# Tier 3
def test_tier3_sum_of_a_few_open_invoices_prefers_the_oldest() -> None:
    old_a, old_b = invoice("A-1", 30_00, day=1), invoice("A-2", 20_00, day=2)
    new_a, new_b = invoice("A-3", 30_00, day=20), invoice("A-4", 20_00, day=21)
    noise = invoice("A-5", 7_77, day=3)
    proposal = reconcile_payment(
        payment(50_00, account="h-acme"), [new_b, noise, new_a, old_b, old_a], VENDORS, SETTINGS
    )
    assert proposal is not None and proposal.tier == 3
    # Several sets add up (old or new pairs): the oldest is proposed, a clerk confirms.
    assert {allocation.invoice_id for allocation in proposal.allocations} == {old_a.id, old_b.id}
    assert proposal.is_suggestion


def test_tier3_unique_set_is_auto_applied() -> None:
    parts = [invoice("A-1", 12_34), invoice("A-2", 56_78), invoice("A-3", 1_00), invoice("A-4", 90_00)]
    proposal = reconcile_payment(payment(12_34 + 56_78 + 90_00, account="h-acme"), parts, VENDORS, SETTINGS)
    assert proposal is not None and proposal.tier == 3 and proposal.auto_apply
    assert proposal.confidence == Decimal("0.920")
    assert sorted(allocation.amount for allocation in proposal.allocations) == [12_34, 56_78, 90_00]


def test_subset_sum_finds_the_right_set() -> None:
    search = subset_sum([5, 11, 7, 3, 19, 2], 21, min_size=2, max_size=6, budget=1_000, max_solutions=1)
    assert search.solutions == ((4, 5),)  # 19 + 2: the smallest set first (then 11 + 7 + 3, ...)
    assert not search.gave_up


def test_subset_sum_respects_the_size_limit() -> None:
    assert subset_sum([1] * 10, 7, min_size=2, max_size=6, budget=10_000).solutions == ()


def test_subset_sum_gives_up_within_its_budget_on_an_adversarial_set() -> None:
    """60 even amounts and an odd target: no set exists, and there are ~50 million to try.

    Sets of up to four are ruled out exactly; five and six only depth-first, within its budget.
    """
    amounts = [1_000 + 2 * index for index in range(60)]
    search = subset_sum(amounts, 30_001, min_size=2, max_size=6, budget=20_000, dfs_budget=20_000)
    assert search.gave_up and search.solutions == ()
    assert search.steps <= 20_000 + 20_000  # bounded by its budgets: counted, not timed
    exact = subset_sum(amounts, 30_001, min_size=2, max_size=4, budget=20_000)
    assert not exact.gave_up and exact.solutions == ()


def test_engine_answers_a_large_vendor_within_its_step_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """200 open invoices of even amounts and an odd payment: no set adds up, and the search says
    so within the tenant's step budget (counted, not timed: a timing fails on a busy machine)."""
    from payments.reconciliation import tiers

    searches: list[Any] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        search = subset_sum(*args, **kwargs)
        searches.append((kwargs["budget"], search))
        return search

    monkeypatch.setattr(tiers, "subset_sum", counted)
    invoices = [invoice(f"A-{index}", 1_000 + 2 * index) for index in range(200)]
    proposal = reconcile_payment(payment(30_001, account="h-acme"), invoices, VENDORS, SETTINGS)
    assert proposal is None
    assert searches, "the vendor's open invoices were searched for a sum"
    for budget, search in searches:
        assert not search.solutions
        assert search.steps <= budget + len(invoices)


# Tier 4
def test_write_off_limit_takes_the_smaller_of_absolute_and_percent() -> None:
    assert write_off_limit(100_00, "EUR", SETTINGS) == 50  # 0.5 % of 100.00
    assert write_off_limit(10_000_00, "EUR", SETTINGS) == 5_00  # 5.00 absolute
    assert write_off_limit(100_000, "JPY", SETTINGS) == 5  # JPY has no minor units: 5 yen


def test_the_write_off_limit_is_the_tenants_in_each_currency() -> None:
    """Limits per currency, in its minor units: JPY 300 and BHD 2.000 (some EUR 2 and 5)."""
    own = ReconcileSettings(
        amount_limits={
            "JPY": AmountLimits(currency="JPY", auto_approve_below=0, escalate_from=0, write_off_max=300),
            "BHD": AmountLimits(currency="BHD", auto_approve_below=0, escalate_from=0, write_off_max=2_000),
        }
    )
    assert write_off_limit(10_000_000, "JPY", own) == 300
    assert write_off_limit(10_000_000, "BHD", own) == 2_000
    assert write_off_limit(10_000_00, "EUR", own) == 5_00  # a currency without its own: the default


def test_tier4_short_payment_within_tolerance_writes_off_the_difference() -> None:
    target = invoice("A-1", 2_000_00)
    proposal = reconcile_payment(payment(1_995_00, account="h-acme"), [target], VENDORS, SETTINGS)
    assert proposal is not None and proposal.tier == 4 and proposal.auto_apply
    assert proposal.allocations == (
        ProposedAllocation(target.id, 1_995_00, "payment"),
        ProposedAllocation(target.id, 5_00, "write_off"),
    )
    assert proposal.paid_amount == 1_995_00


def test_tier4_never_beyond_tolerance() -> None:
    target = invoice("A-1", 2_000_00)
    assert reconcile_payment(payment(1_994_99, account="h-acme"), [target], VENDORS, SETTINGS) is None


def test_tier4_never_for_an_overpayment() -> None:
    target = invoice("A-1", 2_000_00)
    assert reconcile_payment(payment(2_000_01, account="h-acme"), [target], VENDORS, SETTINGS) is None


# Tier 5
def test_tier5_referenced_invoice_paid_in_part() -> None:
    target = invoice("INV777001", 1_000_00)
    proposal = reconcile_payment(
        payment(400_00, text="INV-777001 1st rate", account="h-acme"), [target], VENDORS, SETTINGS
    )
    assert proposal is not None and proposal.tier == 5 and proposal.auto_apply
    assert proposal.allocations == (ProposedAllocation(target.id, 400_00, "payment"),)
    assert proposal.confidence == Decimal("0.900")


def test_tier5_reference_alone_is_a_suggestion() -> None:
    target = invoice("INV777001", 1_000_00)
    proposal = reconcile_payment(payment(400_00, text="INV-777001"), [target], VENDORS, SETTINGS)
    assert proposal is not None and proposal.tier == 5 and proposal.is_suggestion is False
    assert not proposal.auto_apply  # 0.80 < 0.90


def test_auto_apply_off_turns_everything_into_suggestions() -> None:
    target = invoice("INV000123", 50_000)
    settings = ReconcileSettings(auto_apply=False)
    proposal = reconcile_payment(payment(50_000, text="INV-123"), [target], VENDORS, settings)
    assert proposal is not None and not proposal.auto_apply


def test_batch_does_not_pay_one_invoice_twice() -> None:
    target = invoice("INV000123", 50_000)
    first, second = payment(50_000, text="INV-123"), payment(50_000, text="INV-123")
    answered = [proposal for _, proposal in reconcile_batch([first, second], [target], VENDORS, SETTINGS)]
    assert answered[0] is not None and answered[0].auto_apply
    assert answered[1] is None


def test_a_reference_beats_another_invoice_with_the_same_amount() -> None:
    """The remittance names INV-777001; that the vendor has another invoice of 400.00 is chance."""
    named = invoice("INV777001", 1_000_00, day=5)
    same_amount = invoice("A-9", 400_00, day=1)
    proposal = reconcile_payment(
        payment(400_00, text="INV-777001", account="h-acme"), [same_amount, named], VENDORS, SETTINGS
    )
    assert proposal is not None and proposal.tier == 5
    assert proposal.allocations == (ProposedAllocation(named.id, 400_00, "payment"),)


def test_a_reference_to_another_vendors_invoice_does_not_hide_the_vendors_own_match() -> None:
    globex_invoice = invoice("ORD4711", 1_000_00, vendor=GLOBEX)
    acme_invoice = invoice("A-1", 400_00)
    proposal = reconcile_payment(
        payment(400_00, text="order ORD 4711", account="h-acme"), [globex_invoice, acme_invoice], VENDORS, SETTINGS
    )
    assert proposal is not None and proposal.tier == 2
    assert proposal.allocations == (ProposedAllocation(acme_invoice.id, 400_00, "payment"),)
