"""`manage.py bench_calibration [--invoices N] [--seed S] [--keep]`: does confidence mean what it says?

Builds a held-out replay in a scratch tenant (as `bench_matching` does: a fresh `bench-…` tenant,
deactivated afterwards unless --keep; point it at a scratch database, since nothing it writes can
be deleted) of invoices whose right answer is known because the bench made them: the right PO,
the right PO line for each invoice line, and whether a careful clerk would approve the invoice
as it stands. Then it matches them through the real path (`matching_drain_tenant`: loader,
engine, writer) and prints, for c = 0.8, 0.9 and 0.95, how many invoices had confidence ≥ c and
the share of those a clerk would also approve (matched to the right PO and lines, and nothing
wrong with it), and the same among those without any discrepancy (only those can be approved
on confidence: DESIGN.md §5, rule 3; a duplicate or a price error can score 0.99, since the
components measure how well the documents match, not whether to pay); per kind, what the engine
decided; then how many the engine auto-approved and how many of those a clerk would not
have (false auto-approvals, which must be 0: the command exits non-zero otherwise).

The replay, drawn from `random.Random(--seed)` (default 7), each invoice with its own vendor,
every PO fully received, every total between 100.00 and 10,000.00 EUR (below 100.00 the engine
approves small invoices whatever their discrepancies, a policy and not a confidence):

| kind             | how it is built                                                  | clerk   |
|------------------|------------------------------------------------------------------|---------|
| clean            | names its PO, SKUs and the PO's descriptions                     | approve |
| reworded         | names its PO, no SKUs, each line worded differently, PO prices   | approve |
| inferred         | names no PO; copies the only open PO of its items (the vendor    | approve |
|                  | has another open PO sharing one item)                            |         |
| price_error      | one line 3–15 % above the PO price (tolerance 2 %)               | no      |
| near_miss_price  | reworded, one line a cent beyond the price tolerance             | no      |
| quantity_error   | one line bills 1–5 more than ordered                             | no      |
| ambiguous_po     | names no PO; two open POs of the very same lines, the right one  | only on |
|                  | drawn at random                                                  | it      |
| ambiguous_lines  | names its PO, no SKUs; two PO lines of one price and quantity,   | approve |
|                  | worded alike                                                     |         |
| duplicate        | an earlier clean invoice re-sent, its number re-spelled          | no      |

A clerk "also approves" an invoice when its kind is one a clerk approves, the engine matched
it to the right PO, and every line to its right PO line.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from benchmarks.fixtures import FIXTURE_MODELS, MATERIALS, NOUNS, SPECS, duplicate_rows
from benchmarks.scratch import bench_tenant_deactivate, database_describe, fixture_tables_analyze
from core.actors import system_actor
from core.money import round_to_minor
from invoices.models import Invoice, InvoiceLine, InvoiceStatus
from invoices.numbers import normalize_invoice_number
from matching.models import Discrepancy, MatchResult, MatchRun
from matching.services import matching_drain_tenant
from purchasing.models import GoodsReceipt, GoodsReceiptLine, PurchaseOrder, PurchaseOrderLine
from tenants.models import Tenant
from tenants.selectors import tenant_settings_get
from tenants.services import tenant_create
from vendors.models import Vendor
from vendors.names import normalize_vendor_name

BENCH_ACTOR = system_actor("bench_calibration")
LEVELS = (Decimal("0.8"), Decimal("0.9"), Decimal("0.95"))
BASE_DATE = dt.date(2026, 3, 2)
CURRENCY = "EUR"

# The share of each kind (module docstring); at least one of each.
SHARES = {
    "clean": 0.22,
    "reworded": 0.15,
    "inferred": 0.15,
    "price_error": 0.10,
    "near_miss_price": 0.06,
    "quantity_error": 0.08,
    "ambiguous_po": 0.10,
    "ambiguous_lines": 0.07,
    "duplicate": 0.07,
}
CLERK_APPROVES = frozenset({"clean", "reworded", "inferred", "ambiguous_po", "ambiguous_lines"})

# How a PO words an item, and how a vendor's invoice words the same item: 60–90 % similar by the
# engine's measure (lines.description_similarity), so not identical enough to count as the same words.
REWORDED = (
    ("Nitrile gloves size M, box of 100", "Box of 100 nitrile gloves (M)"),
    ("Duct tape 50 mm x 25 m, grey", "Grey duct tape 25m roll (50mm)"),
    ("Hex bolt M8 x 20, zinc plated", "Zinc plated hex bolts M8x20"),
    ("Cable tie 200 mm, black", "Black cable ties 200mm, pack"),
    ("Copy paper A4 80 g, 500 sheets", "A4 copy paper 80gsm ream (500)"),
    ("Hydraulic hose 1 m, DN15", "DN15 hydraulic hose, 1 metre"),
    ("Toner cartridge black, HP 410A", "HP 410A black toner"),
    ("Safety glasses, clear lens", "Clear safety spectacles"),
    ("Pallet wrap film 500 mm", "Stretch film for pallets 500mm"),
    ("Filter cartridge 10 micron", "10um filter cartridge"),
    ("Proximity sensor M12 24 V", "Inductive prox sensor M12, 24VDC"),
)
# Two items a PO orders at one price and quantity, worded alike: price and quantity cannot tell them.
TWINS = (
    ("Nitrile gloves size M, box of 100", "Nitrile gloves size L, box of 100", "Box of 100 nitrile gloves"),
    ("Cable tie 200 mm, black", "Cable tie 200 mm, white", "Cable ties 200mm"),
)

FALSE_APPROVALS = "{count} false auto-approvals: the engine approved invoices a clerk would not have."


@dataclass(frozen=True)
class Item:
    sku: str
    po_text: str
    invoice_text: str
    quantity: Decimal
    price: Decimal


@dataclass
class Case:
    """One invoice of the replay and its ground truth."""

    kind: str
    invoice: Invoice
    right_po: PurchaseOrder
    right_lines: dict[int, PurchaseOrderLine]  # by invoice line number


@dataclass
class _Rows:
    vendors: list[Vendor] = field(default_factory=list)
    purchase_orders: list[PurchaseOrder] = field(default_factory=list)
    po_lines: list[PurchaseOrderLine] = field(default_factory=list)
    receipts: list[GoodsReceipt] = field(default_factory=list)
    receipt_lines: list[GoodsReceiptLine] = field(default_factory=list)
    invoices: list[Invoice] = field(default_factory=list)
    invoice_lines: list[InvoiceLine] = field(default_factory=list)

    def insert(self) -> None:
        for model, rows in (
            (Vendor, self.vendors),
            (PurchaseOrder, self.purchase_orders),
            (PurchaseOrderLine, self.po_lines),
            (GoodsReceipt, self.receipts),
            (GoodsReceiptLine, self.receipt_lines),
            (Invoice, self.invoices),
            (InvoiceLine, self.invoice_lines),
        ):
            model.objects.bulk_create(rows, batch_size=1000)
            rows.clear()


def replay_kinds(count: int, rng: random.Random) -> list[str]:
    """The kind of each invoice: SHARES of `count`, at least one of each, shuffled; a clean one
    first, so that every duplicate has an original before it."""
    kinds = [kind for kind, share in SHARES.items() for _ in range(max(1, round(count * share)))]
    kinds = kinds[:count] if len(kinds) >= count else kinds + ["clean"] * (count - len(kinds))
    rng.shuffle(kinds)
    first = kinds.index("clean")
    kinds[0], kinds[first] = kinds[first], kinds[0]
    return kinds


class ReplayBuilder:
    """The replay's documents, one vendor per invoice, and their ground truth."""

    def __init__(self, *, tenant: Tenant, rng: random.Random) -> None:
        self.tenant = tenant
        self.rng = rng
        self.rows = _Rows()
        self.cases: list[Case] = []
        self.originals: list[tuple[Invoice, list[InvoiceLine], Case]] = []
        self.duplicates = 0

    def build(self, kinds: list[str]) -> list[Case]:
        with transaction.atomic():
            for number, kind in enumerate(kinds, start=1):
                if kind != "duplicate":
                    self._case(number, kind)
            self.rows.insert()
            # Re-sent after their originals arrived (the engine's duplicates look at arrival).
            for number, kind in enumerate(kinds, start=1):
                if kind == "duplicate":
                    self._duplicate(number)
            self.rows.insert()
        return self.cases

    def _items(self, kind: str, vendor_number: int) -> list[Item]:
        rng = self.rng
        count = rng.randint(2, 3)
        prices = rng.sample(range(2000, 15000), count)  # distinct prices: 20.00 … 149.99
        if kind in ("reworded", "near_miss_price"):
            texts = rng.sample(REWORDED, count)
        else:
            names = rng.sample([f"{n} {s}, {m}" for n in NOUNS for s in SPECS[:6] for m in MATERIALS[:3]], count)
            texts = [(name, name) for name in names]
        skus = kind in ("clean", "inferred", "price_error", "quantity_error", "ambiguous_po")
        items = [
            Item(
                f"V{vendor_number:04d}-{index}" if skus else "",
                po_text,
                invoice_text,
                Decimal(rng.randint(5, 20)),
                Decimal(price).scaleb(-2),
            )
            for index, ((po_text, invoice_text), price) in enumerate(zip(texts, prices, strict=True), start=1)
        ]
        if kind == "ambiguous_lines":
            first, second, said = rng.choice(TWINS)
            quantity, price = Decimal(rng.randint(5, 20)), Decimal(rng.randint(2000, 15000)).scaleb(-2)
            items[:2] = [Item("", first, said, quantity, price), Item("", second, said, quantity, price)]
        return items

    def _case(self, number: int, kind: str) -> None:
        rng, rows = self.rng, self.rows
        name = f"Calibration Vendor {number:04d} GmbH"
        vendor = Vendor(tenant=self.tenant, name=name, normalized_name=normalize_vendor_name(name),
                        tax_id=f"DE{500_000_000 + number:09d}", default_currency=CURRENCY)  # fmt: skip
        rows.vendors.append(vendor)
        items = self._items(kind, number)
        right_po, right_lines = self._purchase_order(vendor, f"PO-{number:05d}", items)
        if kind == "inferred":  # another open PO of the vendor sharing one item, in another quantity
            first = items[0]
            self._purchase_order(vendor, f"PO-{number:05d}-B", [Item(first.sku, first.po_text, first.invoice_text,
                                                                      first.quantity + 7, first.price)])  # fmt: skip
        if kind == "ambiguous_po":
            twin, twin_lines = self._purchase_order(vendor, f"PO-{number:05d}-T", items)
            if rng.random() < 0.5:  # the vendor billed the other one: nothing on the invoice says which
                right_po, right_lines = twin, twin_lines
        faulty = rng.randrange(len(items))
        lines = []
        for index, item in enumerate(items):
            quantity, price = item.quantity, item.price
            if index == faulty and kind == "price_error":
                price = (price * (1 + Decimal(rng.randint(3, 15)) / 100)).quantize(Decimal("0.01"))
            if index == faulty and kind == "near_miss_price":
                price = price + (price * Decimal("0.02")).quantize(Decimal("0.01")) + Decimal("0.01")
            if index == faulty and kind == "quantity_error":
                quantity += rng.randint(1, 5)
            lines.append((index + 1, item, quantity, price))
        invoice = Invoice(
            tenant=self.tenant,
            vendor=vendor,
            invoice_number=f"CAL-{number:05d}",
            po_number="" if kind in ("inferred", "ambiguous_po") else right_po.po_number,
            currency=CURRENCY,
            invoice_date=BASE_DATE + dt.timedelta(days=rng.randint(0, 20)),
            status=InvoiceStatus.RECEIVED,
        )
        invoice.invoice_number_normalized = normalize_invoice_number(invoice.invoice_number)
        invoice.due_date = invoice.invoice_date + dt.timedelta(days=30)
        invoice_lines = [
            InvoiceLine(
                tenant=self.tenant,
                invoice=invoice,
                line_number=line_number,
                sku=item.sku,
                description=item.invoice_text,
                quantity=quantity,
                unit_price=price,
                amount=round_to_minor(quantity * price, CURRENCY),
            )
            for line_number, item, quantity, price in lines
        ]
        invoice.subtotal_amount = invoice.total_amount = sum(line.amount for line in invoice_lines)
        rows.invoices.append(invoice)
        rows.invoice_lines += invoice_lines
        case = Case(kind, invoice, right_po, {n: right_lines[n - 1] for n, *_ in lines})
        self.cases.append(case)
        if kind == "clean":
            self.originals.append((invoice, invoice_lines, case))

    def _purchase_order(
        self, vendor: Vendor, po_number: str, items: list[Item]
    ) -> tuple[PurchaseOrder, list[PurchaseOrderLine]]:
        rows = self.rows
        purchase_order = PurchaseOrder(tenant=self.tenant, po_number=po_number, vendor=vendor, currency=CURRENCY,
                                       order_date=BASE_DATE - dt.timedelta(days=30))  # fmt: skip
        po_lines = [
            PurchaseOrderLine(tenant=self.tenant, purchase_order=purchase_order, line_number=n, sku=item.sku,
                              description=item.po_text, quantity=item.quantity, unit_price=item.price)
            for n, item in enumerate(items, start=1)
        ]  # fmt: skip
        receipt = GoodsReceipt(tenant=self.tenant, receipt_number=f"GR-{po_number}", purchase_order=purchase_order,
                               received_date=BASE_DATE - dt.timedelta(days=10))  # fmt: skip
        rows.purchase_orders.append(purchase_order)
        rows.po_lines += po_lines
        rows.receipts.append(receipt)
        rows.receipt_lines += [
            GoodsReceiptLine(
                tenant=self.tenant, goods_receipt=receipt, purchase_order_line=line, quantity=line.quantity
            )
            for line in po_lines
        ]
        return purchase_order, po_lines

    def _duplicate(self, number: int) -> None:
        original, original_lines, original_case = self.rng.choice(self.originals)
        copy, lines = duplicate_rows(
            original=original, original_lines=original_lines, invoice_date=original.invoice_date + dt.timedelta(days=2)
        )
        self.rows.invoices.append(copy)
        self.rows.invoice_lines += lines
        self.cases.append(Case("duplicate", copy, original_case.right_po, dict(original_case.right_lines)))


