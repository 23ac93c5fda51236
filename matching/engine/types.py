"""The matching engine's plain data: what goes in, what comes out. No ORM, no clock.

Amounts are `int` minor units of the invoice currency; quantities and unit prices are `Decimal`.
The loader (matching.loading) builds these from the database in a fixed number of queries; the
persister (matching.writer) writes the outcome back in bulk.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from core.amount_limits import AmountLimits, amount_limits_default

# Stored with every result, so a result can be read against the rules that produced it.
# 1.1: duplicates compare each invoice's own arrival; unit prices written with the currency's decimals.
# 1.2: amount limits per currency (minor units); a decision names the vendor tolerance it used.
# 1.3: a unique, exact inferred PO scores po_match 1; a pair exact and unique on price and
#      quantity scores line quality 1 whatever its wording (issue #20 item 3).
# 1.4: risk signals (risk.py): bank account mismatch or recent change, shared account, unusual
#      amount, a new vendor's large first invoice (issue #19 items 2 and 6).
# 1.5: facts learned from clerks (issue #20): learned item aliases identify a pair as if keyed,
#      and an accepted tolerance rule is named in the reason.
# 1.6: duplicates across channels (duplicates.py, issue #20 item 4): numbers read alike once OCR
#      and typing confusions and labels are allowed for, and one edit apart at the same total
#      within 30 days; each finding names the earlier invoice.
# 1.7: a person's choices are honoured (issue #20): a line assigned by hand to a PO line (or to
#      none) is that pair whatever the scores say; a vendor or PO chosen by hand is the invoice's;
#      a vendor name learned from a choice is named in the reason. Each names who chose and when.
# 1.8: a tax id learned from a person's vendor choice identifies the vendor after the tax id on
#      record and before names; a match whose vendor a learned name or tax id identified (here
#      or when the invoice came in) names it and who taught it. Payee accounts identify no vendor.
# 1.9: a payee account that is a vendor's active account on record (approved under four eyes, no
#      other active vendor's) identifies the vendor when no name does exactly, before a fuzzy
#      name; the reason names the account's mask. An account not on record still identifies nobody.
ENGINE_VERSION = "recon-match/1.9"


@dataclass(frozen=True)
class MatchSettings:
    """The tenant's thresholds and tolerances (DESIGN.md §5), in engine terms.

    `amount_limits`: the tenant's limits per currency, in minor units of each (the loader passes
    one for every currency of the batch); a currency missing here uses core.amount_limits'
    defaults, as the loader would give it.
    """

    auto_approve_min_confidence: Decimal = Decimal("0.95")
    price_tolerance_pct: Decimal = Decimal("2")
    quantity_tolerance_pct: Decimal = Decimal("0")
    reject_on: frozenset[str] = frozenset({"duplicate_invoice"})
    fuzzy_vendor_threshold: int = 90
    amount_limits: Mapping[str, AmountLimits] = field(default_factory=dict)
    # unusual_amount (risk.py): how many of the vendor's latest accepted invoices it compares with,
    # how many it needs at least, and the robust z-score from which an amount is unusual.
    unusual_amount_window: int = 20
    unusual_amount_min_history: int = 5
    unusual_amount_threshold: Decimal = Decimal("3.5")

    def limits_for(self, currency: str) -> AmountLimits:
        return self.amount_limits.get(currency) or amount_limits_default(currency=currency)


@dataclass(frozen=True)
class BankAccountRecord:
    """One of a vendor's bank accounts (vendors.VendorBankAccount), as the risk checks see it:
    its keyed hash (never the number), the mask a clerk may read, and when it was approved and
    became payable."""

    account_hash: str
    account_mask: str
    status: str  # pending | active | rejected | retired
    decided_at: dt.datetime | None = None
    usable_from: dt.datetime | None = None
    replaces_mask: str = ""  # the account it replaced; "" for the vendor's first


@dataclass(frozen=True)
class VendorRecord:
    id: uuid.UUID
    name: str
    normalized_name: str
    tax_id: str = ""
    aliases: tuple[str, ...] = ()  # normalized
    # Other tax ids its invoices carry (vendors.VendorAlias of kind tax_id), normalized: learned
    # from a person choosing this vendor for an invoice carrying one.
    tax_id_aliases: tuple[str, ...] = ()
    is_active: bool = True
    price_tolerance_pct: Decimal | None = None  # overrides the tenant's when set
    quantity_tolerance_pct: Decimal | None = None
    # When the price tolerance is a rule an administrator accepted from Recon's suggestion
    # (learning.models.ToleranceSuggestion): how the decision's reason names it.
    tolerance_rule: str = ""
    quantity_tolerance_rule: str = ""  # the same for its quantity tolerance
    bank_accounts: tuple[BankAccountRecord, ...] = ()  # every status, newest first
    # Aliases learned from a person choosing this vendor for an invoice under that name: the
    # normalized alias → who chose it and when ("anna on 2026-12-07"), named in the reason.
    learned_aliases: Mapping[str, str] = field(default_factory=dict)
    learned_tax_ids: Mapping[str, str] = field(default_factory=dict)  # the same for its tax id aliases


@dataclass(frozen=True)
class AcceptedTotalRecord:
    """An earlier invoice of a vendor that a person or the rules accepted (approved or paid):
    the history unusual amounts and new vendors are judged against."""

    received_at: dt.datetime
    total_amount: int
    currency: str


@dataclass(frozen=True)
class VendorHistoryRecord:
    """A vendor's accepted invoices received before the batch's newest: when the first arrived (any
    currency), and the latest ones (at most the unusual-amount window per currency), newest first."""

    vendor_id: uuid.UUID
    first_accepted_at: dt.datetime | None = None
    recent: tuple[AcceptedTotalRecord, ...] = ()


@dataclass(frozen=True)
class SharedAccountInvoiceRecord:
    """An invoice of another vendor that has the same bank account on its record (or names it as
    payee in the same batch), with the same number or total as a batch invoice naming that account."""

    account_hash: str
    invoice_id: uuid.UUID
    vendor_id: uuid.UUID
    vendor_name: str
    invoice_number: str
    invoice_number_normalized: str
    total_amount: int
    currency: str
    invoice_date: dt.date


@dataclass(frozen=True)
class PurchaseOrderLineRecord:
    id: uuid.UUID
    line_number: int
    sku: str
    description: str
    quantity: Decimal  # ordered
    unit_price: Decimal
    received_quantity: Decimal = Decimal(0)  # over all receipts
    billed_quantity: Decimal = Decimal(0)  # by earlier invoices that are not void or rejected


@dataclass(frozen=True)
class PurchaseOrderRecord:
    id: uuid.UUID
    po_number: str
    vendor_id: uuid.UUID
    currency: str
    status: str  # open | closed | cancelled
    lines: tuple[PurchaseOrderLineRecord, ...] = ()

    @property
    def has_receipts(self) -> bool:
        return any(line.received_quantity > 0 for line in self.lines)


@dataclass(frozen=True)
class PriorInvoiceRecord:
    """An earlier invoice of a vendor, for duplicate detection."""

    id: uuid.UUID
    vendor_id: uuid.UUID
    invoice_number: str
    invoice_number_normalized: str
    total_amount: int
    currency: str
    invoice_date: dt.date
    status: str
    # When it was received: only invoices received before the one being checked are its
    # originals (None: earlier by construction, as in a hand-built context).
    received_at: dt.datetime | None = None
    # How it arrived, as a clerk reads it ("CSV import"): duplicate messages name the channel.
    source: str = ""


@dataclass(frozen=True)
class InvoiceLineRecord:
    id: uuid.UUID
    line_number: int
    sku: str
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: int
    po_line_number: int | None = None  # the sender's hint


@dataclass(frozen=True)
class InvoiceRecord:
    id: uuid.UUID
    invoice_number: str
    invoice_number_normalized: str
    currency: str
    invoice_date: dt.date
    subtotal_amount: int
    tax_amount: int
    shipping_amount: int
    total_amount: int
    lines: tuple[InvoiceLineRecord, ...]
    vendor_id: uuid.UUID | None = None
    vendor_name_raw: str = ""
    vendor_tax_id_raw: str = ""
    po_number: str = ""
    tax_rate: Decimal | None = None  # percent, when the document states one
    received_at: dt.datetime | None = None  # when it was received (created), for duplicate checks
    # The account the document asks to be paid to (core.bank_accounts): hash to compare, mask to show.
    payee_account_hash: str = ""
    payee_account_mask: str = ""


@dataclass(frozen=True)
class LearnedItemAlias:
    """A vendor's wording of an item ↔ a PO line item, learned from a clerk's approval
    (learning.models.ItemAlias); keys as core.item_keys.item_key computes them."""

    invoice_key: str
    po_item_key: str
    approved_by: str
    approved_on: dt.date
    # How the person vouched for it: "approved" (an approval of the match that paired them) or
    # "assigned" (the line assigned to that PO line by hand).
    how: str = "approved"


@dataclass(frozen=True)
class ChosenByHand:
    """A person's choice on one invoice that the engine honours over its own finding
    (learning.models.HumanChoice): the vendor, PO or PO line chosen (None: a line assigned to
    no PO line), who chose it and when."""

    chosen_id: uuid.UUID | None
    chosen_by: str
    chosen_on: dt.date


@dataclass(frozen=True)
class HumanChoices:
    """An invoice's choices by hand; `lines` by invoice line id."""

    lines: Mapping[uuid.UUID, ChosenByHand] = field(default_factory=dict)
    vendor: ChosenByHand | None = None
    purchase_order: ChosenByHand | None = None


