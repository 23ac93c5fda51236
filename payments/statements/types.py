"""What every statement parser returns: plain data, amounts already in minor units."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from core.money import format_minor

INVALID_SUMMARY = "The statement file has {count} problem(s); nothing was imported. See details."


class StatementParseError(ValueError):
    """The file cannot be read as a statement; `details` maps a location to its problems.

    Past core.problems' cap, `details` also carries its truncation keys.
    """

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {"file": [message]}


@dataclass(frozen=True)
class Balance:
    """A statement balance, signed (a debit balance — an overdraft — is negative), in minor units."""

    amount: int
    currency: str
    date: dt.date | None = None


@dataclass
class ParsedEntry:
    booking_date: dt.date
    value_date: dt.date | None
    amount: int  # minor units, > 0
    currency: str
    direction: str  # PaymentDirection value
    counterparty_name: str = ""
    counterparty_account: str = ""
    remittance_text: str = ""
    bank_reference: str = ""  # the account servicer's own reference
    end_to_end_id: str = ""
    # CSV only: the id the file states, used as is (a repeat inside the file is an error there).
    stated_transaction_id: str = ""
    # Why the bank returned a transfer this line brings back (ISO 20022 code, e.g. "AC04").
    return_reason: str = ""
    position: str = ""  # "3" or "3.2" (entry 3, its 2nd transaction) inside its statement
    bank_transaction_id: str = ""  # assigned by payments.statements.assign_transaction_ids

    @property
    def signed_amount(self) -> int:
        return -self.amount if self.direction == "debit" else self.amount


@dataclass
class ParsedStatement:
    reference: str
    account: str
    currency: str
    opening: Balance | None
    closing: Balance | None
    entries: list[ParsedEntry] = field(default_factory=list)
    # Balances carried by the format at all (CSV has none: there is nothing to check).
    has_balances: bool = True


@dataclass
class ParsedFile:
    format: str  # StatementFormat value
    encoding: str
    statements: list[ParsedStatement]
    warnings: list[str] = field(default_factory=list)

    @property
    def entries(self) -> list[ParsedEntry]:
        return [entry for statement in self.statements for entry in statement.entries]


def money_text(amount: int, currency: str) -> str:
    """A signed decimal string for the report, in the currency's own places."""
    try:
        return format_minor(amount, currency)
    except ValueError:  # pragma: no cover - parsers only accept known currencies
        return str(amount)