@dataclass(frozen=True)
class Outcome:
    kind: str
    status: str
    confidence: Decimal
    discrepancies: int
    clerk_agrees: bool  # a clerk would approve the invoice as the engine matched it


def outcomes_of(tenant: Tenant, cases: list[Case]) -> list[Outcome]:
    """What the engine decided for each case, read back from the database, against its truth."""
    invoices = {
        row["id"]: row
        for row in Invoice.objects.for_tenant(tenant).values("id", "status", "purchase_order_id", "latest_match_id")
    }
    confidences = dict(MatchResult.objects.for_tenant(tenant).values_list("id", "confidence"))
    found = Counter(Discrepancy.objects.for_tenant(tenant).values_list("match_result_id", flat=True))
    matched: dict[Any, dict[int, Any]] = {}
    for invoice_id, line_number, po_line_id in InvoiceLine.objects.for_tenant(tenant).values_list(
        "invoice_id", "line_number", "matched_po_line_id"
    ):
        matched.setdefault(invoice_id, {})[line_number] = po_line_id
    outcomes = []
    for case in cases:
        row = invoices[case.invoice.pk]
        right = row["purchase_order_id"] == case.right_po.pk and matched.get(case.invoice.pk, {}) == {
            n: line.pk for n, line in case.right_lines.items()
        }
        confidence = confidences.get(row["latest_match_id"], Decimal(0))
        outcomes.append(
            Outcome(
                case.kind,
                row["status"],
                confidence,
                found[row["latest_match_id"]],
                case.kind in CLERK_APPROVES and right,
            )
        )
    return outcomes


