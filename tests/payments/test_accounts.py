"""Bank account numbers at rest (payments.accounts): one key however a number is written."""

from __future__ import annotations

from payments.accounts import account_hash, mask_account, normalize_account

SPELLINGS = ["NL91ABNA0417164300", "nl91 abna 0417 1643 00", "NL91\u00a0ABNA\u202f0417\t1643 00\n"]


def test_an_account_written_with_any_spaces_or_case_is_one_account() -> None:
    assert {normalize_account(spelling) for spelling in SPELLINGS} == {"NL91ABNA0417164300"}
    assert len({account_hash(spelling) for spelling in SPELLINGS}) == 1
    assert {mask_account(spelling) for spelling in SPELLINGS} == {"****4300"}


def test_no_account_number_has_no_hash() -> None:
    assert (normalize_account(" \u00a0\t"), account_hash(" \u00a0\t")) == ("", "")
