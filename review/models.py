"""What the review app stores of its own: the invoice list's saved views, one clerk's each, and
the Import page's uploads (`ImportBatch`) with one `ImportJob` per file: its kind, its check (a
dry run), its import, and what each found or created; large exports of the list (`ExportJob`)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from core.tenancy.scoping import TenantOwnedModel

SAVED_VIEW_NAME_MAX = 80
SAVED_VIEW_QUERY_MAX = 2000


class SavedInvoiceView(TenantOwnedModel):
    """A clerk's name for a set of filters and a sort of the invoice list ("Disputed, Acme, by
    amount"). Private to its user: another user, of this tenant or another, gets a 404.

    `query` is the list's canonical query string (review.invoice_list.invoice_list_query),
    read again through the list's form when the view is opened: a filter the list no longer
    understands is then ignored like any other bad parameter, never an error.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=SAVED_VIEW_NAME_MAX)
    query = models.CharField(max_length=SAVED_VIEW_QUERY_MAX, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            # Leads with the tenant (core.tenancy.scoping), and serves the side list's read.
            models.UniqueConstraint(fields=["tenant", "user", "name"], name="savedinvoiceview_unique_name"),
            models.CheckConstraint(condition=~models.Q(name=""), name="savedinvoiceview_name_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name


class ImportKind(models.TextChoices):
    """What a file brought in on the Import page holds: the service that reads it (review.intake)."""

    INVOICES = "invoices", "Invoices (CSV)"
    PURCHASE_ORDERS = "purchase-orders", "Purchase orders (CSV)"
    GOODS_RECEIPTS = "goods-receipts", "Goods receipts (CSV)"
    E_INVOICE = "e-invoice", "E-invoice (UBL, CII or Factur-X PDF)"
    BANK_STATEMENT = "bank-statement", "Bank statement (CAMT.053, MT940 or CSV)"


class ImportStatus(models.TextChoices):
    CHECKING = "checking", "Checking"  # the dry run is waiting for a worker or running
    READY = "ready", "Ready to import"  # the dry run found nothing wrong
    INVALID = "invalid", "Has problems"  # refused at upload, or the dry run found problems
    IMPORTING = "importing", "Importing"  # the import is waiting for a worker or running
    IMPORTED = "imported", "Imported"
    FAILED = "failed", "Not imported"  # the import itself refused the file: nothing written


# Steps under way: the page polls while a job is in one.
IMPORT_WORKING = (ImportStatus.CHECKING, ImportStatus.IMPORTING)


class ImportBatch(TenantOwnedModel):
    """The files one clerk brought in together on the Import page (one upload, one or many files).

    Who uploaded is kept as the audit actor the imports run as, whether in the request or in a
    worker later: the documents' audit events name the clerk, not the task.
    """

    actor_kind = models.CharField(max_length=16)
    actor_id = models.CharField(max_length=64)
    actor_label = models.CharField(max_length=150, blank=True, default="")
    # The kind the clerk chose for the upload; "" to read each file's kind from its content.
    chosen_kind = models.CharField(max_length=32, choices=ImportKind.choices, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"import {self.pk}"


class ImportJob(TenantOwnedModel):
    """One file of an upload, from its check to its import: the progress row the page polls.

    `content` holds the file from the upload until it is imported or refused, so a worker on any
    node can read it (no shared disk needed) and the import runs on the very bytes the clerk
    checked; the original is then kept by source_files, linked to what it created, and this
    copy is emptied (as it is when the file is refused). `preview` is what the dry run found
    (counts, totals), `outcome` what the import did (counts, the ids it created); `problems`
    lists by location what stopped either, as the API reports it (core.csv_reading, the
    e-invoice and statement readers).
    """

    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="jobs")
    position = models.PositiveSmallIntegerField()  # the file's place in its upload
    filename = models.CharField(max_length=255, blank=True, default="")
    size = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    # "" when the file was refused before its kind was known.
    kind = models.CharField(max_length=32, choices=ImportKind.choices, blank=True, default="")
    kind_detected = models.BooleanField(default=False)  # read from the content, not chosen
    status = models.CharField(max_length=16, choices=ImportStatus.choices)
    content = models.BinaryField(default=bytes, editable=False)
    rows_done = models.PositiveIntegerField(default=0)
    rows_total = models.PositiveIntegerField(null=True, blank=True)  # None: not counted (one document)
    # When a worker (or the request) took the current step; None while it waits. A step taken
    # longer ago than a task may run (Q_TIMEOUT) was lost with its worker and may be taken again.
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    message = models.TextField(blank=True, default="")
    problems = models.JSONField(default=list, blank=True)
    preview = models.JSONField(default=dict, blank=True)
    outcome = models.JSONField(default=dict, blank=True)
    # The file's rows the page shows: its first rows once checked, else the rows its problems name
    # ({"header": [...], "rows": [{"number": 7, "cells": [...]}]}), read once, while the file is here.
    table = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "batch", "position"], name="importjob_unique_position"),
            models.CheckConstraint(condition=models.Q(size__gte=0), name="importjob_size_gte_0"),
            models.CheckConstraint(condition=models.Q(status__in=ImportStatus.values), name="importjob_status_valid"),
            models.CheckConstraint(condition=models.Q(kind__in=[*ImportKind.values, ""]), name="importjob_kind_valid"),
        ]

    def __str__(self) -> str:
        return self.filename or f"file {self.position + 1}"

    @property
    def working(self) -> bool:
        return self.status in IMPORT_WORKING


