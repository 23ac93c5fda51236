"""The demo's vendors, purchase orders and goods receipts: planned, then written day by day.

About six purchase orders a day over the history, each for one to four items of its vendor's
catalog, delivered in one go, in two or three parts, partly (the rest backordered or closed
short), late, or not yet; a few cancelled before anything arrived, and a third of the finished
ones closed by the buyer. Written through `vendor_create`, `purchase_order_create`,
`goods_receipt_create_many` and `purchase_order_act`, so each is audited and a receipt releases the
invoices on hold for it, as in production.
"""

from __future__ import annotations

import dataclasses
import string
from collections import defaultdict
from decimal import Decimal

from core.actors import Actor
from purchasing.documents import (
    GoodsReceiptDocument,
    GoodsReceiptLineDocument,
    PurchaseOrderDocument,
    PurchaseOrderLineDocument,
)
from purchasing.lifecycle import purchase_order_act
from purchasing.models import PurchaseOrder
from purchasing.services import goods_receipt_create_many, purchase_order_create_many
from recon_site.demo.catalog import ITEMS
from recon_site.demo.plan import (
    FIRST_DAY,
    DeliveryPlan,
    DemoCalendar,
    OrderLine,
    PurchaseOrderAction,
    PurchaseOrderPlan,
    VendorPlan,
    list_price,
    rng_for,
)
from recon_site.demo.suppliers import VENDORS, VendorEntry
from tenants.models import Tenant
from vendors.models import Vendor
from vendors.services import vendor_alias_add, vendor_create, vendor_payment_terms_update

# Purchase orders placed per day (drawn from these, evenly): about 6.5, so ~590 in 90 days.
ORDERS_PER_DAY = (4, 5, 6, 7, 8, 9)
CANCEL_SHARE = 0.04
LATE_SHARE = 0.22
CLOSE_SHARE = 0.35
CANCEL_REASONS = (
    "Ordered twice by mistake.",
    "Project postponed by the customer.",
    "Cheaper offer accepted from another vendor.",
)
# A few vendors agree early-payment discounts (2/10 net 30 and the like): their invoices that state
# no terms of their own carry a discount deadline and amount, which the queues, the invoice page
# and the payment runs show (invoices.terms, payments.runs.discounts).
DISCOUNT_TERMS: dict[str, tuple[int, Decimal, int]] = {
    "acme": (30, Decimal(2), 10),
    "nordic": (45, Decimal("1.5"), 14),
}
CLOSED_IN_FULL = "Delivered and invoiced in full."
CLOSED_SHORT = "Remaining quantity no longer needed: closed short."

# Tax ids as each country writes them: a prefix and a number of random digits (a suffix after).
_TAX_ID_FORMATS = {
    "DE": ("DE", 9, ""),
    "SE": ("SE", 10, "01"),
    "JP": ("T", 13, ""),
    "BH": ("", 15, ""),
    "US": ("", 9, ""),
    "NL": ("NL", 9, "B01"),
    "IT": ("IT", 11, ""),
    "CH": ("CHE", 9, "MWST"),
    "GB": ("GB", 9, ""),
    "DK": ("DK", 8, ""),
    "FR": ("FR", 11, ""),
    "AT": ("ATU", 8, ""),
    "PL": ("PL", 10, ""),
    "ES": ("ESB", 8, ""),
}
# IBAN countries: total length and the letters that start the account part (a bank code).
_IBAN_FORMATS = {
    "DE": (22, ""),
    "SE": (24, ""),
    "NL": (18, "ABNA"),
    "IT": (27, "X"),
    "CH": (21, ""),
    "GB": (22, "BARC"),
    "DK": (18, ""),
    "FR": (27, ""),
    "AT": (20, ""),
    "PL": (28, ""),
    "ES": (24, ""),
    "BH": (22, "NBOB"),
}
# Where there is no IBAN: a domestic account number as the bank prints it.
_DOMESTIC_ACCOUNTS = {"US": "021000021 {digits}", "JP": "MUFG 0001 {digits}"}
_NUMBER_FORMATS = ("{prefix}-{year}-{n:04d}", "{prefix}{year}{n:05d}", "RE-{n:06d}", "{n:07d}", "INV-{n}")


def iban_with_check_digits(country: str, account: str) -> str:
    """An IBAN from its country and account part, with the ISO 13616 check digits (mod 97)."""
    rearranged = account + country + "00"
    as_number = int("".join(str(int(char, 36)) for char in rearranged))
    return f"{country}{98 - as_number % 97:02d}{account}"


def bank_account(country: str, *, purpose: str) -> str:
    """A well-formed account number of `country` (an IBAN where the country has them)."""
    rng = rng_for("account", country, purpose)
    if country in _DOMESTIC_ACCOUNTS:
        return _DOMESTIC_ACCOUNTS[country].format(digits="".join(rng.choices(string.digits, k=9)))
    length, bank = _IBAN_FORMATS[country]
    digits = "".join(rng.choices(string.digits, k=length - 4 - len(bank)))
    return iban_with_check_digits(country, bank + digits)


