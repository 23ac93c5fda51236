"""Bank statement lines (payments), their allocations to invoices, and the imports that brought them.

A `Payment` is one line of a bank statement as the bank reported it: immutable facts (dates,
amount, accounts, texts, the bank's reference) plus the reconciliation `status`. Account numbers
are personal data and a lookup key at the same time, so each is stored twice: encrypted
(readable back, for display and export) and as a keyed hash (equality lookups and uniqueness,
without decrypting every row). See payments.accounts.

A `PaymentAllocation` assigns part of a payment to an invoice. Allocations are never edited or
deleted: un-allocating writes a reversing entry (`reversal_of`), so the history of who matched
what, and why, stays readable (the same reason the audit log is append-only).
"""

from __future__ import annotations

from django.db import models

from core.tenancy.scoping import TenantOwnedModel

# A 3-letter upper-case code; which codes exist is checked by core.money at the boundary.
_CURRENCY_PATTERN = r"^[A-Z]{3}$"


class PaymentDirection(models.TextChoices):
    """Seen from the tenant's own account: money paid to a vendor leaves it, a debit."""

    DEBIT = "debit", "Outgoing (debit)"
    CREDIT = "credit", "Incoming (credit)"


class PaymentStatus(models.TextChoices):
    UNMATCHED = "unmatched", "Unmatched"
    SUGGESTED = "suggested", "Suggestion waiting"
    MATCHED = "matched", "Matched"
    PARTIALLY_MATCHED = "partially_matched", "Partially matched"
    IGNORED = "ignored", "Ignored"


class StatementFormat(models.TextChoices):
    CAMT053 = "camt053", "CAMT.053"
    MT940 = "mt940", "MT940"
    CSV = "csv", "CSV"


class StatementImport(TenantOwnedModel):
    """One statement file imported (or re-imported) for a tenant: the batch its payments came in."""

    format = models.CharField(max_length=16, choices=StatementFormat.choices)
    filename = models.CharField(max_length=255, blank=True, default="")
    # The same file imported again is recognised by its digest (the report names the earlier import).
    file_sha256 = models.CharField(max_length=64)
    encoding = models.CharField(max_length=32, blank=True, default="")
    statements_count = models.PositiveIntegerField(default=0)
    entries_count = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    duplicates_count = models.PositiveIntegerField(default=0)
    # Per statement: opening + entries against closing (see payments.statements.BalanceCheck).
    balance_checks = models.JSONField(default=list)
    actor_kind = models.CharField(max_length=16, blank=True, default="")
    actor_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "file_sha256"], name="stmt_import_tenant_sha256")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(format__in=StatementFormat.values), name="stmt_import_format_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.format} {self.filename or self.file_sha256[:12]}"