# --- exports of the invoice list in the background (review.export_jobs) -------------------------


class ExportStatus(models.TextChoices):
    WAITING = "waiting", "Waiting for a worker"
    WORKING = "working", "Writing the file"
    DONE = "done", "Ready to download"
    FAILED = "failed", "Not written"


EXPORT_WORKING = (ExportStatus.WAITING, ExportStatus.WORKING)


class ExportJob(TenantOwnedModel):
    """An XLSX export of the invoice list too large to write within a request: the progress row the
    page polls, then the file, offered to the member who asked for it (anyone else, of this tenant
    or another, gets a 404).

    `query` is the list's canonical query string (review.invoice_list.invoice_list_query), read
    again through the list's form by the worker, "Assigned to: me" meaning `user`: the file holds
    exactly the rows the list showed. The file is kept in `content`, as an import's upload is, so a
    worker on any node writes it and any web node serves it (no shared disk needed).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    query = models.CharField(max_length=SAVED_VIEW_QUERY_MAX, blank=True, default="")
    status = models.CharField(max_length=16, choices=ExportStatus.choices, default=ExportStatus.WAITING)
    rows_done = models.PositiveIntegerField(default=0)
    rows_total = models.PositiveIntegerField(null=True, blank=True)  # None until counted
    # When a worker took it; a job taken longer ago than a task may run (Q_TIMEOUT) was lost with
    # its worker and may be taken again.
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    message = models.TextField(blank=True, default="")
    filename = models.CharField(max_length=100)
    content = models.BinaryField(default=bytes, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=ExportStatus.values), name="exportjob_status_valid"),
        ]
        indexes = [models.Index(fields=["tenant", "user", "created_at"], name="exportjob_tenant_user")]

    def __str__(self) -> str:
        return self.filename

    @property
    def working(self) -> bool:
        return self.status in EXPORT_WORKING


# --- disputes (review.disputes) ------------------------------------------------------------------


class DisputeReason(models.TextChoices):
    PRICE = "price", "Price"
    QUANTITY = "quantity", "Quantity"
    NOT_RECEIVED = "not_received", "Goods not received"
    DUPLICATE = "duplicate", "Duplicate"
    OTHER = "other", "Other"


class DisputeStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class DisputeOutcome(models.TextChoices):
    """How a dispute ended (DESIGN.md §4), each with the invoice's move."""

    BACK_TO_REVIEW = "back_to_review", "Back to review"  # disputed → pending_review
    SUPERSEDED = "superseded", "Replaced by a corrected document"  # disputed → void
    CREDITED = "credited", "Offset by a credit note"  # partial: → pending_review; in full: void
    VOIDED = "voided", "Voided"  # disputed → void
    REJECTED = "rejected", "Rejected"  # disputed → rejected


