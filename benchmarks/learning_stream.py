"""The learning replay's stream (`manage.py bench_learning`): months of invoices whose right answer
is known, from vendors with the habits a real ledger shows, drawn from one seeded generator.

A month is `per_month` invoices dated over thirty days; they arrive in batches of ten, each matched
and decided before the next arrives (a day's mail, at 300 a month). Each invoice bills 2–3 items of its vendor's
catalogue on a purchase order of its own (named on the invoice, fully received), quantities 5–40,
prices 20.00–149.99 EUR, so every total is above the small-invoice policy.

| kind         | vendor                       | how it is built                                | clerk       |
|--------------|------------------------------|------------------------------------------------|-------------|
| clean        | keyed, and two-name vendors  | the PO's SKUs, descriptions and prices, under  | approves    |
|              | under their registered name  | the vendor's name on record                    |             |
| reworded     | rewording (1 per 75 a month) | no SKUs; each item worded the vendor's own way | approves    |
|              |                              | the same way every time (bench_calibration's   |             |
|              |                              | REWORDED pairs), at the vendor's list price:   |             |
|              |                              | 0.2–0.8 % off the PO's, inside the tolerance   |             |
|              |                              | but not proof of the item                      |             |
| surcharge    | surcharging (1 per 100)      | SKUs; every line the vendor's habitual freight | approves    |
|              |                              | surcharge (2.5–3.0 %) above the PO price       |             |
|              |                              | (tenant tolerance 2 %)                         |             |
| trading_name | two-name (1 per 150)         | keyed lines under the vendor's second trading  | chooses the |
|              |                              | name, no tax id: no vendor has that name       | vendor      |
| bank_account | account-only (1 per 150)     | keyed lines; where the name should be, what a  | approves    |
|              |                              | scan read instead (a customer number, a page); |             |
|              |                              | asks to be paid to the vendor's IBAN on record |             |
| price_error  | keyed                        | one line 4–12 % above the PO price             | rejects     |

Price errors are drawn on keyed vendors only: a rejection of another vendor's invoice unlearns
what its match used (learning.services), which the learning tests cover; here it would blur what
approvals teach.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from schwifty import IBAN

from benchmarks.fixtures import MATERIALS, NOUNS, SPECS
from benchmarks.management.commands.bench_calibration import REWORDED

PER_DAY = 10
DAYS_PER_MONTH = 30
KINDS = ("clean", "reworded", "surcharge", "trading_name", "bank_account", "price_error")
SHARES: Mapping[str, float] = {
    "clean": 0.41, "reworded": 0.2, "surcharge": 0.15, "trading_name": 0.1, "bank_account": 0.1, "price_error": 0.04,
}  # fmt: skip
# The vendors each kind of invoice is drawn from.
VENDORS_OF_KIND: Mapping[str, tuple[str, ...]] = {
    "clean": ("keyed", "two_names"),
    "reworded": ("rewording",),
    "surcharge": ("surcharging",),
    "trading_name": ("two_names",),
    "bank_account": ("account_only",),
    "price_error": ("keyed",),
}
# How many vendors of each habit: a fixed few keyed ones, the others one per so many invoices a month.
KEYED_VENDORS = 4
INVOICES_PER_VENDOR = {"rewording": 75, "surcharging": 100, "two_names": 150, "account_only": 150}
# Second trading names: no word in common with any vendor's name, so no fuzzy match can take them.
TRADING_NAMES = (
    "Nordlicht Bürobedarf", "Kranich Werkzeughandel", "Seestern Laborbedarf", "Falkenhorst Industriebedarf",
    "Bergquell Handelskontor", "Eichenhain Technik",
)  # fmt: skip
# What a scan reads where an account-only vendor's name should be: different on every invoice.
UNREADABLE = ("Kundennr. {n} / Seite 1", "Lieferschein {n}", "Ihre Bestellung vom {n}", "Seite 1 von 2 · {n}")
BANK_CODE = "37040044"


@dataclass(frozen=True)
class Item:
    sku: str
    po_text: str
    invoice_text: str
    po_price: Decimal
    list_price: Decimal  # what the vendor bills when nothing is wrong


@dataclass(frozen=True)
class VendorSpec:
    name: str
    habit: str  # keyed, rewording, surcharging, two_names or account_only
    items: tuple[Item, ...]
    trading_name: str = ""  # two_names: the name its other invoices arrive under
    iban: str = ""  # account_only: its account on record, which its invoices ask to be paid to


@dataclass(frozen=True)
class LineSpec:
    item: Item
    quantity: Decimal
    price: Decimal


@dataclass(frozen=True)
class InvoiceSpec:
    number: int
    month: int  # 1-based
    day: int  # its date: days after the stream's first
    batch: int  # arrives with the invoices of the same batch (module docstring)
    vendor: int  # index into the stream's vendors
    kind: str
    lines: tuple[LineSpec, ...]
    vendor_name: str = ""  # as the invoice writes it, when the door could not tell the vendor


@dataclass(frozen=True)
class Stream:
    vendors: tuple[VendorSpec, ...]
    invoices: tuple[InvoiceSpec, ...]


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


def _vendor(number: int, habit: str, rng: random.Random) -> VendorSpec:
    prices = [Decimal(p).scaleb(-2) for p in rng.sample(range(2000, 15000), 6)]
    if habit == "rewording":
        pairs = rng.sample(REWORDED, 6)
        items = tuple(
            Item("", po_text, said, price, price + max(Decimal("0.01"), _cents(price * rng.randint(2, 8) / 1000)))
            for (po_text, said), price in zip(pairs, prices, strict=True)
        )
    else:
        names = rng.sample([f"{n} {s}, {m}" for n in NOUNS for s in SPECS for m in MATERIALS], 6)
        habit_pct = Decimal(rng.randint(25, 30)) / 1000 if habit == "surcharging" else Decimal(0)
        items = tuple(
            Item(f"L{number:03d}-{index}", name, name, price, _cents(price * (1 + habit_pct)))
            for index, (name, price) in enumerate(zip(names, prices, strict=True), start=1)
        )
    label = habit.replace("_", " ")
    return VendorSpec(
        name=f"Learning Vendor {number:03d} ({label}) GmbH",
        habit=habit,
        items=items,
        trading_name=TRADING_NAMES[number % len(TRADING_NAMES)] if habit == "two_names" else "",
        iban=str(IBAN.generate("DE", bank_code=BANK_CODE, account_code=f"{7_000_000 + number:010d}"))
        if habit == "account_only"
        else "",
    )


def stream_of(*, months: int, per_month: int, rng: random.Random) -> Stream:
    """The invoices in order of arrival, and their vendors (module docstring)."""
    habits = ["keyed"] * KEYED_VENDORS
    for habit, every in INVOICES_PER_VENDOR.items():
        habits += [habit] * max(1, per_month // every)
    vendors = tuple(_vendor(number, habit, rng) for number, habit in enumerate(habits, start=1))
    by_habit: dict[str, list[int]] = {}
    for index, spec in enumerate(vendors):
        by_habit.setdefault(spec.habit, []).append(index)
    count = months * per_month
    kinds = [kind for kind in KINDS for _ in range(max(1, round(count * SHARES[kind])))]
    kinds = kinds[:count] + ["clean"] * (count - len(kinds))
    rng.shuffle(kinds)
    invoices = []
    for number, kind in enumerate(kinds, start=1):
        vendor = rng.choice([index for habit in VENDORS_OF_KIND[kind] for index in by_habit[habit]])
        items = rng.sample(vendors[vendor].items, rng.randint(2, 3))
        faulty = rng.randrange(len(items)) if kind == "price_error" else -1
        lines = tuple(
            LineSpec(
                item,
                Decimal(rng.randint(5, 40)),
                _cents(item.po_price * (1 + Decimal(rng.randint(4, 12)) / 100)) if i == faulty else item.list_price,
            )
            for i, item in enumerate(items)
        )
        name = ""
        if kind == "trading_name":
            name = vendors[vendor].trading_name
        elif kind == "bank_account":
            name = rng.choice(UNREADABLE).format(n=rng.randint(10_000, 99_999))
        month, position = divmod(number - 1, per_month)
        invoices.append(
            InvoiceSpec(
                number=number, month=month + 1, day=month * DAYS_PER_MONTH + position * DAYS_PER_MONTH // per_month,
                batch=(number - 1) // PER_DAY, vendor=vendor, kind=kind, lines=lines, vendor_name=name,
            )
        )  # fmt: skip
    return Stream(vendors, tuple(invoices))