def calibration_lines(outcomes: list[Outcome]) -> list[str]:
    """The report's figures (the test reads them): per level, per kind, and false auto-approvals."""
    lines = []
    for level in LEVELS:
        above = [outcome for outcome in outcomes if outcome.confidence >= level]
        agree = sum(outcome.clerk_agrees for outcome in above)
        share = f"{100 * agree / len(above):.1f} %" if above else "n/a"
        clean = [outcome for outcome in above if not outcome.discrepancies]
        clean_agree = sum(outcome.clerk_agrees for outcome in clean)
        clean_share = f"{100 * clean_agree / len(clean):.1f} %" if clean else "n/a"
        lines.append(
            f"confidence ≥ {level}: {len(above)} invoices, a clerk would also approve {agree} ({share}); "
            f"of them without a discrepancy {len(clean)}, a clerk would approve {clean_agree} ({clean_share})"
        )
    for kind in SHARES:
        of_kind = [outcome for outcome in outcomes if outcome.kind == kind]
        decisions = Counter(outcome.status for outcome in of_kind)
        lines.append(
            f"  {kind:<16} {len(of_kind):>4}: "
            + ", ".join(f"{status} {count}" for status, count in sorted(decisions.items()))
        )
    approved = [outcome for outcome in outcomes if outcome.status == InvoiceStatus.APPROVED]
    false_approvals = sum(not outcome.clerk_agrees for outcome in approved)
    lines.append(f"Auto-approved: {len(approved)} of {len(outcomes)}; false auto-approvals: {false_approvals}")
    return lines


