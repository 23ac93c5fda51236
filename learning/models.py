"""What Recon learns from clerks (issue #20): their decisions as labelled examples, and the facts
drawn from them — item aliases and vendor tolerance suggestions.

Between invoices and matching in the layers: matching's loader reads the learned facts as inputs
of a batch (the engine stays pure), and the apps above (matching, payments, review) record the
decisions their people take through learning.services.example_record. A match result or a
payment is named by its id, not by a foreign key: both belong to apps above this one.
"""

from __future__ import annotations

from django.db import models

from core.tenancy.scoping import TenantOwnedModel


class ExampleKind(models.TextChoices):
    APPROVE = "approve", "Approved by a reviewer"
    REJECT = "reject", "Rejected by a reviewer"
    DISPUTE = "dispute", "Disputed with the vendor"
    VENDOR_RESOLUTION = "vendor_resolution", "Vendor chosen by hand"
    PO_CHOICE = "po_choice", "Purchase order chosen by hand"
    LINE_REASSIGNMENT = "line_reassignment", "Line assigned by hand"
    PAYMENT_ALLOCATION = "payment_allocation", "Payment allocated by hand"


class DecisionExample(TenantOwnedModel):
    """One human intervention, as data: what the person decided and what the match it overrode
    had said (its discrepancies with their expected and actual values, its line assignments).

    Append-only in practice (no service changes one); the learned facts cite them as evidence.
    """

    kind = models.CharField(max_length=24, choices=ExampleKind.choices)
    vendor = models.ForeignKey("vendors.Vendor", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    invoice = models.ForeignKey("invoices.Invoice", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    match_result_id = models.UUIDField(null=True, blank=True)  # matching.MatchResult it overrode
    payment_id = models.UUIDField(null=True, blank=True)  # payments.Payment allocated by hand
    actor_kind = models.CharField(max_length=16)
    actor_id = models.CharField(max_length=64)
    actor_label = models.CharField(max_length=150, blank=True, default="")
    comment = models.TextField(blank=True, default="")
    # {"discrepancies": [{"type", "severity", "expected", "actual", "invoice_line_number"}],
    #  "assignments": [{"invoice_line_number", "po_line_number"}], "reason": ..., ...}
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "vendor", "kind", "created_at"], name="example_tenant_vendor_kind")]

    def __str__(self) -> str:
        return f"{self.kind} by {self.actor_label or self.actor_id}"


class ItemAlias(TenantOwnedModel):
    """A vendor's wording (or own SKU) of an item ↔ the PO line item a clerk confirmed it bills.

    Learned from an approval whose match assigned the line with a weak description score;
    forgotten (kept, `forgotten_at` set) when someone undoes it or rejects an invoice matched
    through it. Keys are core.item_keys.item_key of each side.
    """

    vendor = models.ForeignKey("vendors.Vendor", on_delete=models.CASCADE, related_name="+")
    invoice_text = models.CharField(max_length=500)  # as the vendor wrote it (SKU and description)
    invoice_key = models.CharField(max_length=520)
    po_item_text = models.CharField(max_length=500)
    po_item_key = models.CharField(max_length=520)
    example = models.ForeignKey(DecisionExample, on_delete=models.PROTECT, related_name="+")
    learned_by_label = models.CharField(max_length=150)
    forgotten_at = models.DateTimeField(null=True, blank=True)
    forgotten_by_label = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "vendor", "invoice_key", "po_item_key"],
                condition=models.Q(forgotten_at__isnull=True),
                name="itemalias_one_active",
            )
        ]
        indexes = [models.Index(fields=["tenant", "vendor"], name="itemalias_tenant_vendor")]

    def __str__(self) -> str:
        return f"{self.invoice_text} → {self.po_item_text}"


class SuggestionStatus(models.TextChoices):
    OPEN = "open", "Waiting for an administrator"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    UNDONE = "undone", "Undone"
    REPLACED = "replaced", "Replaced by a newer rule"


class ToleranceKind(models.TextChoices):
    PRICE = "price", "Price tolerance"
    QUANTITY = "quantity", "Quantity tolerance"


