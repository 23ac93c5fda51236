"""A learned tax id in the pure engine (matching.engine.vendor): it identifies its vendor after a
tax id on record and before any name; the reason names it and who taught it, also when the door
already resolved the vendor (method `id`); a payee account that is not the vendor's account on
record identifies nobody (one that is: tests/matching/test_engine_vendor_accounts.py)."""

from __future__ import annotations

import datetime as dt
import uuid

from matching.engine.index import BatchIndex
from matching.engine.types import BankAccountRecord, InvoiceRecord, MatchContext, MatchSettings, VendorRecord
from matching.engine.vendor import learned_alias_of, resolve_vendor

TAUGHT = "a choice by anna on 2026-12-07"
ACME = VendorRecord(
    id=uuid.UUID(int=1), name="Acme Supplies Ltd", normalized_name="acme supplies", tax_id="DE123456789",
    aliases=("acme handelsgesellschaft",), tax_id_aliases=("DE812526315",),
    learned_aliases={"acme handelsgesellschaft": TAUGHT}, learned_tax_ids={"DE812526315": TAUGHT},
    bank_accounts=(BankAccountRecord(account_hash="hash-acme", account_mask="****4300", status="active"),),
)  # fmt: skip
BETA = VendorRecord(id=uuid.UUID(int=2), name="Beta Tools", normalized_name="beta tools", tax_id="DE812526315")


def invoice(*, tax_id: str = "", name: str = "", vendor_id: uuid.UUID | None = None, payee: str = "") -> InvoiceRecord:
    return InvoiceRecord(
        id=uuid.UUID(int=9), invoice_number="INV-1", invoice_number_normalized="INV1", currency="EUR",
        invoice_date=dt.date(2026, 12, 7), subtotal_amount=0, tax_amount=0, shipping_amount=0, total_amount=0,
        lines=(), vendor_id=vendor_id, vendor_name_raw=name, vendor_tax_id_raw=tax_id, payee_account_hash=payee,
    )  # fmt: skip


def resolved(record: InvoiceRecord, *vendors: VendorRecord) -> tuple[str, str, str]:
    index = BatchIndex.build(MatchContext(settings=MatchSettings(), vendors={v.id: v for v in vendors}))
    resolution = resolve_vendor(record, index, MatchSettings())
    name = resolution.vendor.name if resolution.vendor else ""
    return name, resolution.method, resolution.text(record, None)


def test_a_learned_tax_id_identifies_the_vendor_under_any_name_and_says_so() -> None:
    assert resolved(invoice(tax_id="de 812 526 315", name="Acme Group Services"), ACME) == (
        "Acme Supplies Ltd", "tax_id_alias",
        f" Vendor Acme Supplies Ltd recognised by the tax id 'de 812 526 315', learned from {TAUGHT}.",
    )  # fmt: skip


def test_a_tax_id_on_record_comes_before_a_learned_one() -> None:
    assert resolved(invoice(tax_id="DE812526315"), ACME, BETA)[:2] == ("Beta Tools", "tax_id")


def test_resolved_at_the_door_the_reason_still_names_the_learned_alias() -> None:
    by_tax_id = invoice(tax_id="DE812526315", name="Acme Handelsgesellschaft", vendor_id=ACME.id)
    assert resolved(by_tax_id, ACME)[1:] == (
        "id", f" Vendor Acme Supplies Ltd recognised by the tax id 'DE812526315', learned from {TAUGHT}."
    )  # fmt: skip
    # Its own tax id on the invoice: the learned name identified nothing.
    assert learned_alias_of(ACME, invoice(tax_id="DE123456789", name="Acme Handelsgesellschaft")) is None
    assert learned_alias_of(ACME, invoice(name="Acme Handelsgesellschaft")) == (
        "name", "Acme Handelsgesellschaft", TAUGHT
    )  # fmt: skip


def test_a_payee_account_not_on_the_record_identifies_no_vendor() -> None:
    assert resolved(invoice(name="Zenith Office Trading", payee="hash-zenith"), ACME) == ("", "none", "")
