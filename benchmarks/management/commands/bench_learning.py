"""`manage.py bench_learning [--invoices N] [--seed S] [--keep]`: how many reviews do the facts
Recon learns from clerks (issue #20) save?

One seeded stream of invoices is played twice, each time in a fresh scratch tenant (`bench-…`,
deactivated afterwards unless --keep; point it at a scratch database, nothing it writes can be
deleted), through the real path only: documents inserted day by day, matched by
`matching_drain_tenant` (loader with the learned facts, engine, writer), every invoice the engine
leaves in review decided by a simulated clerk through review's `invoice_review` (which records
the decision as an example and learns from it, as a clerk's click does), and every tolerance
suggestion Recon proposes decided by a simulated administrator through learning's services.

- with learning: the administrator accepts each suggestion; what the clerk's approvals taught
  (item aliases, accepted tolerances) is used by the next days' matching;
- without learning: the same stream and the same decisions, but the administrator forgets each
  item alias as soon as it is learned (`item_alias_forget`) and declines each suggestion
  (`tolerance_suggestion_decline`). Nothing learned ever reaches a match, with no switch added to
  the product: this is what a tenant whose administrator undoes every learned fact would see.

The difference between the two counts of invoices that needed a person is what learning saved.
An invoice a clerk would reject that the engine approved is a false auto-approval (must be 0: the
command exits non-zero otherwise).

The stream, drawn from `random.Random(--seed)` (default 7): ten invoices a day; each invoice
bills 2–3 items of its vendor's catalogue on a purchase order of its own (named on the invoice,
fully received), quantities 5–40, prices 20.00–149.99 EUR, so every total is above the
small-invoice policy. (A clean invoice can still need a person for the engine's other reasons,
an amount unusual for its vendor or a total repeated by chance within days: in review in both
plays alike.) Each day's invoices are decided before the next day's arrive, so
when a suggestion is accepted no invoice of the vendor is open for the re-match the product
makes after an accept (review.learning_views): the next day's matching uses the new tolerance.

| kind        | vendor                   | how it is built                                | clerk   |
|-------------|--------------------------|------------------------------------------------|---------|
| clean       | keyed (4 vendors)        | the PO's SKUs, descriptions and prices         | approve |
| reworded    | rewording (1 per 100     | no SKUs; each item worded the vendor's own way | approve |
|             | invoices)                | the same way every time (bench_calibration's   |         |
|             |                          | REWORDED pairs), at the vendor's list price:   |         |
|             |                          | 0.2–0.8 % off the PO's, inside the tolerance   |         |
|             |                          | but not proof of the item                      |         |
| surcharge   | surcharging (1 per 200   | SKUs; every line the vendor's habitual         | approve |
|             | invoices)                | surcharge (2.5–3.0 %) above the PO price       |         |
|             |                          | (tolerance 2 %)                                |         |
| price_error | keyed (4 vendors)        | one line 4–12 % above the PO price             | reject  |

Price errors are drawn on keyed vendors only: a rejection of a rewording or surcharging vendor's
invoice unlearns what its match used (learning.services), which the learning tests cover; here it
would only blur what approvals teach. The clerk approves an invoice right by construction that
the engine matched to its PO and each line to its PO line, and rejects anything else.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
import time
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from benchmarks.fixtures import FIXTURE_MODELS, MATERIALS, NOUNS, SPECS
from benchmarks.management.commands.bench_calibration import REWORDED
from benchmarks.scratch import bench_tenant_deactivate, database_describe, fixture_tables_analyze
from core.actors import Actor, system_actor
from core.money import round_to_minor
from invoices.models import Invoice, InvoiceLine, InvoiceStatus
from invoices.numbers import normalize_invoice_number
from learning.models import ItemAlias, SuggestionStatus, ToleranceSuggestion
from learning.services import item_alias_forget, tolerance_suggestion_accept, tolerance_suggestion_decline
from matching.models import MatchRun
from matching.services import matching_drain_tenant
from purchasing.models import GoodsReceipt, GoodsReceiptLine, PurchaseOrder, PurchaseOrderLine
from review.decisions import invoice_review
from tenants.models import Role
from tenants.selectors import tenant_settings_get
from tenants.services import membership_grant, tenant_create
from vendors.models import Vendor
from vendors.names import normalize_vendor_name

BENCH_ACTOR = system_actor("bench_learning")
BASE_DATE = dt.date(2026, 3, 2)
CURRENCY = "EUR"
PER_DAY = 10
SHARES = {"clean": 0.45, "reworded": 0.25, "surcharge": 0.2, "price_error": 0.1}
KINDS_OF_VENDOR = {"clean": "keyed", "price_error": "keyed", "reworded": "rewording", "surcharge": "surcharging"}
FALSE_APPROVALS = "{count} false auto-approvals: the engine approved invoices a clerk would not have."
UNDECIDED = "{count} invoices were neither approved nor in review after matching: {statuses}."


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
    habit: str  # keyed, rewording or surcharging
    items: tuple[Item, ...]


@dataclass(frozen=True)
class LineSpec:
    item: Item
    quantity: Decimal
    price: Decimal


@dataclass(frozen=True)
class InvoiceSpec:
    number: int
    day: int
    vendor: int  # index into the stream's vendors
    kind: str
    lines: tuple[LineSpec, ...]


@dataclass(frozen=True)
class Stream:
    vendors: tuple[VendorSpec, ...]
    invoices: tuple[InvoiceSpec, ...]


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


def _vendor(number: int, habit: str, rng: random.Random) -> VendorSpec:
    prices = [Decimal(p).scaleb(-2) for p in rng.sample(range(2000, 15000), 6)]
    if habit == "rewording":
        pairs = rng.sample(REWORDED, 4)
        items = tuple(
            Item("", po_text, said, price, price + max(Decimal("0.01"), _cents(price * rng.randint(2, 8) / 1000)))
            for (po_text, said), price in zip(pairs, prices, strict=False)
        )
    else:
        names = rng.sample([f"{n} {s}, {m}" for n in NOUNS for s in SPECS for m in MATERIALS], 6)
        habit_pct = Decimal(rng.randint(25, 30)) / 1000 if habit == "surcharging" else Decimal(0)
        items = tuple(
            Item(f"L{number:03d}-{index}", name, name, price, _cents(price * (1 + habit_pct)))
            for index, (name, price) in enumerate(zip(names, prices, strict=True), start=1)
        )
    return VendorSpec(f"Learning Vendor {number:03d} ({habit}) GmbH", habit, items)


def stream_of(count: int, rng: random.Random) -> Stream:
    """The invoices in order of arrival, and their vendors (module docstring)."""
    habits = ["rewording"] * max(1, count // 100) + ["surcharging"] * max(1, count // 200) + ["keyed"] * 4
    vendors = tuple(_vendor(number, habit, rng) for number, habit in enumerate(habits, start=1))
    by_habit: dict[str, list[int]] = {}
    for index, spec in enumerate(vendors):
        by_habit.setdefault(spec.habit, []).append(index)
    kinds = [kind for kind, share in SHARES.items() for _ in range(max(1, round(count * share)))]
    kinds = kinds[:count] + ["clean"] * (count - len(kinds))
    rng.shuffle(kinds)
    invoices = []
    for number, kind in enumerate(kinds, start=1):
        vendor = rng.choice(by_habit[KINDS_OF_VENDOR[kind]])
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
        invoices.append(InvoiceSpec(number, (number - 1) // PER_DAY, vendor, kind, lines))
    return Stream(vendors, tuple(invoices))


@dataclass
class Played:
    """One play of the stream: who needed a person, what the engine approved wrongly, what was learned."""

    reviews: Counter[str]
    false_approvals: int
    aliases_learned: int
    suggestions_proposed: int
    suggestions_accepted: int


class Player:
    """Plays the stream in one fresh tenant, day by day (module docstring)."""

    def __init__(self, *, stream: Stream, learning: bool) -> None:
        self.stream = stream
        self.learning = learning
        slug = f"bench-{timezone.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
        label = "with" if learning else "without"
        self.tenant, _ = tenant_create(name=f"Learning bench {label} {slug[6:]}", slug=slug, actor=BENCH_ACTOR)
        self.clerk = self._member("clerk", Role.APPROVER)
        self.admin = self._member("admin", Role.ADMIN)
        self.vendors: list[Vendor] = []
        self.truth: dict[Any, tuple[InvoiceSpec, PurchaseOrder, list[PurchaseOrderLine]]] = {}

    def _member(self, name: str, role: str) -> Actor:
        user, _ = get_user_model().objects.get_or_create(username=f"{self.tenant.slug}-{name}")
        membership_grant(tenant=self.tenant, user=user, actor=BENCH_ACTOR, role=role)
        return Actor(kind="user", id=str(user.pk), label=user.get_username())

    def play(self) -> Played:
        tenant = self.tenant
        self.vendors = [
            Vendor(tenant=tenant, name=spec.name, normalized_name=normalize_vendor_name(spec.name),
                   tax_id=f"DE{600_000_000 + n:09d}", default_currency=CURRENCY)
            for n, spec in enumerate(self.stream.vendors, start=1)
        ]  # fmt: skip
        Vendor.objects.bulk_create(self.vendors)
        played = Played(Counter(), 0, 0, 0, 0)
        days = sorted({spec.day for spec in self.stream.invoices})
        for day in days:
            self._arrive([spec for spec in self.stream.invoices if spec.day == day])
            if day == 0:
                fixture_tables_analyze(models=FIXTURE_MODELS)
            limit = tenant_settings_get(tenant=tenant).max_invoices_per_run
            matching_drain_tenant(
                tenant=tenant, trigger=MatchRun.Trigger.COMMAND, actor=BENCH_ACTOR, max_batches=PER_DAY // limit + 2
            )
            self._decide(played)
        learned = ItemAlias.objects.for_tenant(tenant)
        played.aliases_learned = learned.count()
        suggestions = ToleranceSuggestion.objects.for_tenant(tenant)
        played.suggestions_proposed = suggestions.count()
        played.suggestions_accepted = suggestions.filter(
            status__in=[SuggestionStatus.ACCEPTED, SuggestionStatus.REPLACED]
        ).count()
        return played

    def _arrive(self, specs: list[InvoiceSpec]) -> None:
        """The day's invoices, each with its own purchase order, ordered and received before."""
        tenant = self.tenant
        with transaction.atomic():
            for spec in specs:
                vendor = self.vendors[spec.vendor]
                arrived = BASE_DATE + dt.timedelta(days=spec.day)
                ordered = arrived - dt.timedelta(days=20)
                po = PurchaseOrder.objects.create(
                    tenant=tenant,
                    po_number=f"PO-{spec.number:05d}",
                    vendor=vendor,
                    currency=CURRENCY,
                    order_date=ordered,
                )
                po_lines = PurchaseOrderLine.objects.bulk_create(
                    [
                        PurchaseOrderLine(tenant=tenant, purchase_order=po, line_number=n, sku=line.item.sku,
                                          description=line.item.po_text, quantity=line.quantity,
                                          unit_price=line.item.po_price)
                        for n, line in enumerate(spec.lines, start=1)
                    ]
                )  # fmt: skip
                received = arrived - dt.timedelta(days=5)
                receipt = GoodsReceipt.objects.create(
                    tenant=tenant, receipt_number=f"GR-{spec.number:05d}", purchase_order=po, received_date=received
                )
                GoodsReceiptLine.objects.bulk_create(
                    GoodsReceiptLine(tenant=tenant, goods_receipt=receipt, purchase_order_line=line,
                                     quantity=line.quantity)
                    for line in po_lines
                )  # fmt: skip
                invoice = Invoice(tenant=tenant, vendor=vendor, invoice_number=f"LRN-{spec.number:05d}",
                                  po_number=po.po_number, currency=CURRENCY, invoice_date=arrived,
                                  due_date=arrived + dt.timedelta(days=30), status=InvoiceStatus.RECEIVED)  # fmt: skip
                invoice.invoice_number_normalized = normalize_invoice_number(invoice.invoice_number)
                lines = [
                    InvoiceLine(tenant=tenant, invoice=invoice, line_number=n, sku=line.item.sku,
                                description=line.item.invoice_text, quantity=line.quantity, unit_price=line.price,
                                amount=round_to_minor(line.quantity * line.price, CURRENCY))
                    for n, line in enumerate(spec.lines, start=1)
                ]  # fmt: skip
                invoice.subtotal_amount = invoice.total_amount = sum(line.amount for line in lines)
                invoice.save()
                InvoiceLine.objects.bulk_create(lines)
                self.truth[invoice.pk] = (spec, po, po_lines)

    def _right(self, invoice: Invoice) -> bool:
        """Whether a clerk would approve the invoice as the engine matched it (module docstring)."""
        spec, po, po_lines = self.truth[invoice.pk]
        matched = dict(
            InvoiceLine.objects.for_tenant(self.tenant)
            .filter(invoice_id=invoice.pk)
            .values_list("line_number", "matched_po_line_id")
        )
        return (
            spec.kind != "price_error"
            and invoice.purchase_order_id == po.pk
            and matched == {line.line_number: line.pk for line in po_lines}
        )

    def _decide(self, played: Played) -> None:
        tenant = self.tenant
        arrived = Invoice.objects.for_tenant(tenant).filter(pk__in=list(self.truth)).order_by("invoice_number")
        statuses: Counter[str] = Counter()
        for invoice in arrived:
            spec = self.truth[invoice.pk][0]
            if invoice.status == InvoiceStatus.APPROVED:
                played.false_approvals += not self._right(invoice)
            elif invoice.status == InvoiceStatus.PENDING_REVIEW:
                played.reviews[spec.kind] += 1
                right = self._right(invoice)
                invoice_review(tenant=tenant, invoice=invoice, action="approve" if right else "reject",
                               actor=self.clerk, role=Role.APPROVER,
                               comment="as ordered" if right else "not what we ordered")  # fmt: skip
            else:
                statuses[invoice.status] += 1
        if statuses:
            raise CommandError(UNDECIDED.format(count=statuses.total(), statuses=dict(statuses)), returncode=1)
        self.truth.clear()
        if self.learning:
            for suggestion in ToleranceSuggestion.objects.for_tenant(tenant).filter(status=SuggestionStatus.OPEN):
                tolerance_suggestion_accept(tenant=tenant, suggestion=suggestion, actor=self.admin)
            return
        for alias in ItemAlias.objects.for_tenant(tenant).filter(forgotten_at__isnull=True):
            item_alias_forget(tenant=tenant, alias=alias, actor=self.admin)
        for suggestion in ToleranceSuggestion.objects.for_tenant(tenant).filter(status=SuggestionStatus.OPEN):
            tolerance_suggestion_decline(tenant=tenant, suggestion=suggestion, actor=self.admin)