@dataclass
class MatchContext:
    """Everything the engine may look at for a batch of one tenant's invoices.

    `billed_quantity` on PO lines counts invoices matched *before* this batch; the engine adds
    what earlier invoices of the same batch bill as it goes (oldest first), so two invoices in
    one batch cannot both claim the same ordered quantity.
    """

    settings: MatchSettings
    vendors: dict[uuid.UUID, VendorRecord] = field(default_factory=dict)
    purchase_orders: dict[str, PurchaseOrderRecord] = field(default_factory=dict)  # by po_number
    prior_invoices: dict[uuid.UUID, list[PriorInvoiceRecord]] = field(default_factory=dict)  # by vendor
    # By invoice id: the ids of the open POs that invoice's PO may be inferred from (the loader
    # narrows a vendor's open POs to those sharing lines with the invoice). An invoice absent
    # here, or None, infers from every open PO of its vendor in `purchase_orders`.
    inference_candidates: dict[uuid.UUID, frozenset[uuid.UUID]] | None = None
    # Learned item aliases by vendor, then by the invoice item's key (matching.engine.lines).
    item_aliases: dict[uuid.UUID, dict[str, tuple[LearnedItemAlias, ...]]] = field(default_factory=dict)
    # A person's choices by invoice id (lines assigned by hand): the engine honours them.
    human_choices: dict[uuid.UUID, HumanChoices] = field(default_factory=dict)
    # Risk checks (risk.py): each batch vendor's accepted history, and by payee account hash the
    # invoices of other vendors sharing that account that repeat a batch invoice's number or total.
    vendor_histories: dict[uuid.UUID, VendorHistoryRecord] = field(default_factory=dict)
    shared_account_invoices: dict[str, list[SharedAccountInvoiceRecord]] = field(default_factory=dict)


@dataclass(frozen=True)
class Discrepancy:
    type: str
    severity: str  # low | medium | high | critical
    message: str
    invoice_line_number: int | None = None
    po_line_number: int | None = None
    expected: str | None = None
    actual: str | None = None
    # The other invoice a duplicate finding compares this one with (shown side by side).
    related_invoice_id: uuid.UUID | None = None


@dataclass(frozen=True)
class LineAssignment:
    invoice_line_id: uuid.UUID
    po_line_id: uuid.UUID
    invoice_line_number: int
    po_line_number: int
    score: Decimal


@dataclass(frozen=True)
class MatchOutcome:
    invoice_id: uuid.UUID
    vendor_id: uuid.UUID | None
    purchase_order_id: uuid.UUID | None
    confidence: Decimal
    breakdown: dict[str, Decimal]
    status: str  # the decision: approved | pending_review | on_hold | rejected
    review_queue: str | None
    decision_reason: str
    discrepancies: tuple[Discrepancy, ...]
    assignments: tuple[LineAssignment, ...]
    engine_version: str = ENGINE_VERSION


@dataclass(frozen=True)
class MatchFailure:
    """An invoice the engine could not match (a bug or bad data): recorded on the run, retried later."""

    invoice_id: uuid.UUID
    error: str