def _tax_id(entry: VendorEntry) -> str:
    if not entry.has_tax_id:
        return ""
    prefix, digits, suffix = _TAX_ID_FORMATS[entry.country]
    return prefix + "".join(rng_for("tax_id", entry.key).choices(string.digits, k=digits)) + suffix


def _invoice_prefix(name: str) -> str:
    """`"Acme Industrial Supplies Ltd"` → `"AIS"`: the initials of its first three words."""
    words = [word for word in name.replace("&", " ").split() if word[0].isalpha()]
    return "".join(word[0] for word in words[:3]).upper()


def vendor_plans() -> list[VendorPlan]:
    plans = []
    for entry in VENDORS:
        rng = rng_for("vendor", entry.key)
        number_format = rng.choice(_NUMBER_FORMATS).replace("{prefix}", _invoice_prefix(entry.name))
        plans.append(
            VendorPlan(
                entry=entry,
                tax_id=_tax_id(entry),
                iban=bank_account(entry.country, purpose=entry.key),
                other_iban=bank_account(entry.country, purpose=f"{entry.key}-second"),
                number_format=number_format,
                first_number=rng.randrange(100, 5000),
            )
        )
    return plans


def vendors_create(*, tenant: Tenant, plans: list[VendorPlan], actor: Actor) -> dict[str, Vendor]:
    """Every vendor of the plan with its aliases; by key."""
    vendors = {}
    for plan in plans:
        vendor = vendor_create(tenant=tenant, actor=actor, name=plan.name, tax_id=plan.tax_id, currency=plan.currency)
        for alias in plan.entry.aliases:
            vendor_alias_add(tenant=tenant, actor=actor, vendor=vendor, alias=alias)
        if plan.key in DISCOUNT_TERMS:
            net_days, discount_pct, discount_days = DISCOUNT_TERMS[plan.key]
            vendor = vendor_payment_terms_update(
                tenant=tenant,
                vendor=vendor,
                actor=actor,
                payment_net_days=net_days,
                discount_pct=discount_pct,
                discount_days=discount_days,
            )
        vendors[plan.key] = vendor
    return vendors


def _partial(lines: list[OrderLine], rng_share: float) -> dict[int, Decimal]:
    """What a first, partial delivery brings: a share of each line, at least one of each."""
    return {
        line.line_number: max(Decimal(1), (line.quantity * Decimal(str(rng_share))).to_integral_value())
        for line in lines
    }


def _rest(lines: list[OrderLine], delivered: dict[int, Decimal]) -> dict[int, Decimal]:
    rest = {line.line_number: line.quantity - delivered.get(line.line_number, Decimal(0)) for line in lines}
    return {number: quantity for number, quantity in rest.items() if quantity > 0}


def _deliveries_and_action(order: PurchaseOrderPlan, index: int) -> None:
    """How the order goes: cancelled, or delivered in full, in parts, partly; then maybe closed."""
    rng = rng_for("po-fate", index)
    if rng.random() < CANCEL_SHARE:
        order.action = PurchaseOrderAction(order.order_day + rng.randint(1, 3), "cancel", rng.choice(CANCEL_REASONS))
        return
    late = rng.random() < LATE_SHARE
    first_day = order.expected_day + (rng.randint(4, 15) if late else rng.randint(-2, 1))
    everything = {line.line_number: line.quantity for line in order.lines}
    shape = rng.random()
    parts: list[tuple[int, dict[int, Decimal], bool]]
    if shape < 0.35:
        parts = [(first_day, everything, late)]
    else:
        first = _partial(order.lines, rng.uniform(0.3, 0.7))
        parts = [(first_day, first, late)]
        rest = _rest(order.lines, first)
        if shape < 0.70 and rest:
            parts.append((first_day + rng.randint(5, 18), rest, shape > 0.62))
        elif shape < 0.90 and rest:
            second = _partial([line for line in order.lines if line.line_number in rest], 0.5)
            second = {number: min(quantity, rest[number]) for number, quantity in second.items() if number in rest}
            parts.append((first_day + rng.randint(4, 9), second, False))
            third = _rest(order.lines, {n: first.get(n, Decimal(0)) + second.get(n, Decimal(0)) for n in everything})
            if third:
                parts.append((parts[-1][0] + rng.randint(4, 12), third, True))
        elif rest and first_day + 20 < 0 and rng.random() < 0.6:
            order.action = PurchaseOrderAction(first_day + rng.randint(14, 20), "close", CLOSED_SHORT)
    order.deliveries = [
        DeliveryPlan(receipt_number="", day=day, quantities=quantities, late=is_late)
        for day, quantities, is_late in parts
    ]
    last_day = parts[-1][0]
    complete = sum(sum(quantities.values()) for _, quantities, _ in parts) == sum(everything.values())
    if order.action is None and complete and rng.random() < CLOSE_SHARE:
        close_day = last_day + rng.randint(6, 25)
        if close_day < 0:
            order.action = PurchaseOrderAction(close_day, "close", CLOSED_IN_FULL)


