"""The bench tenant's documents, shared by `manage.py bench_matching`, `manage.py load_test`,
`manage.py bench_search` and `manage.py bench_invoice_list`.

`FixtureBuilder` builds the vendors, POs, goods receipts and invoices of one tenant from one
seeded generator. `build` stores them all (`bench_matching` then matches the invoices);
`build_for_ingestion` stores all but the invoices, which it returns unsaved, with their lines, for
a caller that sends them through ingestion (`load_test` POSTs them to the API).

The documents go in with `bulk_create` on the models, in chunks, not through the ingestion
services (which validate, resolve and audit one document at a time). Hence no creation audit
events: the tenant's chain holds its own creation, then the matching runs' transitions. The
invoices are exactly what ingestion would store (normalized numbers and vendor names, minor
units, amounts = quantity × price rounded half up), in status `received`.

The mix, drawn from `random.Random(--seed)`, so the same arguments build the same documents
(ids and timestamps aside). Each fault is a few percent; at least one of each as soon as there
are 20 invoices, so a small run still exercises every path; the rest are clean:

| share | kind                 | how it is built                                       | expected decision         |
|-------|----------------------|-------------------------------------------------------|---------------------------|
| 76 %  | clean                | bills its PO exactly, fully received                  | approved                  |
| 4 %   | price over tolerance | one line 3–15 % above the PO price (tolerance 2 %)    | review (escalated > 10 %) |
| 3 %   | over-billed quantity | one line bills 10–50 % more than ordered              | review, escalated         |
| 4 %   | partial receipt      | 1–3 lines received about half of what was ordered     | review, standard          |
| 3 %   | no receipt           | nothing received on the PO                            | on hold                   |
| 3 %   | missing PO           | names no PO; the engine infers it from the vendor's   | approved when the only    |
|       |                      | open POs                                              | PO all lines agree with;  |
|       |                      |                                                       | else review (0.94)        |
| 2 %   | unknown vendor       | a company name no vendor or alias matches             | review, escalated         |
| 2 %   | duplicate number     | an earlier clean invoice re-sent, number re-spelled   | rejected                  |
| 3 %   | total mismatch       | header total 1.00–500.00 above lines + tax + shipping | review, escalated         |

A faulty invoice of 10,000.00 or more is escalated whatever its fault (DESIGN.md §5, rule 4);
a few are. The report prints what the engine decided, not this table.

Within "clean", the variations ingestion really sees: 15 % of invoices without SKUs (lines
assigned by description), 30 % with PO line-number hints, 10 % naming the vendor by tax id and
5 % by a spelling of its name instead of by id, 10 % without tax and 20 % with shipping; 10 % of
POs were delivered in two receipts. Every invoice of a non-duplicate kind has its own PO (L
lines from its vendor's catalogue of max(30, 3L) items) in one of EUR, USD or GBP, so a clean
invoice's PO line is billed once; vendors are drawn uniformly.

`bench_tenant_build` is the whole set-up of the read benches (search, invoice list): a fresh
tenant, its documents of one line each, matched to completion when the bench reads what matching
decides (statuses, queues, discrepancies), then vacuumed and analyzed as autovacuum would.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from core.actors import Actor
from core.money import exponent, round_to_minor
from invoices.models import Invoice, InvoiceLine, InvoiceStatus
from invoices.numbers import normalize_invoice_number
from matching.models import Discrepancy, MatchResult, MatchRun
from matching.services import matching_drain_tenant
from purchasing.models import GoodsReceipt, GoodsReceiptLine, PurchaseOrder, PurchaseOrderLine
from tenants.management.commands.migrate import connected_as_owner
from tenants.models import Tenant
from tenants.selectors import tenant_settings_get
from tenants.services import tenant_create
from vendors.models import Vendor, VendorAlias
from vendors.names import normalize_vendor_name

# A fixed calendar, so the same seed gives the same documents whatever the day.
BASE_DATE = dt.date(2026, 1, 15)
CHUNK = 1000  # invoices per fixture transaction: bounded memory whatever N
INSERT_BATCH = 2000  # rows per INSERT statement
# The tables the builder fills, which a bench analyzes before it measures (benchmarks.scratch).
FIXTURE_MODELS = (
    Vendor,
    VendorAlias,
    PurchaseOrder,
    PurchaseOrderLine,
    GoodsReceipt,
    GoodsReceiptLine,
    Invoice,
    InvoiceLine,
)
# What matching adds, vacuumed with the documents when a bench tenant is matched.
MATCHING_MODELS = (MatchRun, MatchResult, Discrepancy)
MIN_INVOICES_FOR_EVERY_FAULT = 20
PROGRESS_EVERY = 20_000  # invoices between two progress lines of a bench tenant's build

CLEAN = "clean"
PRICE_OVER_TOLERANCE = "price_over_tolerance"
QUANTITY_OVER_PO = "over_billed_quantity"
PARTIAL_RECEIPT = "partial_receipt"
NO_RECEIPT = "no_receipt"
MISSING_PO = "missing_po"
UNKNOWN_VENDOR = "unknown_vendor"
DUPLICATE_NUMBER = "duplicate_number"
TOTAL_MISMATCH = "total_mismatch"
FAULT_SHARES = {
    PRICE_OVER_TOLERANCE: 0.04,
    QUANTITY_OVER_PO: 0.03,
    PARTIAL_RECEIPT: 0.04,
    NO_RECEIPT: 0.03,
    MISSING_PO: 0.03,
    UNKNOWN_VENDOR: 0.02,
    DUPLICATE_NUMBER: 0.02,
    TOTAL_MISMATCH: 0.03,
}
CURRENCIES = ("EUR", "EUR", "EUR", "EUR", "EUR", "EUR", "EUR", "USD", "USD", "GBP")
TAX_RATES = (Decimal("19.000"), Decimal("20.000"), Decimal("7.000"), Decimal("21.000"))

VENDOR_FIRST = (
    "Acme", "Nordic", "Kanto", "Gulf", "Brightline", "Atlas", "Borealis", "Cobalt", "Danube", "Elbe",
    "Fjord", "Granite", "Harbor", "Iberia", "Juniper", "Keystone", "Lakeside", "Meridian", "Northgate",
    "Orion", "Pioneer", "Riverside", "Summit", "Tundra", "Westfield",
)  # fmt: skip
VENDOR_SECOND = (
    "Industrial Supplies", "Fasteners", "Precision", "Hydraulics", "Office Supplies", "Electrics",
    "Packaging", "Bearings", "Chemicals", "Tooling",
)  # fmt: skip
LEGAL_FORMS = ("Ltd", "GmbH", "AB", "Inc", "SA", "BV", "KK", "LLC")
# Names that share no word with any vendor's, so the engine's fuzzy resolver cannot take them.
UNKNOWN_NAMES = (
    "Quillfeather Consulting", "Zephyr Catering", "Marlowe Events", "Obsidian Media", "Vantage Travel",
    "Yellowtail Print Shop", "Wexford Cleaning Services", "Xanadu Florists",
)  # fmt: skip
NOUNS = (
    "Hex bolt", "Socket screw", "Washer", "Ball bearing", "Hydraulic hose", "Safety gloves", "Cable tie",
    "Copper cable", "Toner cartridge", "Copy paper", "Servo motor", "Encoder", "Lithium grease", "Drill bit",
    "Saw blade", "Filter cartridge", "Gasket", "O-ring", "Ball valve", "Pump seal", "Fuse", "Relay",
    "Contactor", "Proximity sensor", "Label roll", "Pallet wrap", "Carton box", "Hose clamp", "Spring pin",
    "Threaded rod",
)  # fmt: skip
SPECS = ("M4", "M6", "M8", "M10", "M12", "6204-2RS", "1 m", "5 m", "size L", "A4", "400 W", "17-bit", "1 kg",
         "10 mm", "25 mm", "DN15", "DN25", "24 V")  # fmt: skip
MATERIALS = ("zinc plated", "stainless", "nitrile", "steel", "brass", "PTFE", "nylon", "aluminium")


@dataclass(frozen=True)
class CatalogItem:
    sku: str
    description: str
    unit_price: Decimal  # the vendor's list price
    price_decade: int  # 1 (cents) … 5 (hundreds): cheap items are bought by the hundred


@dataclass(frozen=True)
class BenchVendor:
    vendor: Vendor
    currency: str
    catalog: tuple[CatalogItem, ...]
    prefix: str  # of its invoice numbers: letters, so normalization keeps it apart from the digits


@dataclass(frozen=True)
class UnsavedInvoice:
    """A fixture invoice that was not inserted: what a source would send to ingestion."""

    invoice: Invoice
    lines: list[InvoiceLine]


@dataclass
class _Rows:
    """One chunk's rows, inserted parent first."""

    purchase_orders: list[PurchaseOrder]
    purchase_order_lines: list[PurchaseOrderLine]
    receipts: list[GoodsReceipt]
    receipt_lines: list[GoodsReceiptLine]
    invoices: list[Invoice]
    invoice_lines: list[InvoiceLine]

    def insert(self) -> None:
        for model, rows in (
            (PurchaseOrder, self.purchase_orders),
            (PurchaseOrderLine, self.purchase_order_lines),
            (GoodsReceipt, self.receipts),
            (GoodsReceiptLine, self.receipt_lines),
            (Invoice, self.invoices),
            (InvoiceLine, self.invoice_lines),
        ):
            model.objects.bulk_create(rows, batch_size=INSERT_BATCH)


