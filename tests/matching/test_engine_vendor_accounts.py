"""A payee account on a vendor's record identifies the vendor (matching.engine.vendor, engine 1.9):
an invoice whose name nobody recognises but which asks to be paid to a vendor's active, approved
account is that vendor's, says so in its reason, and is matched as any of the vendor's; an account
that is pending, rejected, retired, another tenant's idea of the vendor, or shared by two active
vendors identifies nobody, and a name that identifies a vendor exactly comes first."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import pytest

from matching.engine import MatchOutcome, match_batch
from matching.engine.index import BatchIndex
from matching.engine.types import BankAccountRecord, InvoiceRecord, MatchContext, MatchSettings, VendorRecord
from matching.engine.vendor import resolve_vendor
from tests.matching.engine_builders import ACME, NORDIC, context, inv_line, invoice, po_line, purchase_order

T0 = dt.datetime(2026, 10, 1, 9, 0, tzinfo=dt.UTC)
ACME_ACCOUNT = BankAccountRecord(
    "hash-acme", "****4300", "active", decided_at=T0 - dt.timedelta(days=300), usable_from=T0 - dt.timedelta(days=297)
)
ACME_PAID = dataclasses.replace(ACME, bank_accounts=(ACME_ACCOUNT,))
RECOGNISED = " Vendor Acme Supplies Ltd recognised by its bank account ****4300 on record."
UNREADABLE = "Kundennr. 48213 / Seite 1"  # what a scan read where the vendor's name should be


def bolts(
    *, name: str = UNREADABLE, payee: str = "hash-acme", mask: str = "****4300", **fields: object
) -> InvoiceRecord:
    """A clean 3-way match of Acme's PO-1 (100 bolts at 1.00) that names no vendor it can be found by."""
    record = invoice(inv_line(1, "HB", "Hex bolts", "100", "1.00"), vendor=None, vendor_name=name)
    return dataclasses.replace(
        record,
        received_at=T0,
        payee_account_hash=payee,
        payee_account_mask=mask,
        **fields,  # type: ignore[arg-type]
    )


def ctx(*vendors: VendorRecord) -> MatchContext:
    return context(purchase_order(po_line(1, "HB", "Hex bolts", "100", "1.00", received="100")), vendors=vendors)


def match(record: InvoiceRecord, context_: MatchContext) -> MatchOutcome:
    [outcome] = match_batch([record], context_)
    assert isinstance(outcome, MatchOutcome)
    return outcome


def resolved(record: InvoiceRecord, *vendors: VendorRecord) -> tuple[str, str]:
    index = BatchIndex.build(MatchContext(settings=MatchSettings(), vendors={v.id: v for v in vendors}))
    resolution = resolve_vendor(record, index, MatchSettings())
    return (resolution.vendor.name if resolution.vendor else ""), resolution.method


def test_the_vendors_account_on_record_identifies_it_and_the_reason_names_the_account() -> None:
    outcome = match(bolts(), ctx(ACME_PAID, NORDIC))

    assert outcome.vendor_id == ACME.id and outcome.status == "approved" and outcome.discrepancies == ()
    assert outcome.decision_reason.endswith(RECOGNISED)


def test_without_the_account_the_same_invoice_is_an_unknown_vendors() -> None:
    outcome = match(bolts(payee="", mask=""), ctx(ACME_PAID, NORDIC))

    assert outcome.vendor_id is None and outcome.status == "pending_review"
    assert [d.type for d in outcome.discrepancies] == ["unknown_vendor"]
    assert "bank account" not in outcome.decision_reason


def test_an_account_not_on_any_record_identifies_nobody() -> None:
    assert resolved(bolts(payee="hash-evil"), ACME_PAID, NORDIC) == ("", "none")


@pytest.mark.parametrize("status", ["pending", "rejected", "retired"])
def test_only_the_active_approved_account_identifies(status: str) -> None:
    vendor = dataclasses.replace(ACME, bank_accounts=(dataclasses.replace(ACME_ACCOUNT, status=status),))

    assert resolved(bolts(), vendor, NORDIC) == ("", "none")


def test_an_account_two_active_vendors_have_identifies_neither() -> None:
    nordic = dataclasses.replace(NORDIC, bank_accounts=(ACME_ACCOUNT,))

    assert resolved(bolts(), ACME_PAID, nordic) == ("", "none")
    # A deactivated vendor holds no account for identification: the other vendor's is its own again.
    assert resolved(bolts(), ACME_PAID, dataclasses.replace(nordic, is_active=False)) == ("Acme Supplies Ltd",
                                                                                            "bank_account")  # fmt: skip
    assert resolved(bolts(), dataclasses.replace(ACME_PAID, is_active=False), NORDIC) == ("", "none")


def test_a_name_that_identifies_a_vendor_exactly_comes_first() -> None:
    # Nordic's alias on an invoice asking to be paid to Acme's account: Nordic's, and the risk
    # checks then judge the account against Nordic's record.
    assert resolved(bolts(name="NordFast"), ACME_PAID, NORDIC) == ("Nordic Fasteners AB", "alias")
    assert resolved(bolts(name="Acme Supplies"), ACME_PAID, NORDIC) == ("Acme Supplies Ltd", "name")


def test_the_account_comes_before_a_fuzzy_name_and_settles_a_shared_name_only_among_its_holders() -> None:
    # A typo close to Nordic's name: the account on Acme's record decides.
    assert resolved(bolts(name="Nordic Fastener"), ACME_PAID, NORDIC) == ("Acme Supplies Ltd", "bank_account")
    twin = dataclasses.replace(NORDIC, normalized_name="acme supplies", aliases=())
    assert resolved(bolts(name="Acme Supplies"), ACME_PAID, twin) == ("Acme Supplies Ltd", "bank_account")
    third = dataclasses.replace(NORDIC, id=uuid.UUID(int=3), normalized_name="acme supplies", aliases=())
    assert resolved(bolts(name="Acme Supplies"), dataclasses.replace(ACME_PAID, normalized_name="acme"), twin,
                    third) == ("", "none")  # fmt: skip


def test_a_tax_id_on_record_or_the_id_the_door_gave_wins_over_the_account() -> None:
    beta = dataclasses.replace(NORDIC, tax_id="DE999")
    assert resolved(bolts(vendor_tax_id_raw="DE999"), ACME_PAID, beta) == ("Nordic Fasteners AB", "tax_id")
    assert resolved(bolts(vendor_id=NORDIC.id), ACME_PAID, NORDIC) == ("Nordic Fasteners AB", "id")


def test_the_same_input_gives_the_same_vendor_whatever_the_vendors_order() -> None:
    forward = match(bolts(), ctx(ACME_PAID, NORDIC))
    backward = match(bolts(), ctx(NORDIC, ACME_PAID))

    assert (forward.vendor_id, forward.decision_reason) == (backward.vendor_id, backward.decision_reason)