class Command(BaseCommand):
    help = "Calibration of the matching confidence on a held-out replay (see the module docstring: scratch database)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--invoices", type=int, default=300, help="Invoices in the replay (default 300).")
        parser.add_argument("--seed", type=int, default=7, help="Seed of the replay's generator (default 7).")
        parser.add_argument("--keep", action="store_true", help="Leave the bench tenant active afterwards.")

    def handle(self, *args: Any, **options: Any) -> None:
        count = options["invoices"]
        if count < len(SHARES):
            raise CommandError(f"--invoices must be at least {len(SHARES)}, one of each kind.")
        self.stdout.write(database_describe())
        slug = f"bench-{timezone.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
        tenant, _ = tenant_create(name=f"Calibration bench {slug[6:]}", slug=slug, actor=BENCH_ACTOR)
        rng = random.Random(options["seed"])  # noqa: S311 (a reproducible replay, not a secret)
        cases = ReplayBuilder(tenant=tenant, rng=rng).build(replay_kinds(count, rng))
        fixture_tables_analyze(models=FIXTURE_MODELS)
        kinds = Counter(case.kind for case in cases)
        self.stdout.write(f"Tenant: {tenant.slug}")
        self.stdout.write(f"Replay: {len(cases)} invoices, seed {options['seed']}: "
                          + ", ".join(f"{kind} {kinds[kind]}" for kind in SHARES))  # fmt: skip
        limit = tenant_settings_get(tenant=tenant).max_invoices_per_run
        matching_drain_tenant(
            tenant=tenant, trigger=MatchRun.Trigger.COMMAND, actor=BENCH_ACTOR, max_batches=len(cases) // limit + 2
        )
        outcomes = outcomes_of(tenant, cases)
        for line in calibration_lines(outcomes):
            self.stdout.write(line)
        if not options["keep"]:
            bench_tenant_deactivate(tenant=tenant, actor=BENCH_ACTOR)
        left = sum(outcome.status == InvoiceStatus.RECEIVED for outcome in outcomes)
        if left:
            raise CommandError(f"{left} invoices are still in `received`.", returncode=1)
        false_approvals = sum(o.status == InvoiceStatus.APPROVED and not o.clerk_agrees for o in outcomes)
        if false_approvals:
            raise CommandError(FALSE_APPROVALS.format(count=false_approvals), returncode=1)