def fault_kinds(count: int, rng: random.Random) -> list[str]:
    """The kind of each invoice, in creation order: the shares of the module docstring, shuffled.

    The first invoice is clean, so every re-sent duplicate has an earlier original to copy.
    """
    every_fault = count >= MIN_INVOICES_FOR_EVERY_FAULT
    kinds: list[str] = []
    for kind, share in FAULT_SHARES.items():
        kinds += [kind] * (max(1, round(count * share)) if every_fault else round(count * share))
    kinds = kinds[: max(0, count - 1)]
    kinds += [CLEAN] * (count - len(kinds))
    rng.shuffle(kinds)
    first_clean = kinds.index(CLEAN)
    kinds[0], kinds[first_clean] = kinds[first_clean], kinds[0]
    return kinds


def _list_price(rng: random.Random, decade: int) -> Decimal:
    """A unit price in one of five decades, 0.010 to 999.99: washers to servo motors.

    Cents from 1.00 up; three decimals below (0.125 per bolt), as POs really state them.
    """
    thousandths = Decimal(rng.randint(10**decade, 10 ** (decade + 1) - 1)).scaleb(-3)
    return thousandths if thousandths < 1 else thousandths.quantize(Decimal("0.01"), ROUND_HALF_UP)


def _quantity(rng: random.Random, price_decade: int) -> Decimal:
    """Hundreds of washers, a few motors: a line is typically worth tens to a few thousand, so an
    invoice of ten lines is a few thousand, and now and then above the escalation threshold.
    One line in ten is by weight or length (2.5 kg)."""
    low, high = {1: (100, 999), 2: (20, 500), 3: (5, 60), 4: (1, 12), 5: (1, 4)}[price_decade]
    whole = rng.randint(low, high)
    if rng.random() < 0.1:
        return Decimal(whole * 10 + rng.randint(0, 9)).scaleb(-1)
    return Decimal(whole)


