"""What the demo's modules share: days counted from today, seeded randomness, and the plain
records of what will happen (vendors, purchase orders, deliveries, invoices) before any of it is
written.

Days are integers relative to today (0 = today, -90 = the first day of the history), turned into
dates only when a document is built, so the same plan gives the same month whatever the date.
Every random draw comes from `rng_for(...)`, a generator seeded by the demo seed and the name of
what it draws for: the same data every run, and one concern's draws never shift another's.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal

from recon_site.demo.catalog import DEMO_RATES
from recon_site.demo.suppliers import VendorEntry

DEMO_SEED = "recon-demo-1"
FIRST_DAY = -90  # three months of history, up to and including today (day 0)


def rng_for(*parts: object) -> random.Random:
    """A generator for one concern (`rng_for("po", 17)`): seeded by the demo seed and `parts`.

    A string seed is hashed with SHA-512 by `random`, so the draws do not depend on
    PYTHONHASHSEED or the platform.
    """
    # Demo data, not a secret: a reproducible generator is the point (S311).
    return random.Random(":".join([DEMO_SEED, *map(str, parts)]))  # noqa: S311


@dataclass(frozen=True)
class DemoCalendar:
    today: dt.date

    def date(self, day: int) -> dt.date:
        return self.today + dt.timedelta(days=day)

    def weekday(self, day: int) -> int:
        """Monday 0 … Sunday 6: people work Monday to Friday; documents and goods come any day."""
        return self.date(day).weekday()


def list_price(euros: str, currency: str) -> Decimal:
    """A catalog price (euros) in the vendor's currency at the demo rate, as a price list prints it:
    whole yen, otherwise cents, or the sub-cent digits the euro price has (0.125)."""
    price = Decimal(euros) * DEMO_RATES[currency]
    if currency == "JPY":
        return price.quantize(Decimal(1))
    places = max(2, len(euros.partition(".")[2].rstrip("0")))
    return price.quantize(Decimal(1).scaleb(-places))


def misspelled_name(name: str) -> str:
    """The name with one letter dropped from its longest word, as a scan or a bank may print it."""
    words = name.split()
    longest = max(range(len(words)), key=lambda index: len(words[index]))
    word = words[longest]
    words[longest] = word[: len(word) // 2] + word[len(word) // 2 + 1 :]
    return " ".join(words)


@dataclass(frozen=True)
class VendorPlan:
    """A vendor of the table with what the demo makes up for it: ids, bank accounts, numbering."""

    entry: VendorEntry
    tax_id: str
    iban: str
    # A second account, from which only payments the bank labels oddly come (the clerk's
    # suggestions): once a clerk confirms one, Recon knows the account too.
    other_iban: str
    # `{n}` is the vendor's running number; `{year}` the invoice year.
    number_format: str
    first_number: int

    @property
    def key(self) -> str:
        return self.entry.key

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def currency(self) -> str:
        return self.entry.currency


@dataclass(frozen=True)
class OrderLine:
    line_number: int
    sku: str
    description: str
    quantity: Decimal
    unit_price: Decimal


@dataclass(frozen=True)
class DeliveryPlan:
    """Goods that arrive for a PO on `day` (after today: on their way, not booked yet)."""

    receipt_number: str
    day: int
    quantities: dict[int, Decimal]  # by PO line number
    late: bool  # after the PO's expected date


@dataclass(frozen=True)
class PurchaseOrderAction:
    day: int
    action: str  # "close" | "cancel" (purchasing.lifecycle.PURCHASE_ORDER_ACTIONS)
    comment: str


@dataclass
class PurchaseOrderPlan:
    number: str
    vendor: VendorPlan
    order_day: int
    expected_day: int
    lines: list[OrderLine]
    deliveries: list[DeliveryPlan] = field(default_factory=list)
    action: PurchaseOrderAction | None = None


@dataclass(frozen=True)
class BilledLine:
    description: str
    quantity: Decimal
    unit_price: Decimal
    sku: str = ""
    po_line_number: int | None = None


@dataclass(frozen=True)
class InvoicePlan:
    """A document a vendor sends: built into an `InvoiceDocument` on its arrival day.

    `scenario` says what the demo made it to show ("clean", "price_up", "resent"...); the
    reviewers of `decisions` read it, as a real clerk would know the story behind a document.
    `tax_error` and `total_error` (minor units) are the vendor's arithmetic slips; `credit_net`
    (minor units, before VAT) what the vendor credits when the deviation is disputed.
    """

    number: str
    vendor: VendorPlan | None  # None: a business in nobody's vendor list
    vendor_name: str
    currency: str
    invoice_day: int
    arrival_day: int
    lines: tuple[BilledLine, ...]
    tax_rate: Decimal
    terms_days: int = 30
    po_number: str = ""
    shipping: Decimal = Decimal(0)
    scenario: str = "clean"
    tax_error: int = 0
    total_error: int = 0
    prepaid_share: Decimal = Decimal(0)
    credit_net: int = 0
    document_type: str = "invoice"
    credited_number: str = ""
    # How the document names its vendor: id | tax_id | name | alias | misspelled (channel).
    named_by: str = "id"
    source: str = "api"
    # The account the document asks to be paid to ("" for none: most bills leave it to the vendor's record).
    payee_account: str = ""
    # The document as it should have been: what the vendor sends instead when this one is
    # rejected or credited in full (its number and dates are set then).
    corrected: InvoicePlan | None = None
