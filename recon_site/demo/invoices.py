"""What the vendors send: one invoice per delivery, service bills without a PO, one-off bills.

Three in four delivery invoices bill exactly what arrived, at the PO price. The rest carry what
AP meets every week, each giving the discrepancy the engine names it by: a price above the PO
(`price_mismatch`, medium or high), a freight line nobody ordered (`unmatched_line`), VAT at the
wrong rate (`tax_mismatch`), a total that does not add up (`total_mismatch`), more billed than
ordered (`quantity_exceeds_po`) or than arrived (`quantity_not_received`), an invoice ahead of
its goods (`receipt_missing`, on hold), no PO number (inferred, reviewed), a mistyped PO number
(`po_not_found`), another vendor's PO (`vendor_mismatch`), the wrong currency
(`currency_mismatch`), a closed or cancelled PO (`po_closed`), a re-sent copy
(`duplicate_invoice`) or a renumbered one (`possible_duplicate`). Service bills have no PO
(`missing_po`); one-off businesses are in no vendor list (`unknown_vendor`). Some large orders
were partly prepaid (EN 16931 BT-113). Every document is written through the invoices' door: a
day's arrivals together (`invoice_create_many`, the same rows and events as one by one), a
corrected document on its own (`invoice_create`).
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from core.actors import Actor
from core.money import from_minor, to_minor
from invoices.bulk import DocumentStored
from invoices.documents import InvoiceDocument, InvoiceLineDocument, line_amount_minor
from invoices.models import Invoice
from invoices.services import invoice_create, invoice_create_many, invoice_draft_save
from recon_site.demo.catalog import DEMO_RATES, ONE_OFF_BILLS, ROUTES, SERVICES
from recon_site.demo.plan import (
    FIRST_DAY,
    BilledLine,
    DemoCalendar,
    InvoicePlan,
    PurchaseOrderPlan,
    VendorPlan,
    misspelled_name,
    rng_for,
)
from recon_site.demo.suppliers import VAT_RATES
from tenants.models import Tenant
from vendors.models import Vendor

FREIGHT_LINE = "Freight and packaging"
# Categories whose large orders the vendor asks a deposit for, stated as prepaid on the invoice.
PREPAID_CATEGORIES = frozenset({"it", "automation", "steel", "aluminium"})
PREPAID_FROM_EUROS = 2000
PREPAID_SHARE = Decimal("0.3")
# Where goods travel for one to two weeks, by the vendor's country.
OVERSEAS = frozenset({"JP", "US", "BH", "GB", "CH"})
# Scenarios whose document bills what was ordered and delivered: nothing to correct.
_AS_ORDERED = frozenset({"clean", "prepaid", "late", "resent", "renumbered", "no_po_number"})


def vat_rate(vendor: VendorPlan) -> Decimal:
    return VAT_RATES.get(vendor.entry.country, Decimal(0))


def tax_minor(subtotal: int, rate: Decimal) -> int:
    """VAT on a subtotal in minor units, half up: how the engine's tax check computes it."""
    return int((Decimal(subtotal) * rate / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _naming(vendor: VendorPlan, rng_value: float) -> str:
    """How a document from this vendor names it: by the vendor's channel, now and then oddly."""
    channel = vendor.entry.channel
    if channel == "api":
        return "id"
    if channel == "xml":
        return "tax_id" if vendor.tax_id else "name"
    if rng_value < 0.15 and vendor.entry.aliases:
        return "alias"
    return "misspelled" if rng_value > 0.94 else "name"


def _arrival(vendor: VendorPlan, invoice_day: int, rng_value: float) -> int:
    """E-invoices and API uploads arrive the same or next day; mailed ones take up to four."""
    if vendor.entry.channel in ("api", "xml"):
        return invoice_day + (1 if rng_value < 0.4 else 0)
    return invoice_day + 1 + int(rng_value * 4)


def _invoice_day(vendor: VendorPlan, delivery_day: int, *, first: bool, rng_value: float) -> int:
    """When a delivery is billed: at dispatch (its transit before the goods arrive) for the first
    shipment of a vendor that bills so, else on delivery or up to three days after."""
    if first and vendor.entry.invoices_at_dispatch:
        overseas = vendor.entry.country in OVERSEAS
        return delivery_day - (6 + int(rng_value * 11) if overseas else 1 + int(rng_value * 3))
    return delivery_day + int(rng_value * 4)


def _price_places(price: Decimal, currency: str) -> Decimal:
    """The quantum a price list prints a price with: whole yen, else cents or its sub-cent digits."""
    if currency == "JPY":
        return Decimal(1)
    return Decimal(1).scaleb(-max(2, len(str(price.normalize()).partition(".")[2])))


def _with_prices(lines: list[BilledLine], index: int, factor: Decimal, currency: str) -> tuple[list[BilledLine], int]:
    """Line `index` billed at `factor` × its price; returns the lines and the overcharge (minor units)."""
    line = lines[index]
    raised = (line.unit_price * factor).quantize(_price_places(line.unit_price, currency))
    changed = [*lines]
    changed[index] = dataclasses.replace(line, unit_price=raised)
    overcharge = line_amount_minor(line.quantity, raised, currency) - line_amount_minor(
        line.quantity, line.unit_price, currency
    )
    return changed, overcharge


# How often a delivery invoice deviates, and how (the rest bill what arrived at the PO price).
DEVIATIONS: tuple[tuple[str, float], ...] = (
    ("price_up", 0.08),  # a line 3-8 % above the PO price: price_mismatch, medium
    ("price_up_high", 0.02),  # 15 % above: price_mismatch, high
    ("freight_line", 0.04),  # a freight line nobody ordered: unmatched_line
    ("tax_slip", 0.025),  # VAT at 16 %: tax_mismatch
    ("total_slip", 0.015),  # a total that does not add up: total_mismatch
    ("over_billed", 0.02),  # 10 % more than ordered: quantity_exceeds_po
    ("no_po_number", 0.03),  # the PO is inferred (an older one of the same items, at times): reviewed
    ("po_typo", 0.01),  # po_not_found
    ("resent", 0.015),  # sent again a few days later with a new date: duplicate_invoice
    ("renumbered", 0.01),  # sent again under another number: possible_duplicate
)


def _deviation(draw: float) -> str:
    for scenario, share in DEVIATIONS:
        if draw < share:
            return scenario
        draw -= share
    return "clean"


def _deviate(plan: InvoicePlan, order: PurchaseOrderPlan, draw: float, rng_value: float) -> InvoicePlan:
    """The delivery invoice `plan` (clean) with the deviation the draw falls on (`DEVIATIONS`)."""
    scenario = _deviation(draw)
    lines = list(plan.lines)
    currency = plan.currency
    index = int(rng_value * len(lines))
    if scenario in ("price_up", "price_up_high"):
        factor = Decimal("1.15") if scenario == "price_up_high" else Decimal(103 + int(rng_value * 50) / 10) / 100
        changed, overcharge = _with_prices(lines, index, factor, currency)
        return dataclasses.replace(plan, lines=tuple(changed), scenario=scenario, credit_net=overcharge)
    if scenario == "freight_line":
        freight = _amount(25, 120, currency, rng_value)
        extra = BilledLine(description=FREIGHT_LINE, quantity=Decimal(1), unit_price=freight)
        credit = line_amount_minor(Decimal(1), freight, currency)
        return dataclasses.replace(plan, lines=(*lines, extra), scenario=scenario, credit_net=credit)
    if scenario == "tax_slip" and plan.tax_rate:
        subtotal = sum(line_amount_minor(line.quantity, line.unit_price, currency) for line in lines)
        # VAT at 16 % instead of 19 %, the old rate some billing systems still had.
        slip = tax_minor(subtotal, Decimal(16)) - tax_minor(subtotal, plan.tax_rate)
        return dataclasses.replace(plan, scenario=scenario, tax_error=slip)
    if scenario == "total_slip":
        slip = to_minor(Decimal(10 + int(rng_value * 90)) * DEMO_RATES[currency], currency)
        return dataclasses.replace(plan, scenario=scenario, total_error=slip)
    if scenario == "over_billed":
        line = lines[index]
        more = max(Decimal(1), (line.quantity / 10).to_integral_value())
        lines[index] = dataclasses.replace(line, quantity=line.quantity + more)
        credit = line_amount_minor(more, line.unit_price, currency)
        return dataclasses.replace(plan, lines=tuple(lines), scenario=scenario, credit_net=credit)
    if scenario == "no_po_number":
        return dataclasses.replace(plan, po_number="", scenario=scenario)
    if scenario == "po_typo":
        # A digit left out: PO numbers have five after the year, so no PO has this one.
        return dataclasses.replace(plan, po_number=order.number[:-2] + order.number[-1], scenario=scenario)
    if scenario in ("resent", "renumbered"):
        return dataclasses.replace(plan, scenario=scenario)
    return plan


def _order_lines(order: PurchaseOrderPlan, quantities: dict[int, Decimal], *, hints: bool) -> tuple[BilledLine, ...]:
    return tuple(
        BilledLine(
            description=line.description,
            quantity=quantities[line.line_number],
            unit_price=line.unit_price,
            sku=line.sku,
            po_line_number=line.line_number if hints else None,
        )
        for line in order.lines
        if line.line_number in quantities
    )


def _euros(order: PurchaseOrderPlan) -> Decimal:
    total = sum((line.quantity * line.unit_price for line in order.lines), Decimal(0))
    return total / DEMO_RATES[order.vendor.currency]


def delivery_invoices(orders: list[PurchaseOrderPlan]) -> list[InvoicePlan]:
    """One invoice per delivery (unnumbered yet), plus the odd invoice of a cancelled or another's PO."""
    plans: list[InvoicePlan] = []
    same_currency: dict[str, list[PurchaseOrderPlan]] = {}
    for order in orders:
        same_currency.setdefault(order.vendor.currency, []).append(order)
    for order_index, order in enumerate(orders):
        vendor = order.vendor
        hints = vendor.entry.channel == "xml"
        if order.action is not None and order.action.action == "cancel":
            rng = rng_for("cancelled-billed", order.number)
            if rng.random() < 0.3:
                day = order.action.day + rng.randint(2, 6)
                everything = {line.line_number: line.quantity for line in order.lines}
                plans.append(
                    _delivery_plan(
                        order, _order_lines(order, everything, hints=hints), day, rng.random(), scenario="cancelled_po"
                    )
                )
            continue
        billed_ahead = False
        for index, delivery in enumerate(order.deliveries):
            if billed_ahead:
                break
            rng = rng_for("invoice", order.number, index)
            # Never before the order: a vendor bills what it was asked for.
            invoice_day = max(
                order.order_day + 1, _invoice_day(vendor, delivery.day, first=index == 0, rng_value=rng.random())
            )
            clean = _delivery_plan(
                order, _order_lines(order, delivery.quantities, hints=hints), invoice_day, rng.random()
            )
            plan = clean
            is_last = index == len(order.deliveries) - 1
            draw, rng_value = rng.random(), rng.random()
            if order.action is not None and is_last and order.action.action == "close" and draw < 0.25:
                # The last invoice arrives after the buyer closed the PO: po_closed.
                late_day = order.action.day + rng.randint(1, 8)
                plan = dataclasses.replace(plan, invoice_day=late_day - 1, arrival_day=late_day, scenario="late")
            elif len(order.deliveries) > 1 and index == 0 and draw > 0.97:
                everything = {line.line_number: line.quantity for line in order.lines}
                plan = dataclasses.replace(
                    plan, lines=_order_lines(order, everything, hints=hints), scenario="billed_ahead"
                )
                billed_ahead = True
            elif draw > 0.985 and (
                others := [other for other in same_currency[vendor.currency] if other.vendor.key != vendor.key]
            ):
                other = others[(order_index * 7) % len(others)]
                plan = dataclasses.replace(plan, po_number=other.number, scenario="wrong_po")
            elif draw > 0.975 and vendor.currency == "EUR":
                plan = dataclasses.replace(plan, currency="USD", scenario="wrong_currency")
            elif vendor.entry.category in PREPAID_CATEGORIES and index == 0 and draw > 0.6:
                # A deposit on a large order, paid with it and stated on the first invoice.
                if _euros(order) >= PREPAID_FROM_EUROS:
                    plan = dataclasses.replace(plan, prepaid_share=PREPAID_SHARE, scenario="prepaid")
            else:
                plan = _deviate(plan, order, draw, rng_value)
            plans.append(plan if plan.scenario in _AS_ORDERED else dataclasses.replace(plan, corrected=clean))
    return [plan for plan in plans if plan.arrival_day <= 0]


def _delivery_plan(
    order: PurchaseOrderPlan, lines: tuple[BilledLine, ...], invoice_day: int, rng_value: float, scenario: str = "clean"
) -> InvoicePlan:
    vendor = order.vendor
    return InvoicePlan(
        number="",
        vendor=vendor,
        vendor_name=vendor.name,
        currency=vendor.currency,
        invoice_day=invoice_day,
        arrival_day=_arrival(vendor, invoice_day, rng_value),
        lines=lines,
        tax_rate=vat_rate(vendor),
        terms_days=vendor.entry.terms_days,
        po_number=order.number,
        scenario=scenario,
        named_by=_naming(vendor, rng_value),
        source=vendor.entry.channel,
    )


def _service_days(vendor: VendorPlan, calendar: DemoCalendar) -> list[int]:
    service = SERVICES[vendor.entry.category]
    days = range(FIRST_DAY, 1)
    if service.cadence == "monthly":
        return [day for day in days if calendar.date(day).day == service.day_of_month]
    if service.cadence == "weekly":
        offset = rng_for("weekly", vendor.key).randrange(7)
        return [day for day in days if (day - FIRST_DAY) % 7 == offset]
    rng = rng_for("shipments", vendor.key)
    # `per_week` a week on average: each day's count is its whole share, plus one by chance.
    whole, part = divmod(service.per_week, 7)
    return [day for day in days for _ in range(whole + (rng.random() < part / 7))]


def _amount(low: int, high: int, currency: str, rng_value: float) -> Decimal:
    euros = Decimal(low) if low == high else Decimal(low) + (Decimal(high - low) * Decimal(str(rng_value)))
    return (euros * DEMO_RATES[currency]).quantize(Decimal(1) if currency == "JPY" else Decimal("0.01"))


def service_invoices(vendors: list[VendorPlan], calendar: DemoCalendar) -> list[InvoicePlan]:
    """The bills of the vendors who work without a PO: monthly, weekly, per shipment or visit."""
    plans = []
    for vendor in vendors:
        if vendor.entry.category not in SERVICES:
            continue
        service = SERVICES[vendor.entry.category]
        for index, day in enumerate(_service_days(vendor, calendar)):
            rng = rng_for("service", vendor.key, index)
            period = f"{calendar.date(day):%m/%Y}"
            lines = tuple(
                BilledLine(
                    description=line.description.format(month=period, route=rng.choice(ROUTES)),
                    quantity=Decimal(1),
                    unit_price=_amount(line.low, line.high, vendor.currency, rng.random()),
                )
                for number, line in enumerate(service.lines)
                if number == 0 or rng.random() < 0.7
            )
            draw = rng.random()
            scenario = "resent" if draw < 0.02 else "renumbered" if draw < 0.03 else "service"
            plans.append(
                InvoicePlan(
                    number="",
                    vendor=vendor,
                    vendor_name=vendor.name,
                    currency=vendor.currency,
                    invoice_day=day,
                    arrival_day=_arrival(vendor, day, rng.random()),
                    lines=lines,
                    tax_rate=vat_rate(vendor),
                    terms_days=vendor.entry.terms_days,
                    scenario=scenario,
                    named_by=_naming(vendor, rng.random()),
                    source=vendor.entry.channel,
                )
            )
    return [plan for plan in plans if plan.arrival_day <= 0]


def one_off_invoices() -> list[InvoicePlan]:
    """Two or three bills from each business in nobody's vendor list (`unknown_vendor`)."""
    plans = []
    for bill in ONE_OFF_BILLS:
        rng = rng_for("one-off", bill.name)
        for _ in range(rng.randint(2, 3)):
            day = rng.randint(FIRST_DAY, -1)
            plans.append(
                InvoicePlan(
                    number=str(rng.randint(10_000, 99_999)),
                    vendor=None,
                    vendor_name=bill.name,
                    currency="EUR",
                    invoice_day=day,
                    arrival_day=day + rng.randint(1, 4),
                    lines=(
                        BilledLine(
                            description=bill.description,
                            quantity=Decimal(1),
                            unit_price=_amount(bill.low, bill.high, "EUR", rng.random()),
                        ),
                    ),
                    tax_rate=Decimal(19),
                    terms_days=14,
                    scenario="one_off",
                    named_by="name",
                    source="csv",
                )
            )
    return [plan for plan in plans if plan.arrival_day <= 0]


def _copy_of(plan: InvoicePlan) -> InvoicePlan | None:
    """The second document of a re-sent or renumbered invoice, arriving a few days after the first.

    A re-send prints a new invoice date, so its content differs and the door stores it (an
    identical re-send is answered with the stored invoice): matching then flags it.
    """
    rng = rng_for("copy", plan.number)
    later = rng.randint(2, 5)
    if plan.arrival_day + later > 0:
        return None
    if plan.scenario == "resent":
        spaced = plan.number.lower().replace("-", " ")
        return dataclasses.replace(
            plan,
            number=spaced,
            invoice_day=plan.invoice_day + later,
            arrival_day=plan.arrival_day + later,
            scenario="duplicate",
        )
    return dataclasses.replace(
        plan, number=f"{plan.number}-A", arrival_day=plan.arrival_day + later, scenario="renumbered_copy"
    )


def invoices_numbered(plans: list[InvoicePlan], calendar: DemoCalendar) -> list[InvoicePlan]:
    """Each vendor's invoices numbered in date order, then the re-sent and renumbered copies added."""
    ordered = sorted(plans, key=lambda plan: (plan.invoice_day, plan.arrival_day, plan.po_number, plan.vendor_name))
    counters: dict[str, int] = {}
    numbered = []
    for plan in ordered:
        if plan.vendor is not None and not plan.number:
            sequence = counters.get(plan.vendor.key, plan.vendor.first_number)
            counters[plan.vendor.key] = sequence + 1
            year = calendar.date(plan.invoice_day).year
            plan = dataclasses.replace(plan, number=plan.vendor.number_format.format(n=sequence, year=year))
        numbered.append(plan)
    copies = [copy for plan in numbered if plan.scenario in ("resent", "renumbered") if (copy := _copy_of(plan))]
    return sorted([*numbered, *copies], key=lambda plan: (plan.arrival_day, plan.invoice_day, plan.number))


def invoice_document(plan: InvoicePlan, *, vendor: Vendor | None, calendar: DemoCalendar) -> InvoiceDocument:
    """The document as its vendor sends it; amounts computed in minor units, as the door stores them."""
    currency = plan.currency
    subtotal = sum(line_amount_minor(line.quantity, line.unit_price, currency) for line in plan.lines)
    tax = tax_minor(subtotal, plan.tax_rate) + plan.tax_error
    total = subtotal + tax + to_minor(plan.shipping, currency) + plan.total_error
    prepaid = math.floor(total * plan.prepaid_share)
    named_by = plan.named_by if plan.vendor is not None else "name"
    name = {
        "name": plan.vendor_name,
        "tax_id": plan.vendor_name,
        "alias": plan.vendor.entry.aliases[0] if plan.vendor and plan.vendor.entry.aliases else plan.vendor_name,
        "misspelled": misspelled_name(plan.vendor_name),
    }.get(named_by, "")
    invoice_date = calendar.date(plan.invoice_day)
    return InvoiceDocument(
        invoice_number=plan.number,
        currency=currency,
        invoice_date=invoice_date,
        due_date=calendar.date(plan.invoice_day + plan.terms_days),
        total_amount=from_minor(total, currency),
        tax_amount=from_minor(tax, currency),
        shipping_amount=plan.shipping,
        tax_rate=plan.tax_rate,
        prepaid_amount=from_minor(prepaid, currency),
        vendor_id=vendor.pk if vendor is not None and named_by == "id" else None,
        vendor_name=name,
        vendor_tax_id=plan.vendor.tax_id if plan.vendor is not None and named_by == "tax_id" else "",
        po_number=plan.po_number,
        document_type=plan.document_type,
        credited_invoice_number=plan.credited_number,
        payee_account=plan.payee_account,
        lines=[
            InvoiceLineDocument(
                line_number=number,
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                sku=line.sku,
                po_line_number=line.po_line_number,
            )
            for number, line in enumerate(plan.lines, start=1)
        ],
    )


def invoice_create_from_plan(
    *, tenant: Tenant, plan: InvoicePlan, vendors: dict[str, Vendor], calendar: DemoCalendar, actor: Actor
) -> Invoice:
    vendor = vendors[plan.vendor.key] if plan.vendor is not None else None
    return invoice_create(
        tenant=tenant,
        actor=actor,
        document=invoice_document(plan, vendor=vendor, calendar=calendar),
        source=plan.source,
    )


def invoices_arrive(
    *, tenant: Tenant, plans: list[InvoicePlan], vendors: dict[str, Vendor], calendar: DemoCalendar, actor: Actor
) -> list[Invoice]:
    """A day's documents through the many-documents door, answered in their order: one call per
    channel of the day (the door takes one source per call), each all or nothing. A day's
    documents never refer to each other (a credit note or correction comes days after its
    invoice), so the channels' order among themselves does not matter."""
    by_source: dict[str, list[int]] = defaultdict(list)
    for position, plan in enumerate(plans):
        by_source[plan.source].append(position)
    invoices: dict[int, Invoice] = {}
    for source, positions in by_source.items():
        day_plans = [plans[position] for position in positions]
        documents = [
            invoice_document(plan, vendor=vendors[plan.vendor.key] if plan.vendor else None, calendar=calendar)
            for plan in day_plans
        ]
        outcomes = invoice_create_many(tenant=tenant, documents=documents, actor=actor, source=source)
        for position, outcome in zip(positions, outcomes, strict=True):
            # all_or_nothing: a refused document raised InvoiceBatchInvalid before anything was written.
            assert isinstance(outcome, DocumentStored)
            invoices[position] = outcome.invoice
    return [invoices[position] for position in range(len(plans))]


def paper_draft_save(*, tenant: Tenant, clerk: Actor, calendar: DemoCalendar, day: int) -> Invoice:
    """The demo's one draft (DESIGN.md §4: draft → received / void): a paper bill from a business
    in nobody's vendor list, which a clerk began typing in on `day` and has not submitted yet —
    number, vendor's name, date, line and total typed; the due date not yet."""
    bill = ONE_OFF_BILLS[0]
    rng = rng_for("draft", bill.name)
    net = _amount(bill.low, bill.high, "EUR", rng.random())
    tax = (net * Decimal("0.19")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    document = InvoiceDocument(
        invoice_number=str(rng.randint(10_000, 99_999)),
        currency="EUR",
        invoice_date=calendar.date(day - rng.randint(2, 5)),
        total_amount=net + tax,
        tax_amount=tax,
        tax_rate=Decimal(19),
        vendor_name=bill.name,
        lines=[InvoiceLineDocument(line_number=1, description=bill.description, quantity=Decimal(1), unit_price=net)],
    )
    return invoice_draft_save(tenant=tenant, document=document, actor=clerk)