class Payment(TenantOwnedModel):
    """One bank statement line (DESIGN.md §6)."""

    # The tenant's own account the line is booked on (IBAN or the bank's account id), encrypted,
    # and its keyed hash (payments.accounts.account_hash) for lookups and uniqueness.
    bank_account_encrypted = models.TextField()
    bank_account_hash = models.CharField(max_length=64)
    booking_date = models.DateField()
    value_date = models.DateField(null=True, blank=True)
    amount = models.BigIntegerField(help_text="Minor units of `currency`, always positive; see direction.")
    currency = models.CharField(max_length=3)
    direction = models.CharField(max_length=8, choices=PaymentDirection.choices)
    counterparty_name = models.CharField(max_length=255, blank=True, default="")
    counterparty_account_encrypted = models.TextField(blank=True, default="")
    counterparty_account_hash = models.CharField(max_length=64, blank=True, default="")
    remittance_text = models.TextField(blank=True, default="")
    # The bank's reference for the line, or the end-to-end id, or a reference derived from the
    # line's place in its statement (payments.statements.assign_transaction_ids explains the
    # choice). Unique per account: importing the same statement again adds nothing.
    bank_transaction_id = models.CharField(max_length=255)
    end_to_end_id = models.CharField(max_length=64, blank=True, default="")
    # The bank's reason for returning a transfer (ISO 20022 code: CAMT `RtrInf/Rsn`, ING MT940
    # `/RTRN/`), on the credit that brings the money back; payments.runs.returns reads it.
    return_reason = models.CharField(max_length=35, blank=True, default="", db_default="")
    statement_reference = models.CharField(max_length=128, blank=True, default="")
    status = models.CharField(max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.UNMATCHED)
    statement_import = models.ForeignKey(
        StatementImport, on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    # When a reconciliation run last looked at it. Runs take the least recently considered
    # payments first (never-considered ones before all), so a window of payments no tier can
    # answer cannot hide the newer ones behind it.
    reconcile_considered_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["tenant", "status", "booking_date"], name="payment_tenant_status_booked"),
            models.Index(fields=["tenant", "status", "reconcile_considered_at"], name="payment_tenant_considered"),
            models.Index(fields=["tenant", "booking_date"], name="payment_tenant_booked"),
            models.Index(fields=["tenant", "counterparty_account_hash"], name="payment_tenant_cpty_hash"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "bank_account_hash", "bank_transaction_id"], name="payment_unique_bank_txn"
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_amount_gt_0"),
            models.CheckConstraint(condition=models.Q(currency__regex=_CURRENCY_PATTERN), name="payment_currency_iso"),
            models.CheckConstraint(
                condition=models.Q(direction__in=PaymentDirection.values), name="payment_direction_valid"
            ),
            models.CheckConstraint(condition=models.Q(status__in=PaymentStatus.values), name="payment_status_valid"),
            models.CheckConstraint(condition=~models.Q(bank_transaction_id=""), name="payment_txn_id_present"),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.amount} {self.currency} {self.booking_date}"


class AllocationKind(models.TextChoices):
    PAYMENT = "payment", "Payment"
    # The difference (bank fees, early-payment discount) written off under the tenant's limit.
    WRITE_OFF = "write_off", "Write-off"
    # A credit note settles part of the invoice instead of money.
    CREDIT_NOTE = "credit_note", "Credit note"