class ToleranceSuggestion(TenantOwnedModel):
    """A vendor price or quantity tolerance Recon proposes because approvers keep accepting the
    same price difference (or quantity billed over the order or the receipts) of that vendor
    (learning.rules.tolerance_suggestion_of), with the evidence.

    An administrator accepts it (the vendor's tolerance is set, audited, its open invoices
    re-matched) or declines it; an accepted one can be undone (the tolerance goes back).
    """

    vendor = models.ForeignKey("vendors.Vendor", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=ToleranceKind.choices, default=ToleranceKind.PRICE)
    status = models.CharField(max_length=16, choices=SuggestionStatus.choices, default=SuggestionStatus.OPEN)
    # The pattern accepted: differences from low to high percent of the PO price (price), or of
    # the quantity ordered or received (quantity).
    low_pct = models.DecimalField(max_digits=6, decimal_places=3)
    high_pct = models.DecimalField(max_digits=6, decimal_places=3)
    proposed_pct = models.DecimalField(max_digits=6, decimal_places=3)
    previous_pct = models.DecimalField(max_digits=6, decimal_places=3, null=True, blank=True)
    approvals = models.PositiveIntegerField()
    window_days = models.PositiveIntegerField()
    # [{"example_id", "invoice_id", "invoice_number", "pct", "by", "on"}]
    evidence = models.JSONField(default=list)
    decided_by_label = models.CharField(max_length=150, blank=True, default="")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "vendor", "kind"],
                condition=models.Q(status="open"),
                name="tolerancesuggestion_one_open_kind",
            ),
            models.UniqueConstraint(
                fields=["tenant", "vendor", "kind"],
                condition=models.Q(status="accepted"),
                name="tolerancesuggestion_one_accepted_kind",
            ),
            models.CheckConstraint(
                condition=models.Q(low_pct__gte=0, high_pct__gte=models.F("low_pct"), proposed_pct__gte=0),
                name="tolerancesuggestion_band",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.vendor_id}: {self.kind} ±{self.proposed_pct} % ({self.status})"


class ChoiceKind(models.TextChoices):
    VENDOR = "vendor", "Vendor chosen by hand"
    PURCHASE_ORDER = "purchase_order", "Purchase order chosen by hand"
    LINE = "line", "Line assigned by hand"


class HumanChoice(TenantOwnedModel):
    """What a person chose on one invoice, which the engine honours over its own finding when the
    invoice is matched again (issue #20): its vendor, its purchase order, or the PO line one of its
    lines bills (`po_line` empty: no line of the PO). The newest choice of each kind (and line)
    holds; an earlier one is kept, `superseded_at` set, as the history of who chose what.

    The matching loader reads the active ones of a batch as the engine's inputs
    (matching.engine.types.HumanChoices)."""

    kind = models.CharField(max_length=16, choices=ChoiceKind.choices)
    invoice = models.ForeignKey("invoices.Invoice", on_delete=models.CASCADE, related_name="+")
    invoice_line = models.ForeignKey(
        "invoices.InvoiceLine", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    vendor = models.ForeignKey("vendors.Vendor", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    purchase_order = models.ForeignKey(
        "purchasing.PurchaseOrder", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    po_line = models.ForeignKey(
        "purchasing.PurchaseOrderLine", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    example = models.ForeignKey(DecisionExample, on_delete=models.PROTECT, related_name="+")
    chosen_by_label = models.CharField(max_length=150)
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "invoice_line"],
                condition=models.Q(kind="line", superseded_at__isnull=True),
                name="humanchoice_one_active_line",
            ),
            models.UniqueConstraint(
                fields=["tenant", "invoice", "kind"],
                condition=models.Q(superseded_at__isnull=True) & ~models.Q(kind="line"),
                name="humanchoice_one_active_choice",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(kind="line", invoice_line__isnull=False)
                    | models.Q(kind="vendor", vendor__isnull=False)
                    | models.Q(kind="purchase_order", purchase_order__isnull=False)
                ),
                name="humanchoice_what_was_chosen",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "invoice"], name="humanchoice_tenant_invoice")]

    def __str__(self) -> str:
        return f"{self.kind} chosen by {self.chosen_by_label}"
