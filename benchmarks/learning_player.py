"""The learning replay's player (`manage.py bench_learning`): one play of the stream
(benchmarks.learning_stream) in a fresh tenant, through the real path only.

Each batch of invoices arrives as the door stores them (the vendor resolved exactly by the door's
own resolver, vendors.selectors.vendor_resolve_exact_many: by tax id, name or a learned alias; an
invoice it cannot place is kept with the name it gives and no vendor), each on a purchase order
of its own, ordered and received before. `matching_drain_tenant` matches them (loader with the
learned facts, engine, writer). Then a simulated clerk works the review queue by ground truth,
through the services a clerk's clicks call, in rounds until nothing of the batch is left in review:

- an invoice whose vendor the engine did not recognise: the clerk chooses the vendor
  (review.manual_choices.invoice_vendor_choose), which teaches the name it gives and sends it back
  to matching;
- a line paired with the wrong PO line: the clerk assigns it to the right one
  (`invoice_line_assign`), which teaches the item alias and sends the invoice back to matching;
- otherwise the clerk approves (review.decisions.invoice_review, which records the decision as an
  example and learns from it) an invoice whose vendor, PO and lines are the right ones and whose
  prices are the vendor's (`clean`, `reworded`, `surcharge`, `trading_name`, `bank_account`), and
  rejects anything else (every `price_error`).

After each round a simulated administrator decides what Recon proposes, through learning's
services. With learning, the administrator accepts each tolerance suggestion; without, every item
alias and every vendor name learned is forgotten and every suggestion declined, so nothing learned
ever reaches a match, with no switch added to the product: what a tenant whose administrator undoes
every learned fact would see. The vendors' bank accounts are on record in both (proposed by the
administrator, approved by the clerk: vendors.bank_accounts' four eyes): they are master data, not
something learned.

A person's choice asks for a matching run at commit, as it does in the product (a django-q2 task
on the configured broker); the player drains the tenant itself, and the queued task, if a cluster
ever takes it, finds nothing left to match.

What is counted, per month of arrival:
- touchless: approved by the engine on its first match, nobody having touched it, and right by
  the ground truth;
- false auto-approvals: approved by the engine (on any match, also after a person's choice) and
  wrong by the ground truth;
- exceptions: invoices that needed a person (a choice, an approval or a rejection), by kind.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from benchmarks.fixtures import FIXTURE_MODELS
from benchmarks.learning_stream import InvoiceSpec, Stream
from benchmarks.scratch import fixture_tables_analyze
from core.actors import Actor, system_actor
from core.bank_accounts import account_hash, encrypt_account, mask_account, normalize_account
from core.money import round_to_minor
from invoices.models import Invoice, InvoiceLine, InvoiceStatus
from invoices.numbers import normalize_invoice_number
from learning.models import ItemAlias, SuggestionStatus, ToleranceSuggestion
from learning.services import (
    item_alias_forget,
    tolerance_suggestion_accept,
    tolerance_suggestion_decline,
    vendor_alias_forget,
)
from matching.models import MatchRun
from matching.services import matching_drain_tenant
from purchasing.models import GoodsReceipt, GoodsReceiptLine, PurchaseOrder, PurchaseOrderLine
from review.decisions import invoice_review
from review.manual_choices import invoice_line_assign, invoice_vendor_choose
from tenants.models import Role
from tenants.selectors import tenant_settings_get
from tenants.services import membership_grant, tenant_create
from vendors.bank_accounts import vendor_bank_account_approve, vendor_bank_account_propose
from vendors.models import Vendor, VendorAlias, VendorAliasKind
from vendors.names import normalize_vendor_name
from vendors.selectors import vendor_resolve_exact_many

BENCH_ACTOR = system_actor("bench_learning")
BASE_DATE = dt.date(2026, 3, 2)
CURRENCY = "EUR"
# A clerk's corrections on one invoice: its vendor, then each of its (at most three) lines.
MAX_ROUNDS = 6
UNDECIDED = "{count} invoices were neither approved nor rejected after the clerk's rounds: {statuses}."
STILL_IN_REVIEW = "Invoices {numbers} were still in review after {rounds} rounds of the clerk's corrections."


@dataclass
class MonthFigures:
    invoices: int = 0
    touchless: int = 0
    false_approvals: int = 0
    exceptions: Counter[str] = field(default_factory=Counter)  # by kind

    def pct(self, count: int) -> float:
        return 100 * count / self.invoices if self.invoices else 0.0


@dataclass
class Played:
    """One play of the stream: per month what the engine settled alone, and what was learned."""

    months: dict[int, MonthFigures]
    actions: Counter[str] = field(default_factory=Counter)  # the clerk's, by action
    item_aliases: int = 0  # active at the end (with learning) or forgotten (without)
    vendor_names: int = 0  # the same for names learned from vendors chosen by hand
    suggestions_proposed: int = 0
    suggestions_accepted: int = 0

    @property
    def false_approvals(self) -> int:
        return sum(month.false_approvals for month in self.months.values())


@dataclass(frozen=True)
class Truth:
    spec: InvoiceSpec
    vendor_id: uuid.UUID
    purchase_order: PurchaseOrder
    po_lines: list[PurchaseOrderLine]  # invoice line n bills PO line n


class Player:
    """Plays the stream in one fresh tenant, batch by batch (module docstring)."""

    def __init__(self, *, stream: Stream, learning: bool) -> None:
        self.stream = stream
        self.learning = learning
        slug = f"bench-{timezone.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
        label = "with" if learning else "without"
        self.tenant, _ = tenant_create(name=f"Learning bench {label} {slug[6:]}", slug=slug, actor=BENCH_ACTOR)
        self.clerk = self._member("clerk", Role.APPROVER)
        self.admin = self._member("admin", Role.ADMIN)
        self.vendors: list[Vendor] = []
        self.truth: dict[uuid.UUID, Truth] = {}
        self.touched: set[uuid.UUID] = set()  # a person acted on it
        self.settled: set[uuid.UUID] = set()  # approved or rejected, and counted
        self.played = Played(months=defaultdict(MonthFigures))

    def _member(self, name: str, role: str) -> Actor:
        user, _ = get_user_model().objects.get_or_create(username=f"{self.tenant.slug}-{name}")
        membership_grant(tenant=self.tenant, user=user, actor=BENCH_ACTOR, role=role)
        return Actor(kind="user", id=str(user.pk), label=user.get_username())

    def play(self) -> Played:
        self._vendors_create()
        batches: dict[int, list[InvoiceSpec]] = defaultdict(list)
        for spec in self.stream.invoices:
            batches[spec.batch].append(spec)
        for batch, specs in sorted(batches.items()):
            self._arrive(specs)
            if batch == 0:
                fixture_tables_analyze(models=FIXTURE_MODELS)
            self._drain()
            self._review(specs)
            self.truth.clear()
        self._learned_count()
        return self.played

    def _vendors_create(self) -> None:
        tenant = self.tenant
        self.vendors = [
            Vendor(tenant=tenant, name=spec.name, normalized_name=normalize_vendor_name(spec.name),
                   tax_id=f"DE{600_000_000 + n:09d}", default_currency=CURRENCY)
            for n, spec in enumerate(self.stream.vendors, start=1)
        ]  # fmt: skip
        Vendor.objects.bulk_create(self.vendors)
        for vendor, spec in zip(self.vendors, self.stream.vendors, strict=True):
            if spec.iban:
                account = vendor_bank_account_propose(tenant=tenant, vendor=vendor, actor=self.admin,
                                                      role=Role.ADMIN, iban=spec.iban)  # fmt: skip
                vendor_bank_account_approve(tenant=tenant, account=account, actor=self.clerk, role=Role.APPROVER)

    def _arrive(self, specs: list[InvoiceSpec]) -> None:
        """The batch's invoices, each with its own purchase order, ordered and received before."""
        tenant = self.tenant
        vendor_specs = self.stream.vendors
        stated = {spec.number: self._stated(spec) for spec in specs}
        found = vendor_resolve_exact_many(tenant=tenant, references=[(None, tax_id, name) for tax_id, name in
                                                                     stated.values()])  # fmt: skip
        with transaction.atomic():
            for spec in specs:
                vendor = self.vendors[spec.vendor]
                arrived = BASE_DATE + dt.timedelta(days=spec.day)
                po = PurchaseOrder.objects.create(
                    tenant=tenant, po_number=f"PO-{spec.number:05d}", vendor=vendor, currency=CURRENCY,
                    order_date=arrived - dt.timedelta(days=20),
                )  # fmt: skip
                po_lines = PurchaseOrderLine.objects.bulk_create(
                    [
                        PurchaseOrderLine(tenant=tenant, purchase_order=po, line_number=n, sku=line.item.sku,
                                          description=line.item.po_text, quantity=line.quantity,
                                          unit_price=line.item.po_price)
                        for n, line in enumerate(spec.lines, start=1)
                    ]
                )  # fmt: skip
                receipt = GoodsReceipt.objects.create(
                    tenant=tenant, receipt_number=f"GR-{spec.number:05d}", purchase_order=po,
                    received_date=arrived - dt.timedelta(days=5),
                )  # fmt: skip
                GoodsReceiptLine.objects.bulk_create(
                    GoodsReceiptLine(tenant=tenant, goods_receipt=receipt, purchase_order_line=line,
                                     quantity=line.quantity)
                    for line in po_lines
                )  # fmt: skip
                tax_id, name = stated[spec.number]
                invoice = Invoice(tenant=tenant, vendor=found[(None, tax_id, name)], vendor_name_raw=name,
                                  vendor_tax_id_raw=tax_id, invoice_number=f"LRN-{spec.number:05d}",
                                  po_number=po.po_number, currency=CURRENCY, invoice_date=arrived,
                                  due_date=arrived + dt.timedelta(days=30), status=InvoiceStatus.RECEIVED)  # fmt: skip
                invoice.invoice_number_normalized = normalize_invoice_number(invoice.invoice_number)
                iban = vendor_specs[spec.vendor].iban if spec.kind == "bank_account" else ""
                if iban:
                    number = normalize_account(iban)
                    invoice.payee_account_encrypted = encrypt_account(number)
                    invoice.payee_account_hash = account_hash(number)
                    invoice.payee_account_mask = mask_account(number)
                lines = [
                    InvoiceLine(tenant=tenant, invoice=invoice, line_number=n, sku=line.item.sku,
                                description=line.item.invoice_text, quantity=line.quantity, unit_price=line.price,
                                amount=round_to_minor(line.quantity * line.price, CURRENCY))
                    for n, line in enumerate(spec.lines, start=1)
                ]  # fmt: skip
                invoice.subtotal_amount = invoice.total_amount = sum(line.amount for line in lines)
                invoice.save()
                InvoiceLine.objects.bulk_create(lines)
                self.truth[invoice.pk] = Truth(spec, vendor.pk, po, po_lines)
                self.played.months[spec.month].invoices += 1

    def _stated(self, spec: InvoiceSpec) -> tuple[str, str]:
        """(tax id, name) as the invoice states its vendor: the name and tax id on record, or for
        a second trading name or an unreadable scan only the name it gives."""
        if spec.vendor_name:
            return "", spec.vendor_name
        vendor = self.vendors[spec.vendor]
        return vendor.tax_id, vendor.name

    def _drain(self) -> None:
        tenant = self.tenant
        limit = tenant_settings_get(tenant=tenant).max_invoices_per_run
        matching_drain_tenant(tenant=tenant, trigger=MatchRun.Trigger.COMMAND, actor=BENCH_ACTOR,
                              max_batches=len(self.truth) // limit + 2)  # fmt: skip
        self._observe()

    def _batch_invoices(self) -> list[Invoice]:
        return list(Invoice.objects.for_tenant(self.tenant).filter(pk__in=list(self.truth)).order_by("invoice_number"))

    def _observe(self) -> None:
        """Count what the engine settled by itself since the last look (module docstring)."""
        for invoice in self._batch_invoices():
            if invoice.pk in self.settled or invoice.status not in (InvoiceStatus.APPROVED, InvoiceStatus.REJECTED):
                continue
            self.settled.add(invoice.pk)
            truth = self.truth[invoice.pk]
            month = self.played.months[truth.spec.month]
            if invoice.status == InvoiceStatus.REJECTED:
                if invoice.pk not in self.touched:  # the engine's own rejection: still someone's exception
                    month.exceptions[truth.spec.kind] += 1
            elif not self._right(invoice):
                month.false_approvals += 1
            elif invoice.pk not in self.touched:
                month.touchless += 1

    def _lines_matched(self, invoice: Invoice) -> list[tuple[uuid.UUID, int, uuid.UUID | None]]:
        return list(
            InvoiceLine.objects.for_tenant(self.tenant)
            .filter(invoice_id=invoice.pk)
            .order_by("line_number")
            .values_list("id", "line_number", "matched_po_line_id")
        )

    def _wrong_line(self, invoice: Invoice) -> tuple[uuid.UUID, uuid.UUID] | None:
        """The first line paired with a PO line other than the one it bills: (its id, the right PO line's)."""
        po_lines = self.truth[invoice.pk].po_lines
        for line_id, number, matched in self._lines_matched(invoice):
            if matched != po_lines[number - 1].pk:
                return line_id, po_lines[number - 1].pk
        return None

    def _right(self, invoice: Invoice) -> bool:
        """Whether a clerk would approve the invoice as the engine matched it (module docstring)."""
        truth = self.truth[invoice.pk]
        return (
            truth.spec.kind != "price_error"
            and invoice.vendor_id == truth.vendor_id
            and invoice.purchase_order_id == truth.purchase_order.pk
            and self._wrong_line(invoice) is None
        )

    def _review(self, specs: list[InvoiceSpec]) -> None:
        """The clerk's rounds over the batch's invoices in review, each round's corrections matched
        again before the next (module docstring)."""
        for _ in range(MAX_ROUNDS):
            waiting = [invoice for invoice in self._batch_invoices() if invoice.status == InvoiceStatus.PENDING_REVIEW]
            if not waiting:
                break
            for invoice in waiting:
                self._decide(invoice)
            self._administer()
            self._drain()
        else:
            numbers = [i.invoice_number for i in self._batch_invoices() if i.status == InvoiceStatus.PENDING_REVIEW]
            if numbers:
                raise CommandError(STILL_IN_REVIEW.format(numbers=", ".join(numbers), rounds=MAX_ROUNDS), returncode=1)
        statuses = Counter(
            invoice.status
            for invoice in self._batch_invoices()
            if invoice.status not in (InvoiceStatus.APPROVED, InvoiceStatus.REJECTED)
        )
        if statuses:
            raise CommandError(UNDECIDED.format(count=statuses.total(), statuses=dict(statuses)), returncode=1)

    def _decide(self, invoice: Invoice) -> None:
        """The clerk's one action on an invoice in review, by the ground truth (module docstring)."""
        tenant, truth = self.tenant, self.truth[invoice.pk]
        if invoice.pk not in self.touched:
            self.touched.add(invoice.pk)
            self.played.months[truth.spec.month].exceptions[truth.spec.kind] += 1
        actions = self.played.actions
        if invoice.vendor_id is None:
            invoice_vendor_choose(tenant=tenant, invoice=invoice, vendor_id=truth.vendor_id, actor=self.clerk,
                                  role=Role.APPROVER)  # fmt: skip
            actions["vendor chosen"] += 1
            return
        wrong = self._wrong_line(invoice) if invoice.purchase_order_id == truth.purchase_order.pk else None
        if wrong is not None and invoice.vendor_id == truth.vendor_id and truth.spec.kind != "price_error":
            line_id, po_line_id = wrong
            invoice_line_assign(tenant=tenant, invoice=invoice, invoice_line_id=line_id, po_line_id=po_line_id,
                                actor=self.clerk, role=Role.APPROVER)  # fmt: skip
            actions["line assigned"] += 1
            return
        right = self._right(invoice)
        invoice_review(tenant=tenant, invoice=invoice, action="approve" if right else "reject", actor=self.clerk,
                       role=Role.APPROVER, comment="as ordered" if right else "not what we ordered")  # fmt: skip
        self.settled.add(invoice.pk)
        actions["approved" if right else "rejected"] += 1

    def _administer(self) -> None:
        """The administrator's decisions on what Recon proposes and learned (module docstring)."""
        tenant, admin = self.tenant, self.admin
        open_suggestions = ToleranceSuggestion.objects.for_tenant(tenant).filter(status=SuggestionStatus.OPEN)
        if self.learning:
            for suggestion in open_suggestions:
                tolerance_suggestion_accept(tenant=tenant, suggestion=suggestion, actor=admin)
            return
        for alias in ItemAlias.objects.for_tenant(tenant).filter(forgotten_at__isnull=True):
            item_alias_forget(tenant=tenant, alias=alias, actor=admin)
            self.played.item_aliases += 1
        for vendor_alias in VendorAlias.objects.for_tenant(tenant):
            vendor_alias_forget(tenant=tenant, alias=vendor_alias, actor=admin)
            self.played.vendor_names += vendor_alias.kind == VendorAliasKind.NAME
        for suggestion in open_suggestions:
            tolerance_suggestion_decline(tenant=tenant, suggestion=suggestion, actor=admin)

    def _learned_count(self) -> None:
        tenant, played = self.tenant, self.played
        if self.learning:
            played.item_aliases = ItemAlias.objects.for_tenant(tenant).filter(forgotten_at__isnull=True).count()
            played.vendor_names = VendorAlias.objects.for_tenant(tenant).filter(kind=VendorAliasKind.NAME).count()
        suggestions = ToleranceSuggestion.objects.for_tenant(tenant)
        played.suggestions_proposed = suggestions.count()
        played.suggestions_accepted = suggestions.filter(
            status__in=[SuggestionStatus.ACCEPTED, SuggestionStatus.REPLACED]
        ).count()