class PaymentAllocation(TenantOwnedModel):
    """Part of a payment assigned to an invoice; reversed by a new row, never edited."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="allocations")
    invoice = models.ForeignKey("invoices.Invoice", on_delete=models.PROTECT, related_name="payment_allocations")
    amount = models.BigIntegerField(help_text="Minor units of `currency`, always positive.")
    currency = models.CharField(max_length=3)
    kind = models.CharField(max_length=16, choices=AllocationKind.choices, default=AllocationKind.PAYMENT)
    # The matching tier (DESIGN.md §6, 1-5) that proposed it; null for a clerk's manual match.
    tier = models.PositiveSmallIntegerField(null=True, blank=True)
    confidence = models.DecimalField(max_digits=4, decimal_places=3, null=True, blank=True)
    explanation = models.TextField(blank=True, default="")
    made_by_kind = models.CharField(max_length=16)  # core.actors.Actor.kind
    made_by_id = models.CharField(max_length=64)
    # Set on the reversing entry: it cancels the allocation it points to (same amount).
    reversal_of = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by"
    )

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="allocation_amount_gt_0"),
            models.CheckConstraint(
                condition=models.Q(currency__regex=_CURRENCY_PATTERN), name="allocation_currency_iso"
            ),
            models.CheckConstraint(condition=models.Q(kind__in=AllocationKind.values), name="allocation_kind_valid"),
            models.CheckConstraint(
                condition=models.Q(tier__isnull=True) | models.Q(tier__gte=1, tier__lte=5), name="allocation_tier_1_5"
            ),
            models.CheckConstraint(
                condition=models.Q(confidence__isnull=True) | models.Q(confidence__gte=0, confidence__lte=1),
                name="allocation_confidence_0_1",
            ),
            models.CheckConstraint(
                condition=~models.Q(reversal_of=models.F("id")), name="allocation_not_self_reversal"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency}"


class CounterpartyAccount(TenantOwnedModel):
    """A bank account a vendor was paid to, learned from a clerk's manual match (DESIGN.md §6).

    Keyed by the account's keyed hash (payments.accounts), never the number itself: the next
    payment to the same account identifies the vendor at reconciliation tier 2.
    """

    account_hash = models.CharField(max_length=64)
    vendor = models.ForeignKey("vendors.Vendor", on_delete=models.CASCADE, related_name="counterparty_accounts")
    learned_from = models.ForeignKey(Payment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "account_hash"], name="cpty_account_unique_tenant_hash"),
            models.CheckConstraint(condition=~models.Q(account_hash=""), name="cpty_account_hash_present"),
        ]

    def __str__(self) -> str:
        return f"****{self.account_hash[:8]} → {self.vendor_id}"


class PaymentSuggestion(TenantOwnedModel):
    """The engine's proposal for a payment it was not sure enough to apply: the clerk's queue.

    One per payment, replaced by each run (a proposal is a computed view of the current open
    invoices, not history; what a clerk accepts becomes allocations, which are history).
    `allocations` is `[{"invoice_id", "amount", "kind"}]` as the engine proposed them;
    `candidate_invoice_ids` every invoice the clerk should look at (all equal recurring amounts).
    """

    payment = models.OneToOneField(Payment, on_delete=models.CASCADE, related_name="suggestion")
    tier = models.PositiveSmallIntegerField()
    confidence = models.DecimalField(max_digits=4, decimal_places=3)
    reason = models.TextField()
    allocations = models.JSONField(default=list)
    candidate_invoice_ids = models.JSONField(default=list)
    vendor = models.ForeignKey("vendors.Vendor", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-confidence", "created_at"]
        indexes = [models.Index(fields=["tenant", "confidence"], name="suggestion_tenant_confidence")]
        constraints = [
            models.CheckConstraint(condition=models.Q(tier__gte=1, tier__lte=5), name="suggestion_tier_1_5"),
            models.CheckConstraint(
                condition=models.Q(confidence__gte=0, confidence__lte=1), name="suggestion_confidence_0_1"
            ),
        ]

    def __str__(self) -> str:
        return f"tier {self.tier} {self.confidence}"


class PaymentRunStatus(models.TextChoices):
    """A payment run (payments.runs): proposed, edited, approved by a second person, or cancelled."""

    PROPOSED = "proposed", "Proposed"
    APPROVED = "approved", "Approved (file ready)"
    CANCELLED = "cancelled", "Cancelled"


class PaymentFileFormat(models.TextChoices):
    PAIN_001_09 = "pain.001.001.09", "ISO 20022 pain.001.001.09"
    PAIN_001_03 = "pain.001.001.03", "ISO 20022 pain.001.001.03 (older banks)"


class PaymentRun(TenantOwnedModel):
    """Approved invoices of one currency, due by a date, to be paid together (DESIGN.md §6a).

    Proposed by one person, approved by another (four eyes): the approval moves its invoices to
    `payment_scheduled` and writes the bank file, kept here as it was validated. The tenant's own
    account it pays from (the debtor) is given with the proposal, stored like every account
    (payments.accounts: encrypted, masked).
    """

    status = models.CharField(max_length=16, choices=PaymentRunStatus.choices, default=PaymentRunStatus.PROPOSED)
    currency = models.CharField(max_length=3)
    due_by = models.DateField()
    execution_date = models.DateField()
    # Minor units of `currency`; null: no limit.
    max_total = models.BigIntegerField(null=True, blank=True)
    # Take every early-payment discount still available on the execution date (pay the invoice's
    # open balance less its discount); false: pay open balances in full.
    take_discounts = models.BooleanField(default=True, db_default=True)
    file_format = models.CharField(
        max_length=20, choices=PaymentFileFormat.choices, default=PaymentFileFormat.PAIN_001_09
    )
    debtor_name = models.CharField(max_length=70)
    debtor_account_encrypted = models.TextField()
    debtor_account_mask = models.CharField(max_length=16)
    debtor_bic = models.CharField(max_length=11, blank=True, default="")
    # Invoices the proposal left out, with why, as the clerk reads them:
    # [{"invoice_id", "invoice_number", "vendor_name", "amount", "reason"}].
    excluded = models.JSONField(default=list)
    proposed_by_kind = models.CharField(max_length=16)
    proposed_by_id = models.CharField(max_length=64)
    proposed_by_label = models.CharField(max_length=150, blank=True, default="")
    approved_by_kind = models.CharField(max_length=16, blank=True, default="")
    approved_by_id = models.CharField(max_length=64, blank=True, default="")
    approved_by_label = models.CharField(max_length=150, blank=True, default="")
    approved_at = models.DateTimeField(null=True, blank=True)
    cancelled_by_label = models.CharField(max_length=150, blank=True, default="")
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.TextField(blank=True, default="")
    # The bank file written at approval, after it validated against its XSD (pain.001) — or the
    # CSV for a currency SEPA does not carry; its message id (GrpHdr/MsgId) and SHA-256.
    file_name = models.CharField(max_length=100, blank=True, default="")
    file_content = models.TextField(blank=True, default="")
    file_sha256 = models.CharField(max_length=64, blank=True, default="")
    message_id = models.CharField(max_length=35, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "status", "created_at"], name="paymentrun_tenant_status")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=PaymentRunStatus.values), name="paymentrun_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(currency__regex=_CURRENCY_PATTERN), name="paymentrun_currency_iso"
            ),
            models.CheckConstraint(
                condition=models.Q(max_total__isnull=True) | models.Q(max_total__gt=0), name="paymentrun_max_total_gt_0"
            ),
            # Four eyes, held by the database too: the approver is not the proposer.
            models.CheckConstraint(
                condition=models.Q(approved_by_id="")
                | ~models.Q(approved_by_kind=models.F("proposed_by_kind"), approved_by_id=models.F("proposed_by_id")),
                name="paymentrun_four_eyes",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.currency} run due by {self.due_by} ({self.status})"


class PaymentRunItem(TenantOwnedModel):
    """One invoice of a run and the amount it pays: its open balance when proposed (amount due
    less credit notes and payments, payments.reconciliation.loading.open_balances).

    The invoices of one vendor form one credit transfer in the file and share its `end_to_end_id`,
    the id a statement line carries back (reconciliation tier 0). `is_live` is false once its run
    is cancelled; an invoice is in at most one live run (constraint), so no run pays it twice.
    """

    run = models.ForeignKey(PaymentRun, on_delete=models.CASCADE, related_name="items")
    invoice = models.ForeignKey("invoices.Invoice", on_delete=models.PROTECT, related_name="payment_run_items")
    vendor = models.ForeignKey("vendors.Vendor", on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField(help_text="Minor units of the run's currency.")
    # The early-payment discount taken (minor units): `amount` + this settles the invoice. A
    # database default, as the proposal inserts its items with one statement of its own.
    discount_amount = models.BigIntegerField(default=0, db_default=0)
    end_to_end_id = models.CharField(max_length=35)
    is_live = models.BooleanField(default=True)
    # The vendor's account paid to, as shown (written with the proposal from the vendor's payable
    # account; rewritten at approval only if it changed meanwhile).
    creditor_account_mask = models.CharField(max_length=16, blank=True, default="")
    # The bank returned this transfer (payments.runs.returns): when, why (ISO code), and the
    # statement line that brought the money back. A returned item is no longer live.
    returned_at = models.DateTimeField(null=True, blank=True)
    return_reason = models.CharField(max_length=35, blank=True, default="", db_default="")
    return_payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="returned_run_items"
    )

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["tenant", "end_to_end_id"], name="paymentrunitem_e2e")]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="paymentrunitem_amount_gt_0"),
            models.CheckConstraint(condition=models.Q(discount_amount__gte=0), name="paymentrunitem_discount_gte_0"),
            models.UniqueConstraint(
                fields=["tenant", "invoice"], condition=models.Q(is_live=True), name="paymentrunitem_one_live_run"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.end_to_end_id} {self.amount}"
