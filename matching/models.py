"""Matching runs, their results and the discrepancies found (DESIGN.md §5).

A `MatchResult` is history: a re-match (after a goods receipt arrives, say) adds a new result and
moves the invoice's `latest_match` to it; nothing is ever updated or deleted (the database
refuses it, migration 0002). `Discrepancy` rows hang off their result the same way.
"""

from __future__ import annotations

from django.db import models

from core.tenancy.scoping import TenantOwnedModel


class MatchRun(TenantOwnedModel):
    """One batch of a tenant's `received` invoices through the engine, with its counts and timings."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        FINISHED = "finished"
        SKIPPED = "skipped"  # another run of the tenant held the lock
        FAILED = "failed"  # the run itself broke (not one invoice: those are `failures`)

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Scheduled"
        API = "api", "API request"
        INGEST = "ingest", "New invoices"
        RECEIPT = "receipt", "Goods received"
        COMMAND = "command", "Command line"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    requested_by_kind = models.CharField(max_length=16)  # user | api_key | system, as audit actors
    requested_by_id = models.CharField(max_length=64)
    requested_by_label = models.CharField(max_length=255, blank=True, default="")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    invoices_matched = models.PositiveIntegerField(default=0)
    invoices_failed = models.PositiveIntegerField(default=0)
    # [{"invoice_id": "<uuid>", "error": "..."}]: invoices left in `received` for the next run.
    failures = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True, default="", help_text="Why the run as a whole failed.")
    duration_ms = models.PositiveIntegerField(default=0)
    load_ms = models.PositiveIntegerField(default=0)
    engine_ms = models.PositiveIntegerField(default=0)
    write_ms = models.PositiveIntegerField(default=0)
    query_count = models.PositiveIntegerField(default=0, help_text="SQL statements the run sent.")
    engine_version = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "status", "created_at"], name="matchrun_tenant_status_created")]

    def __str__(self) -> str:
        return f"Run {self.id} ({self.status})"


class MatchResult(TenantOwnedModel):
    """What the engine concluded about one invoice in one run. Immutable.

    `breakdown` holds the four confidence components as decimal strings with four places
    (`{"po_match": "1.0000", ...}`), exactly as the engine computed them, so nothing stored
    went through a float; the API shows them as JSON numbers.
    `line_assignments` is `[{"invoice_line_number", "po_line_number", "score"}]`, score likewise
    a decimal string.
    """

    invoice = models.ForeignKey("invoices.Invoice", on_delete=models.PROTECT, related_name="match_results")
    run = models.ForeignKey(MatchRun, on_delete=models.PROTECT, related_name="results")
    vendor = models.ForeignKey("vendors.Vendor", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    purchase_order = models.ForeignKey(
        "purchasing.PurchaseOrder", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    confidence = models.DecimalField(max_digits=5, decimal_places=4)
    breakdown = models.JSONField()
    decision = models.CharField(max_length=20)  # the invoice status the match led to
    review_queue = models.CharField(max_length=16, null=True, blank=True)
    decision_reason = models.TextField()
    engine_version = models.CharField(max_length=32)
    line_assignments = models.JSONField(default=list)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "invoice", "created_at"], name="matchresult_tenant_invoice")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(confidence__gte=0, confidence__lte=1), name="matchresult_confidence_0_1"
            )
        ]

    def __str__(self) -> str:
        return f"{self.decision} ({self.confidence})"


class Discrepancy(TenantOwnedModel):
    """One problem the engine found with an invoice; the vocabulary is `matching.engine.DISCREPANCY_TYPES`."""

    class Severity(models.TextChoices):
        LOW = "low"
        MEDIUM = "medium"
        HIGH = "high"
        CRITICAL = "critical"

    match_result = models.ForeignKey(MatchResult, on_delete=models.PROTECT, related_name="discrepancies")
    invoice = models.ForeignKey("invoices.Invoice", on_delete=models.PROTECT, related_name="discrepancies")
    type = models.CharField(max_length=32)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    message = models.TextField()
    invoice_line_number = models.PositiveIntegerField(null=True, blank=True)
    po_line_number = models.PositiveIntegerField(null=True, blank=True)
    # As the engine states them: decimal strings for amounts, prices and quantities, else text.
    expected = models.TextField(null=True, blank=True)
    actual = models.TextField(null=True, blank=True)
    # The other invoice a duplicate finding compares this one with (matching.engine.duplicates),
    # for the invoice page to show both documents side by side; null for every other type.
    related_invoice = models.ForeignKey(
        "invoices.Invoice", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name_plural = "discrepancies"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "type", "severity"], name="discrepancy_tenant_type_sev")]

    def __str__(self) -> str:
        return f"{self.type} ({self.severity})"