class FixtureBuilder:
    """Builds the bench tenant's documents, chunk by chunk, from one seeded generator."""

    def __init__(self, *, tenant: Tenant, rng: random.Random, vendor_count: int, lines: int) -> None:
        self.tenant = tenant
        self.rng = rng
        self.lines = lines
        self.vendor_count = vendor_count
        self.vendors: list[BenchVendor] = []
        # Recent clean invoices, the originals a duplicate re-sends (vendors re-send recent ones).
        self.recent_clean: deque[tuple[Invoice, list[InvoiceLine]]] = deque(maxlen=64)
        self.purchase_orders = 0
        self.receipts = 0

    def build(self, count: int, *, progress: Callable[[int], None]) -> Counter[str]:
        return self._build(count, progress=progress, unsaved=None)

    def build_for_ingestion(
        self, count: int, *, progress: Callable[[int], None]
    ) -> tuple[Counter[str], list[UnsavedInvoice]]:
        """The same tenant and mix, but the invoices are returned unsaved (with their lines), in
        creation order, for a caller that sends them through ingestion (`manage.py load_test`
        POSTs them to the API); vendors, POs and goods receipts are stored as by `build`."""
        unsaved: list[UnsavedInvoice] = []
        return self._build(count, progress=progress, unsaved=unsaved), unsaved

    def _build(
        self, count: int, *, progress: Callable[[int], None], unsaved: list[UnsavedInvoice] | None
    ) -> Counter[str]:
        kinds = fault_kinds(count, self.rng)
        with transaction.atomic():
            self._vendors()
        for start in range(0, count, CHUNK):
            rows = _Rows([], [], [], [], [], [])
            for number in range(start, min(count, start + CHUNK)):
                self._invoice(number + 1, kinds[number], rows)
            if unsaved is not None:
                lines_of: dict[int, list[InvoiceLine]] = {id(invoice): [] for invoice in rows.invoices}
                for line in rows.invoice_lines:
                    lines_of[id(line.invoice)].append(line)
                unsaved += [UnsavedInvoice(invoice, lines_of[id(invoice)]) for invoice in rows.invoices]
                rows.invoices, rows.invoice_lines = [], []
            with transaction.atomic():
                rows.insert()
            progress(min(count, start + CHUNK))
        return Counter(kinds)

    def _vendors(self) -> None:
        rng = self.rng
        names = [f"{first} {second}" for first in VENDOR_FIRST for second in VENDOR_SECOND]
        rng.shuffle(names)
        if self.vendor_count > len(names):
            names += [f"{name} {n}" for n in range(2, self.vendor_count // len(names) + 2) for name in names]
        aliases = []
        for index, base_name in enumerate(names[: self.vendor_count]):
            name = f"{base_name} {rng.choice(LEGAL_FORMS)}"
            vendor = Vendor(
                tenant=self.tenant,
                name=name,
                normalized_name=normalize_vendor_name(name),
                tax_id=f"DE{300_000_000 + index:09d}",
                default_currency=rng.choice(CURRENCIES),
            )
            if rng.random() < 0.3:
                alias = f"{base_name.upper()} TRADING"
                aliases.append(
                    VendorAlias(
                        tenant=self.tenant, vendor=vendor, alias=alias, normalized_alias=normalize_vendor_name(alias)
                    )
                )
            prefix = "".join(word[0] for word in base_name.split() if word[0].isalpha()).upper()
            self.vendors.append(BenchVendor(vendor, vendor.default_currency, self._catalog(index), prefix))
        Vendor.objects.bulk_create([bench_vendor.vendor for bench_vendor in self.vendors], batch_size=INSERT_BATCH)
        VendorAlias.objects.bulk_create(aliases, batch_size=INSERT_BATCH)

    def _catalog(self, vendor_index: int) -> tuple[CatalogItem, ...]:
        size = max(30, 3 * self.lines)
        descriptions: list[str] = []
        seen: set[str] = set()
        while len(descriptions) < size:
            description = f"{self.rng.choice(NOUNS)} {self.rng.choice(SPECS)}, {self.rng.choice(MATERIALS)}"
            if description not in seen:
                seen.add(description)
                descriptions.append(description)
        return tuple(
            CatalogItem(f"V{vendor_index + 1:03d}-{item + 1:04d}", description, _list_price(self.rng, decade), decade)
            for item, description in enumerate(descriptions)
            for decade in [self.rng.randint(1, 5)]
        )

    def _invoice(self, number: int, kind: str, rows: _Rows) -> None:
        if kind == DUPLICATE_NUMBER:
            self._duplicate(rows)
            return
        rng = self.rng
        bench_vendor = rng.choice(self.vendors)
        vendor, currency = bench_vendor.vendor, bench_vendor.currency
        order_date = BASE_DATE - dt.timedelta(days=rng.randint(20, 90))
        purchase_order = PurchaseOrder(
            tenant=self.tenant,
            po_number=f"PO-{number:07d}",
            vendor=vendor,
            currency=currency,
            order_date=order_date,
        )
        rows.purchase_orders.append(purchase_order)
        self.purchase_orders += 1
        po_lines = [
            PurchaseOrderLine(
                tenant=self.tenant,
                purchase_order=purchase_order,
                line_number=line_number,
                sku=item.sku,
                description=item.description,
                quantity=_quantity(rng, item.price_decade),
                unit_price=item.unit_price,
            )
            for line_number, item in enumerate(rng.sample(bench_vendor.catalog, self.lines), start=1)
        ]
        rows.purchase_order_lines += po_lines
        self._receive(number, kind, purchase_order, po_lines, order_date, rows)

        with_skus = rng.random() >= 0.15
        hinted = kind != MISSING_PO and rng.random() < 0.3
        invoice = Invoice(
            tenant=self.tenant,
            vendor=vendor,
            invoice_number=f"{bench_vendor.prefix}-{number:07d}",
            po_number="" if kind == MISSING_PO else purchase_order.po_number,
            currency=currency,
            invoice_date=order_date + dt.timedelta(days=rng.randint(5, 20)),
            status=InvoiceStatus.RECEIVED,
        )
        invoice.invoice_number_normalized = normalize_invoice_number(invoice.invoice_number)
        invoice.due_date = invoice.invoice_date + dt.timedelta(days=30)
        way = rng.random()
        if kind == UNKNOWN_VENDOR:
            invoice.vendor, invoice.vendor_name_raw = None, f"{rng.choice(UNKNOWN_NAMES)} {rng.choice(LEGAL_FORMS)}"
        elif way < 0.10:
            invoice.vendor, invoice.vendor_tax_id_raw = None, f"{vendor.tax_id[:2]} {vendor.tax_id[2:]}"
        elif way < 0.15:
            invoice.vendor, invoice.vendor_name_raw = None, vendor.name.upper() + "."

        faulty_line = rng.randrange(self.lines)
        lines = []
        for index, po_line in enumerate(po_lines):
            quantity, unit_price = po_line.quantity, po_line.unit_price
            if index == faulty_line and kind == PRICE_OVER_TOLERANCE:
                raised = unit_price * (1 + Decimal(rng.randint(3, 15)) / 100)
                unit_price = raised.quantize(Decimal("0.001") if unit_price < 1 else Decimal("0.01"), ROUND_HALF_UP)
            if index == faulty_line and kind == QUANTITY_OVER_PO:
                quantity = (quantity * (1 + Decimal(rng.randint(10, 50)) / 100)).quantize(Decimal(1), ROUND_HALF_UP)
                quantity = max(quantity, po_line.quantity + 1)
            lines.append(
                InvoiceLine(
                    tenant=self.tenant,
                    invoice=invoice,
                    line_number=po_line.line_number,
                    sku=po_line.sku if with_skus else "",
                    description=po_line.description,
                    quantity=quantity,
                    unit_price=unit_price,
                    amount=round_to_minor(quantity * unit_price, currency),
                    po_line_number=po_line.line_number if hinted else None,
                )
            )
        self._totals(invoice, lines, total_off=kind == TOTAL_MISMATCH)
        rows.invoices.append(invoice)
        rows.invoice_lines += lines
        if kind == CLEAN:
            self.recent_clean.append((invoice, lines))

    def _receive(
        self,
        number: int,
        kind: str,
        purchase_order: PurchaseOrder,
        po_lines: list[PurchaseOrderLine],
        order_date: dt.date,
        rows: _Rows,
    ) -> None:
        """Goods receipts for the PO: all of it (in one or two deliveries), part of it, or none."""
        rng = self.rng
        if kind == NO_RECEIPT:
            return
        received = {po_line.line_number: po_line.quantity for po_line in po_lines}
        if kind == PARTIAL_RECEIPT:
            for line_number in rng.sample(sorted(received), min(len(received), rng.randint(1, 3))):
                received[line_number] = (received[line_number] / 2).quantize(Decimal(1), ROUND_HALF_UP)
        deliveries: list[dict[int, Decimal]] = [received]
        if kind != PARTIAL_RECEIPT and rng.random() < 0.1:
            first = {n: (q / 2).quantize(Decimal(1), ROUND_HALF_UP) for n, q in received.items()}
            deliveries = [first, {n: q - first[n] for n, q in received.items()}]
        for index, delivery in enumerate(deliveries, start=1):
            receipt = GoodsReceipt(
                tenant=self.tenant,
                receipt_number=f"GR-{number:07d}-{index}",
                purchase_order=purchase_order,
                received_date=order_date + dt.timedelta(days=rng.randint(2, 10) * index),
            )
            receipt_lines = [
                GoodsReceiptLine(
                    tenant=self.tenant, goods_receipt=receipt, purchase_order_line=po_line, quantity=quantity
                )
                for po_line in po_lines
                if (quantity := delivery[po_line.line_number]) > 0
            ]
            if receipt_lines:
                rows.receipts.append(receipt)
                rows.receipt_lines += receipt_lines
                self.receipts += 1

    def _totals(self, invoice: Invoice, lines: list[InvoiceLine], *, total_off: bool) -> None:
        """Subtotal, tax (as the engine recomputes it: half up on minor units), shipping, total."""
        rng = self.rng
        minor = 10 ** exponent(invoice.currency)
        subtotal = sum(line.amount for line in lines)
        invoice.subtotal_amount = subtotal
        invoice.shipping_amount = rng.randint(5, 50) * minor if rng.random() < 0.2 else 0
        if rng.random() < 0.1:
            invoice.tax_rate, invoice.tax_amount = None, 0  # reverse charge: no tax on the invoice
        else:
            invoice.tax_rate = rng.choice(TAX_RATES)
            invoice.tax_amount = int((Decimal(subtotal) * invoice.tax_rate / 100).quantize(Decimal(1), ROUND_HALF_UP))
        invoice.total_amount = subtotal + invoice.tax_amount + invoice.shipping_amount
        if total_off:
            invoice.total_amount += rng.randint(100, 50_000) * minor // 100

    def _duplicate(self, rows: _Rows) -> None:
        """An earlier clean invoice again: same vendor, PO, lines and totals; number re-spelled."""
        rng = self.rng
        original, original_lines = rng.choice(self.recent_clean)
        copy, lines = duplicate_rows(
            original=original,
            original_lines=original_lines,
            invoice_date=original.invoice_date + dt.timedelta(days=rng.randint(1, 5)),
        )
        rows.invoices.append(copy)
        rows.invoice_lines += lines


def duplicate_rows(
    *, original: Invoice, original_lines: list[InvoiceLine], invoice_date: dt.date
) -> tuple[Invoice, list[InvoiceLine]]:
    """An earlier invoice sent again, as unsaved rows: same vendor, PO, lines and totals, dated
    `invoice_date`, its number re-spelled ("AIS-0000042" → "ais 0000042": the same after
    normalization, as a re-keyed copy would be). The matching bench's and the calibration's."""
    copy = Invoice(
        tenant_id=original.tenant_id,
        vendor_id=original.vendor_id,
        vendor_name_raw=original.vendor_name_raw,
        vendor_tax_id_raw=original.vendor_tax_id_raw,
        invoice_number=original.invoice_number.replace("-", " ").lower(),
        po_number=original.po_number,
        currency=original.currency,
        invoice_date=invoice_date,
        due_date=original.due_date,
        subtotal_amount=original.subtotal_amount,
        tax_amount=original.tax_amount,
        shipping_amount=original.shipping_amount,
        total_amount=original.total_amount,
        tax_rate=original.tax_rate,
        status=InvoiceStatus.RECEIVED,
    )
    copy.invoice_number_normalized = normalize_invoice_number(copy.invoice_number)
    lines = [
        InvoiceLine(
            tenant_id=original.tenant_id,
            invoice=copy,
            line_number=line.line_number,
            sku=line.sku,
            description=line.description,
            quantity=line.quantity,
            unit_price=line.unit_price,
            amount=line.amount,
            po_line_number=line.po_line_number,
        )
        for line in original_lines
    ]
    return copy, lines


@dataclass(frozen=True)
class BenchTenant:
    """A read bench's tenant, built by `bench_tenant_build`."""

    tenant: Tenant
    kinds: Counter[str]
    purchase_orders: int
    seconds: float  # building, matching, vacuuming and analyzing it (never part of a measure)


def bench_tenant_build(
    *,
    purpose: str,
    invoices: int,
    vendors: int,
    rng: random.Random,
    actor: Actor,
    write: Callable[[str], None],
    matched: bool = False,
) -> BenchTenant:
    """A fresh tenant (slug `bench-<time>-<random>`, name "`purpose` bench …") with `invoices`
    invoices of one line (`FixtureBuilder`: a PO and its receipts each, `vendors` vendors), left in
    `received`, or, when `matched`, matched to completion through the real path
    (`matching_drain_tenant`), so that it holds what a clerk's list shows: approved, on hold,
    rejected and reviewed invoices and their discrepancies. Then its tables are vacuumed and
    analyzed (`fixture_tables_vacuum`). `write` gets a progress line every `PROGRESS_EVERY`
    invoices."""
    started = time.perf_counter()
    slug = f"bench-{timezone.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    tenant, _ = tenant_create(name=f"{purpose} bench {slug[6:]}", slug=slug, actor=actor)
    builder = FixtureBuilder(tenant=tenant, rng=rng, vendor_count=vendors, lines=1)

    def progress(done: int) -> None:
        if done % PROGRESS_EVERY == 0 and done < invoices:
            write(f"  … {done} invoices built ({time.perf_counter() - started:.0f} s)")

    kinds = builder.build(invoices, progress=progress)
    models: tuple[type[Model], ...] = FIXTURE_MODELS
    if matched:
        fixture_tables_vacuum(models=FIXTURE_MODELS)  # the batches' loads plan on real sizes
        limit = tenant_settings_get(tenant=tenant).max_invoices_per_run
        # One batch more than needed: the drain learns that nothing is left only from an empty one.
        matching_drain_tenant(
            tenant=tenant, trigger=MatchRun.Trigger.COMMAND, actor=actor, max_batches=invoices // limit + 2
        )
        write(f"  … {invoices} invoices matched ({time.perf_counter() - started:.0f} s)")
        models += MATCHING_MODELS
    fixture_tables_vacuum(models=models)
    return BenchTenant(tenant, kinds, builder.purchase_orders, time.perf_counter() - started)


def fixture_tables_vacuum(*, models: tuple[type[Model], ...] = FIXTURE_MODELS) -> None:
    """VACUUM (ANALYZE) the fixture's tables, as their owner where one is configured (only an owner
    may): autovacuum would within a minute of such a load, and index-only scans (the search's walks
    of the newest numbers, the list's page of ids) need the visibility map it writes."""
    with connected_as_owner("default"), connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"VACUUM (ANALYZE) {connection.ops.quote_name(model._meta.db_table)}")