def purchase_order_plans(*, vendors: list[VendorPlan], calendar: DemoCalendar) -> list[PurchaseOrderPlan]:
    """The history's purchase orders, in the order they were placed, with their deliveries numbered."""
    goods = [vendor for vendor in vendors if vendor.entry.category in ITEMS]
    weights = [rng_for("weight", vendor.key).randint(1, 5) for vendor in goods]
    lead_days = {vendor.key: rng_for("lead", vendor.key).randint(3, 14) for vendor in goods}
    orders: list[PurchaseOrderPlan] = []
    for day in range(FIRST_DAY, 0):
        rng = rng_for("orders", day)
        for _ in range(rng.choice(ORDERS_PER_DAY)):
            vendor = rng.choices(goods, weights=weights)[0]
            catalog = ITEMS[vendor.entry.category]
            items = rng.sample(catalog, k=min(rng.choice((1, 1, 2, 2, 3, 4)), len(catalog)))
            lines = [
                OrderLine(
                    line_number=number,
                    sku=item.sku,
                    description=item.description,
                    quantity=Decimal(rng.choice(item.quantities)),
                    unit_price=list_price(item.unit_price, vendor.currency),
                )
                for number, item in enumerate(items, start=1)
            ]
            year = calendar.date(day).year
            order = PurchaseOrderPlan(
                number=f"PO-{year}-{len(orders) + 10401:05d}",
                vendor=vendor,
                order_day=day,
                expected_day=day + lead_days[vendor.key] + rng.randint(-1, 2),
                lines=lines,
            )
            _deliveries_and_action(order, len(orders))
            orders.append(order)
    # Receipt numbers in the order the warehouse books them; goods still on their way have none.
    booked = sorted(
        ((delivery.day, order.number, index) for order in orders for index, delivery in enumerate(order.deliveries)),
    )
    by_number = {order.number: order for order in orders}
    for sequence, (day, po_number, index) in enumerate(booked, start=31001):
        order = by_number[po_number]
        if day <= 0:
            order.deliveries[index] = dataclasses.replace(order.deliveries[index], receipt_number=f"GR-{sequence}")
    return orders


def purchase_orders_place(
    *,
    tenant: Tenant,
    orders: list[PurchaseOrderPlan],
    vendors: dict[str, Vendor],
    calendar: DemoCalendar,
    actor: Actor,
) -> list[PurchaseOrder]:
    """A day's purchase orders, in their order, through purchasing's many-documents door (the same
    rows, re-matches and events as one by one), all or nothing."""
    return purchase_order_create_many(
        tenant=tenant,
        actor=actor,
        documents=[
            PurchaseOrderDocument(
                po_number=order.number,
                vendor_id=vendors[order.vendor.key].pk,
                currency=order.vendor.currency,
                order_date=calendar.date(order.order_day),
                expected_date=calendar.date(order.expected_day),
                lines=[
                    PurchaseOrderLineDocument(
                        line_number=line.line_number,
                        sku=line.sku,
                        description=line.description,
                        quantity=line.quantity,
                        unit_price=line.unit_price,
                    )
                    for line in order.lines
                ],
            )
            for order in orders
        ],
    )


def goods_receipts_book(
    *,
    tenant: Tenant,
    bookings: list[tuple[PurchaseOrderPlan, DeliveryPlan]],
    calendar: DemoCalendar,
    actor: Actor,
) -> None:
    """A day's deliveries, in their order, booked together (`goods_receipt_create_many`: the same
    receipts and events as one by one)."""
    goods_receipt_create_many(
        tenant=tenant,
        actor=actor,
        documents=[
            GoodsReceiptDocument(
                receipt_number=delivery.receipt_number,
                po_number=order.number,
                received_date=calendar.date(delivery.day),
                lines=[
                    GoodsReceiptLineDocument(po_line_number=number, quantity=quantity)
                    for number, quantity in sorted(delivery.quantities.items())
                ],
            )
            for order, delivery in bookings
        ],
    )


def purchase_order_action_take(
    *, tenant: Tenant, purchase_order: PurchaseOrder, action: PurchaseOrderAction, actor: Actor
) -> None:
    purchase_order_act(
        tenant=tenant, purchase_order=purchase_order, action=action.action, comment=action.comment, actor=actor
    )


def purchasing_by_day(
    orders: list[PurchaseOrderPlan],
) -> tuple[
    dict[int, list[PurchaseOrderPlan]],
    dict[int, list[tuple[PurchaseOrderPlan, DeliveryPlan]]],
    dict[int, list[PurchaseOrderPlan]],
]:
    """The plan as the timeline walks it: orders placed, goods booked and POs closed or cancelled, per day."""
    placed: dict[int, list[PurchaseOrderPlan]] = defaultdict(list)
    booked: dict[int, list[tuple[PurchaseOrderPlan, DeliveryPlan]]] = defaultdict(list)
    acted: dict[int, list[PurchaseOrderPlan]] = defaultdict(list)
    for order in orders:
        placed[order.order_day].append(order)
        for delivery in order.deliveries:
            if delivery.receipt_number:
                booked[delivery.day].append((order, delivery))
        if order.action is not None and order.action.day <= 0:
            acted[order.action.day].append(order)
    for day_bookings in booked.values():
        day_bookings.sort(key=lambda booking: booking[1].receipt_number)
    return placed, booked, acted