class Dispute(TenantOwnedModel):
    """A disputed invoice's conversation with its end: why, who owns it, until when, the thread,
    and how it ended. One open dispute per invoice; resolved ones stay as history."""

    invoice = models.ForeignKey("invoices.Invoice", on_delete=models.PROTECT, related_name="disputes")
    reason = models.CharField(max_length=16, choices=DisputeReason.choices)
    status = models.CharField(max_length=16, choices=DisputeStatus.choices, default=DisputeStatus.OPEN)
    outcome = models.CharField(max_length=16, choices=DisputeOutcome.choices, blank=True, default="")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    due_date = models.DateField(null=True, blank=True)
    # The vendor's corrected document that replaced the disputed one, or the credit note that
    # offset it, when the dispute ended so.
    superseded_by = models.ForeignKey(
        "invoices.Invoice", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    credit_note = models.ForeignKey(
        "invoices.Invoice", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "invoice"], condition=models.Q(status="open"), name="dispute_one_open_per_invoice"
            ),
            models.CheckConstraint(
                condition=(models.Q(status="open", outcome="") | (models.Q(status="resolved") & ~models.Q(outcome=""))),
                name="dispute_outcome_iff_resolved",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "status", "due_date"], name="dispute_tenant_status_due")]

    def __str__(self) -> str:
        return f"Dispute {self.pk} ({self.reason})"


class DisputeCommentKind(models.TextChoices):
    INTERNAL = "internal", "Internal note"
    VENDOR = "vendor", "Message to the vendor"


class DisputeComment(TenantOwnedModel):
    """One entry of a dispute's thread: an internal note, or what was said to the vendor."""

    dispute = models.ForeignKey(Dispute, on_delete=models.PROTECT, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    author_label = models.CharField(max_length=150)
    kind = models.CharField(max_length=16, choices=DisputeCommentKind.choices, default=DisputeCommentKind.INTERNAL)
    body = models.TextField()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.CheckConstraint(condition=~models.Q(body=""), name="disputecomment_body_not_empty")]


class Notification(TenantOwnedModel):
    """Something a user should look at in the app: an @mention in a dispute, a dispute handed to them."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    invoice = models.ForeignKey("invoices.Invoice", on_delete=models.CASCADE, related_name="+")
    text = models.CharField(max_length=300)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "user", "read_at"], name="notification_tenant_user_read")]


class DisputeAttachment(TenantOwnedModel):
    """A file put in a dispute's thread (the vendor's corrected quote, a photo of damaged goods, an
    e-mail), alone or with a comment.

    The bytes are a kept file of `source_files`, linked to this row as its document
    (SourceFileDocument "review.disputeattachment" → this id), as an invoice is linked to its
    original: one file store, content-addressed per tenant, so the same photo attached twice is one
    blob. Its size, digest and type are the kept file's; what the file was called when attached,
    and by whom, are this row's (a kept file keeps the first name it arrived under).
    """

    dispute = models.ForeignKey(Dispute, on_delete=models.PROTECT, related_name="attachments")
    # The thread entry it came with; None for a file added without a comment.
    comment = models.ForeignKey(
        DisputeComment, on_delete=models.PROTECT, null=True, blank=True, related_name="attachments"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    author_label = models.CharField(max_length=150)
    filename = models.CharField(max_length=255)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(filename=""), name="disputeattachment_filename_not_empty"),
        ]
        indexes = [models.Index(fields=["tenant", "dispute"], name="disputeattachment_tenant_disp")]

    def __str__(self) -> str:
        return self.filename


# --- approval policies, chains and delegation (review.approvals) -----------------------------------


class ApprovalMode(models.TextChoices):
    ANY = "any", "Any one of them"
    ALL = "all", "All of them"


class ApprovalRule(TenantOwnedModel):
    """One rule of the tenant's approval policy: which invoices it takes (a band of amounts in one
    currency, a vendor, a vendor category, a cost centre, a worst discrepancy severity; a blank
    criterion takes any) and the chain of steps they need. The first rule by `position` that takes
    an invoice decides its chain; an invoice no rule takes needs one reviewer's approval, as
    without a policy.

    Amounts are in minor units of `currency` (JPY 15000 and EUR 150.00 are two rules, never a
    conversion): a band needs its currency. `amount_from` is included, `amount_below` is not, so
    two rules can split a range at one amount without overlapping.
    """

    position = models.PositiveIntegerField()
    name = models.CharField(max_length=100)
    currency = models.CharField(max_length=3, blank=True, default="")
    amount_from = models.BigIntegerField(null=True, blank=True)
    amount_below = models.BigIntegerField(null=True, blank=True)
    vendor = models.ForeignKey("vendors.Vendor", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    # The vendor's category (Vendor.category) and a cost centre of the invoice's PO lines
    # (PurchaseOrderLine.cost_centre), compared case-insensitively; "" : any.
    vendor_category = models.CharField(max_length=100, blank=True, default="")
    cost_centre = models.CharField(max_length=64, blank=True, default="")
    # The invoice's worst discrepancy on its latest match must be at least this ("" : any invoice).
    min_severity = models.CharField(max_length=16, blank=True, default="")
    # A chain not complete this many days after the invoice came into review is escalated.
    escalate_after_days = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "position"], name="approvalrule_unique_position"),
            models.CheckConstraint(condition=~models.Q(name=""), name="approvalrule_name_not_empty"),
            models.CheckConstraint(
                condition=(models.Q(amount_from__isnull=True) & models.Q(amount_below__isnull=True))
                | ~models.Q(currency=""),
                name="approvalrule_band_has_currency",
            ),
            models.CheckConstraint(
                condition=models.Q(amount_from__isnull=True) | models.Q(amount_from__gte=0),
                name="approvalrule_amount_from_gte_0",
            ),
            models.CheckConstraint(
                condition=models.Q(amount_from__isnull=True)
                | models.Q(amount_below__isnull=True)
                | models.Q(amount_below__gt=models.F("amount_from")),
                name="approvalrule_band_not_empty",
            ),
            models.CheckConstraint(
                condition=models.Q(min_severity__in=["", "low", "medium", "high", "critical"]),
                name="approvalrule_severity_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ApprovalStep(TenantOwnedModel):
    """One step of a rule's chain: a role or named users (`ApprovalStepUser`), any one or all."""

    rule = models.ForeignKey(ApprovalRule, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    role = models.CharField(max_length=16, blank=True, default="")  # tenants.Role, "" when users are named
    mode = models.CharField(max_length=8, choices=ApprovalMode.choices, default=ApprovalMode.ANY)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "rule", "position"], name="approvalstep_unique_position"),
            models.CheckConstraint(condition=models.Q(mode__in=["any", "all"]), name="approvalstep_mode_valid"),
            models.CheckConstraint(
                condition=models.Q(role__in=["", "clerk", "approver", "admin"]), name="approvalstep_role_valid"
            ),
        ]


