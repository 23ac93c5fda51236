"""Duplicates across channels on plain data (matching.engine.duplicates, issue #20 item 4): a
number misread by OCR or mistyped is the same invoice when the total and date agree, a question
otherwise; numbers one edit apart at the same total within 30 days are a question; and two
genuinely different invoices are neither."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from matching.engine import MatchOutcome, match_batch
from tests.matching.engine_builders import ACME, DAY, NORDIC, context, inv_line, invoice, po_line, prior_invoice
from tests.matching.engine_builders import purchase_order as build_purchase_order

TOTAL = "1045.00"  # of clean_lines()


def clean_lines():
    return (
        inv_line(1, "HB-M8", "M8 hex bolts, zinc plated", "1000", "0.125"),
        inv_line(2, "HH-1M", "Hydraulic hose 1 m", "50", "18.40"),
    )


def standard_context(*prior):
    purchase_order = build_purchase_order(
        po_line(1, "HB-M8", "M8 hex bolts, zinc plated", "1000", "0.125", received="1000"),
        po_line(2, "HH-1M", "Hydraulic hose 1 m", "50", "18.40", received="50"),
    )
    return context(purchase_order, prior=prior)


def match_one(number: str, *prior, date: dt.date = DAY, total: str | None = None) -> MatchOutcome:
    [outcome] = match_batch([invoice(*clean_lines(), number=number, date=date, total=total)], standard_context(*prior))
    assert isinstance(outcome, MatchOutcome), outcome
    return outcome


def duplicate_findings(outcome: MatchOutcome):
    return [d for d in outcome.discrepancies if d.type in ("duplicate_invoice", "possible_duplicate")]


# (the earlier invoice's number, this one's): one document, read or typed differently.
MISREAD = {
    "O for 0 and l for I": ("INV-7790", "lNV-779O"),
    "S for 5": ("INV-5512", "INV-S512"),
    "B for 8": ("8808", "B808"),
    "zero padding read as O": ("INV-0010", "INV-OO10"),
    "the label INV left out": ("INV-7790", "7790"),
    "German label": ("Rechnung Nr. 2026-0042", "2026-0042"),
    "label and padding": ("Invoice No. 000123", "123"),
}


@pytest.mark.parametrize(("earlier", "number"), MISREAD.values(), ids=MISREAD.keys())
def test_a_misread_number_at_the_same_total_and_date_is_the_same_invoice(earlier: str, number: str) -> None:
    prior = prior_invoice(earlier, TOTAL)
    outcome = match_one(number, prior)
    [finding] = duplicate_findings(outcome)
    assert (finding.type, finding.severity, finding.related_invoice_id) == ("duplicate_invoice", "critical", prior.id)
    assert outcome.status == "rejected"


def test_the_message_says_what_matched() -> None:
    prior = dataclasses.replace(
        prior_invoice("INV-7790", TOTAL),
        received_at=dt.datetime(2026, 12, 3, 9, 30, tzinfo=dt.UTC),
        source="CSV import",
    )
    [finding] = duplicate_findings(match_one("lNV-779O", prior))
    assert finding.message == (
        "lNV-779O (this) and INV-7790 (received 3 Dec 2026 by CSV import) read the same once O/0 and I/1/l "
        "are allowed for; same total 1045.00 EUR and same date 2026-10-10: this looks like the same invoice again."
    )


@pytest.mark.parametrize(
    ("total", "date", "differs"),
    [
        ("1100.00", DAY, "the total differs (1045.00 EUR here, 1100.00 EUR there)"),
        (TOTAL, DAY - dt.timedelta(days=1), "the date differs (2026-10-10 here, 2026-10-09 there)"),
    ],
)
def test_a_misread_number_with_another_total_or_date_is_only_a_question(
    total: str, date: dt.date, differs: str
) -> None:
    """The fold alone never rejects: `S-100` and `5-100` may be two series of one vendor."""
    prior = prior_invoice("S-100", total, date=date)
    outcome = match_one("5-100", prior)
    [finding] = duplicate_findings(outcome)
    assert (finding.type, finding.severity, finding.related_invoice_id) == ("possible_duplicate", "high", prior.id)
    assert "read the same once S/5 is allowed for, but " + differs in finding.message
    assert outcome.status == "pending_review"


def test_the_same_number_exactly_stays_a_duplicate_whatever_the_total() -> None:
    prior = prior_invoice("INV-0042", "5.00", date=DAY - dt.timedelta(days=300))
    [finding] = duplicate_findings(match_one("inv 42", prior))
    assert (finding.type, finding.related_invoice_id) == ("duplicate_invoice", prior.id)


@pytest.mark.parametrize(
    ("earlier", "number"),
    [
        ("INV-7790", "INV-7709"),  # two neighbours swapped
        ("INV-7790", "INV-7780"),  # one digit changed
        ("INV-77190", "INV-7790"),  # one dropped
        ("INV-7790", "INV-77890"),  # one added
    ],
)
def test_one_edit_apart_at_the_same_total_within_30_days_is_a_question(earlier: str, number: str) -> None:
    prior = prior_invoice(earlier, TOTAL, date=DAY - dt.timedelta(days=20))
    outcome = match_one(number, prior)
    [finding] = duplicate_findings(outcome)
    assert (finding.type, finding.severity, finding.related_invoice_id) == ("possible_duplicate", "high", prior.id)
    assert "differ by one character; same total 1045.00 EUR, dated 20 days apart" in finding.message


@pytest.mark.parametrize(("days", "flagged"), [(30, True), (31, False), (40, False)])
def test_the_one_edit_window_is_30_days(days: int, flagged: bool) -> None:
    prior = prior_invoice("INV-7790", TOTAL, date=DAY - dt.timedelta(days=days))
    assert bool(duplicate_findings(match_one("INV-7709", prior))) is flagged


def test_two_different_invoices_one_digit_apart_at_different_totals_are_not_flagged() -> None:
    prior = prior_invoice("INV-1001", "980.00", date=DAY - dt.timedelta(days=3))
    assert duplicate_findings(match_one("INV-1011", prior)) == []


def test_the_next_number_of_a_series_a_month_later_is_no_typo() -> None:
    """A subscription: INV-1001 on 12 Sep and INV-1002 on 10 Oct at the same amount."""
    prior = prior_invoice("INV-1001", TOTAL, date=DAY - dt.timedelta(days=28))
    assert duplicate_findings(match_one("INV-1002", prior)) == []


def test_the_next_number_on_the_same_day_at_the_same_total_is_a_question() -> None:
    prior = prior_invoice("INV-1001", TOTAL)
    [finding] = duplicate_findings(match_one("INV-1002", prior))
    assert finding.type == "possible_duplicate"


def test_short_numbers_are_not_compared_by_one_edit() -> None:
    prior = prior_invoice("42", TOTAL, date=DAY - dt.timedelta(days=20))
    assert duplicate_findings(match_one("43", prior)) == []


def test_a_credit_notes_prefix_is_no_label() -> None:
    prior = prior_invoice("CN-5512", TOTAL, date=DAY - dt.timedelta(days=20))
    outcome = match_one("INV-5512", prior)
    assert [d.type for d in duplicate_findings(outcome)] != ["duplicate_invoice"]


def test_another_vendors_lookalike_is_no_duplicate() -> None:
    prior = prior_invoice("INV-7790", TOTAL, vendor=NORDIC)
    assert duplicate_findings(match_one("lNV-779O", prior)) == []


@pytest.mark.parametrize("status", ["void", "rejected"])
def test_a_void_or_rejected_lookalike_does_not_count(status: str) -> None:
    prior = prior_invoice("INV-7790", TOTAL, status=status)
    assert duplicate_findings(match_one("lNV-779O", prior)) == []


def test_the_same_document_by_three_channels_in_one_batch_is_one_invoice() -> None:
    """CSV, UBL and a webhook in one batch: the first is matched, the copies rejected, each naming it."""
    csv, ubl, webhook = (invoice(*clean_lines(), number=number) for number in ("INV-7790", "INV 0007790", "lNV-779O"))
    outcomes = match_batch([csv, ubl, webhook], standard_context())
    assert [outcome.status for outcome in outcomes] == ["approved", "rejected", "rejected"]  # type: ignore[union-attr]
    for outcome in outcomes[1:]:
        [finding] = duplicate_findings(outcome)  # type: ignore[arg-type]
        assert (finding.type, finding.related_invoice_id) == ("duplicate_invoice", csv.id)


def test_the_invoice_itself_is_never_its_own_duplicate() -> None:
    inv = invoice(*clean_lines(), number="INV-7790")
    prior = dataclasses.replace(prior_invoice("INV-7790", TOTAL), id=inv.id)
    [outcome] = match_batch([inv], standard_context(prior))
    assert duplicate_findings(outcome) == []  # type: ignore[arg-type]


def test_every_finding_names_the_invoice_it_compares_with() -> None:
    prior = prior_invoice("INV-777", TOTAL, date=DAY - dt.timedelta(days=2))
    [finding] = duplicate_findings(match_one("INV-123", prior))
    assert (finding.type, finding.related_invoice_id) == ("possible_duplicate", prior.id)
    assert ACME.id == prior.vendor_id
