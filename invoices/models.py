"""Vendor invoices and their lines, as received; matching results live in `matching`."""

from __future__ import annotations

from django.db import models

from purchasing.models import QUANTITY, UNIT_PRICE
from tenants.scoping import TenantOwnedModel


class InvoiceStatus(models.TextChoices):
    """The lifecycle of DESIGN.md §4."""

    RECEIVED = "received"
    ON_HOLD = "on_hold"
    PENDING_REVIEW = "pending_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    DISPUTED = "disputed"
    PARTIALLY_PAID = "partially_paid"
    RECONCILED = "reconciled"
    VOID = "void"


class ReviewQueue(models.TextChoices):
    STANDARD = "standard"
    ESCALATED = "escalated"


class InvoiceSource(models.TextChoices):
    API = "api"
    CSV = "csv"
    WEBHOOK = "webhook"
    XML = "xml"


class DocumentType(models.TextChoices):
    """What a document does to what the tenant owes: an invoice bills, a credit note takes back.

    A credit note is stored beside invoices (same lines, totals, vendor resolution) but is never
    3-way matched: it answers to an invoice, not to a purchase order.
    """

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class Invoice(TenantOwnedModel):
    # Null when the vendor could not be resolved exactly; the raw name/tax id are kept for matching.
    vendor = models.ForeignKey(
        "vendors.Vendor", on_delete=models.PROTECT, null=True, blank=True, related_name="invoices"
    )
    vendor_name_raw = models.CharField(max_length=255, blank=True, default="")
    vendor_tax_id_raw = models.CharField(max_length=64, blank=True, default="")
    invoice_number = models.CharField(max_length=64)
    # See invoices.numbers.normalize_invoice_number: the key of duplicate detection.
    invoice_number_normalized = models.CharField(max_length=64, editable=False)
    po_number = models.CharField(max_length=64, blank=True, default="")
    currency = models.CharField(max_length=3)
    invoice_date = models.DateField()
    due_date = models.DateField(null=True, blank=True)
    # Amounts in minor units of `currency`.
    subtotal_amount = models.BigIntegerField()
    tax_amount = models.BigIntegerField(default=0)
    shipping_amount = models.BigIntegerField(default=0)
    total_amount = models.BigIntegerField()
    status = models.CharField(max_length=20, choices=InvoiceStatus.choices, default=InvoiceStatus.RECEIVED)
    review_queue = models.CharField(max_length=16, choices=ReviewQueue.choices, null=True, blank=True)
    source = models.CharField(max_length=16, choices=InvoiceSource.choices, default=InvoiceSource.API)
    external_id = models.CharField(max_length=128, blank=True, default="")
    # Percent, as the document states it (19.000 for 19 %); lets matching check the tax amount.
    tax_rate = models.DecimalField(max_digits=6, decimal_places=3, null=True, blank=True)
    # Set by matching: the PO it resolved and its latest result (results are never deleted, so
    # PROTECT only guards against a bug).
    purchase_order = models.ForeignKey(
        "purchasing.PurchaseOrder", on_delete=models.PROTECT, null=True, blank=True, related_name="invoices"
    )
    latest_match = models.ForeignKey(
        "matching.MatchResult", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    document_type = models.CharField(max_length=16, choices=DocumentType.choices, default=DocumentType.INVOICE)
    # A credit note's reference to the invoice it credits: the number as the document states it
    # (kept even when the tenant has no such invoice, e.g. it arrives later or by another route),
    # and the invoice itself when it is found (same vendor, same normalized number).
    credited_invoice = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="credit_notes"
    )
    credited_invoice_number = models.CharField(max_length=64, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["tenant", "status", "created_at"], name="invoice_tenant_status_created"),
            models.Index(fields=["tenant", "vendor", "invoice_number_normalized"], name="invoice_tenant_vendor_number"),
            # Near duplicates (same vendor, same total): matching's look-up of earlier invoices.
            models.Index(fields=["tenant", "vendor", "total_amount"], name="invoice_tenant_vendor_total"),
            models.Index(fields=["tenant", "po_number"], name="invoice_tenant_po_number"),
            # The matching batch pick (oldest `received` first, matching.loading.load_batch): an
            # ordered walk of the tenant's waiting invoices only, instead of the global created_at
            # index past every invoice already matched.
            models.Index(
                fields=["tenant", "created_at", "id"],
                condition=models.Q(status="received"),
                name="invoice_tenant_received_queue",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(tax_amount__gte=0, shipping_amount__gte=0), name="invoice_tax_shipping_gte_0"
            ),
            # A review queue exactly when the invoice is waiting for review.
            models.CheckConstraint(
                condition=(
                    models.Q(status="pending_review", review_queue__isnull=False)
                    | (~models.Q(status="pending_review") & models.Q(review_queue__isnull=True))
                ),
                name="invoice_queue_iff_pending_review",
            ),
            models.CheckConstraint(
                condition=models.Q(tax_rate__isnull=True) | models.Q(tax_rate__gte=0, tax_rate__lte=100),
                name="invoice_tax_rate_0_100",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(document_type="credit_note")
                    | models.Q(credited_invoice__isnull=True, credited_invoice_number="")
                ),
                name="invoice_credit_reference_only_on_credit_notes",
            ),
        ]

    def __str__(self) -> str:
        return self.invoice_number


class InvoiceLine(TenantOwnedModel):
    # Every matching batch rewrites `matched_po_line` on a thousand lines, and a row version costs
    # an entry in each index of the table. Three of them served no query: `invoice` alone (the
    # unique (invoice, line_number) constraint's index leads with it), `created_at` and `tenant`
    # (lines are always reached through their invoice or their PO line), so none is created for
    # lines. The tenant index did worse than nothing: ANDed with the invoice index by the
    # planner, it read every line of the tenant to load a batch's (3 ms at 100,000, growing).
    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="+", editable=False, db_index=False
    )
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines", db_index=False)
    created_at = models.DateTimeField(auto_now_add=True)
    line_number = models.PositiveIntegerField()
    sku = models.CharField(max_length=64, blank=True, default="")
    description = models.CharField(max_length=500)
    quantity = models.DecimalField(**QUANTITY)
    unit_price = models.DecimalField(**UNIT_PRICE)
    amount = models.BigIntegerField(help_text="Minor units of the invoice currency.")
    # The caller's hint of which PO line this bills; matching confirms or overrides it.
    po_line_number = models.PositiveIntegerField(null=True, blank=True)
    # The PO line the latest match assigned this line to: what later invoices count as billed.
    matched_po_line = models.ForeignKey(
        "purchasing.PurchaseOrderLine", on_delete=models.PROTECT, null=True, blank=True, related_name="invoice_lines"
    )

    class Meta:
        ordering = ["invoice", "line_number"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "line_number"], name="invoiceline_unique_number"),
            # Not `> 0`: EN 16931 e-invoices may net a return or correction on the same document
            # as a line with a negative quantity (BT-129); invoices.services decides which
            # sources may send one. A line of nothing is still meaningless.
            models.CheckConstraint(condition=~models.Q(quantity=0), name="invoiceline_quantity_ne_0"),
            models.CheckConstraint(condition=models.Q(unit_price__gte=0), name="invoiceline_unit_price_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id}#{self.line_number}"