class ApprovalStepUser(TenantOwnedModel):
    """A user a step names."""

    step = models.ForeignKey(ApprovalStep, on_delete=models.CASCADE, related_name="named_users")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "step", "user"], name="approvalstepuser_unique")]


class InvoiceApproval(TenantOwnedModel):
    """One approval of one step of an invoice's chain: who, for whom (a delegation), when.

    `round_key` is the audit event of the invoice's latest arrival in review: approvals given
    before it went out of review (rejected, disputed, matched again) and came back do not count
    for the new round. `rule` and `step_position` say which chain and step it approved; the
    invoice keeps that rule's chain as `rule_snapshot` recorded it, even when the rule is edited
    since; an approval of a rule since deleted no longer counts (the audit trail keeps it).
    """

    invoice = models.ForeignKey("invoices.Invoice", on_delete=models.PROTECT, related_name="+")
    rule = models.ForeignKey(ApprovalRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    step_position = models.PositiveSmallIntegerField()
    round_key = models.CharField(max_length=64, blank=True, default="")
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    on_behalf_of = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    comment = models.TextField(blank=True, default="")
    # The rule as it was when this step was approved (review.approvals.rule_snapshot): an invoice
    # already in a chain keeps the chain it started with when an administrator edits the rule.
    # Empty for approvals given before it was kept.
    rule_snapshot = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["tenant", "invoice"], name="invoiceapproval_tenant_invoice")]


class ApprovalDelegation(TenantOwnedModel):
    """`delegator`'s approvals may be given by `delegate` from `starts_on` to `ends_on` (both
    included), until revoked. The delegate approves a step that names the delegator; the audit
    event names both."""

    delegator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    delegate = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    starts_on = models.DateField()
    ends_on = models.DateField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-starts_on", "-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_on__gte=models.F("starts_on")), name="delegation_dates"),
            models.CheckConstraint(
                condition=~models.Q(delegator=models.F("delegate")), name="delegation_not_to_oneself"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "delegate", "ends_on"], name="delegation_tenant_delegate")]