def report_lines(*, count: int, without: Played, with_: Played, seconds: float) -> list[str]:
    """The report's figures (the test reads them)."""
    saved = without.reviews.total() - with_.reviews.total()
    share = f"{100 * saved / without.reviews.total():.1f} %" if without.reviews.total() else "n/a"
    lines = [
        f"Invoices: {count}",
        f"Went to review without learning: {without.reviews.total()}",
        f"Went to review with learning: {with_.reviews.total()}",
        f"Reviews saved: {saved} ({share})",
    ]
    lines += [f"  {kind:<12} without {without.reviews[kind]:>4}, with {with_.reviews[kind]:>4}" for kind in SHARES]
    lines += [
        f"False auto-approvals: {with_.false_approvals} with learning, {without.false_approvals} without",
        f"Item aliases learned: {with_.aliases_learned} (without learning: {without.aliases_learned}, each forgotten)",
        f"Tolerance suggestions: proposed {with_.suggestions_proposed}, accepted {with_.suggestions_accepted} "
        f"(without learning: proposed {without.suggestions_proposed}, each declined)",
        f"Wall time: {seconds:.1f} s",
    ]
    return lines


class Command(BaseCommand):
    help = "Reviews saved by what Recon learns from clerks, on a seeded stream played twice (scratch database)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--invoices", type=int, default=400, help="Invoices in the stream (default 400).")
        parser.add_argument("--seed", type=int, default=7, help="Seed of the stream's generator (default 7).")
        parser.add_argument("--keep", action="store_true", help="Leave the two bench tenants active afterwards.")

    def handle(self, *args: Any, **options: Any) -> None:
        count = options["invoices"]
        if count < len(SHARES):
            raise CommandError(f"--invoices must be at least {len(SHARES)}, one of each kind.")
        started = time.perf_counter()
        self.stdout.write(database_describe())
        stream = stream_of(count, random.Random(options["seed"]))  # noqa: S311 (reproducible, not a secret)
        kinds = Counter(spec.kind for spec in stream.invoices)
        habits = Counter(vendor.habit for vendor in stream.vendors)
        self.stdout.write(
            f"Stream: {count} invoices over {stream.invoices[-1].day + 1} days, seed {options['seed']}: "
            + ", ".join(f"{kind} {kinds[kind]}" for kind in SHARES)
            + "; vendors: "
            + ", ".join(f"{habit} {number}" for habit, number in sorted(habits.items()))
        )
        played = {}
        for learning in (False, True):
            player = Player(stream=stream, learning=learning)
            self.stdout.write(f"Tenant {'with' if learning else 'without'} learning: {player.tenant.slug}")
            try:
                played[learning] = player.play()
            finally:
                if not options["keep"]:
                    bench_tenant_deactivate(tenant=player.tenant, actor=BENCH_ACTOR)
        seconds = time.perf_counter() - started
        for line in report_lines(count=count, without=played[False], with_=played[True], seconds=seconds):
            self.stdout.write(line)
        false_approvals = played[False].false_approvals + played[True].false_approvals
        if false_approvals:
            raise CommandError(FALSE_APPROVALS.format(count=false_approvals), returncode=1)
