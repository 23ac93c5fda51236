"""Vendor invoices and their lines, as received; matching results live in `matching`."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from core.lookup_keys import reversed_key_expression
from core.tenancy.scoping import TenantOwnedModel
from invoices.numbers import invoice_number_lookalike_expression
from invoices.sort_keys import AMOUNT_DIGITS, AMOUNT_PLACES, major_amount_expression, status_rank_expression
from purchasing.models import QUANTITY, UNIT_PRICE

# The labels of these choices are what a person reads for each code: pages, exports and the
# API's `*_label` fields (core.labels).


class InvoiceStatus(models.TextChoices):
    """The lifecycle of DESIGN.md §4."""

    # Entered by hand (or a PDF with no e-invoice inside, waiting to be typed in): not yet a
    # document the tenant owes anything on, until a clerk submits it (invoices.drafts).
    DRAFT = "draft", "Draft"
    RECEIVED = "received", "Received"
    ON_HOLD = "on_hold", "On hold"
    PENDING_REVIEW = "pending_review", "Pending review"
    APPROVED = "approved", "Approved"
    # In an approved payment run (payments.runs): its credit transfer is in the bank file, and the
    # statement line carrying the run's EndToEndId will pay it; still open until then.
    PAYMENT_SCHEDULED = "payment_scheduled", "Payment scheduled"
    REJECTED = "rejected", "Rejected"
    DISPUTED = "disputed", "Disputed"
    PARTIALLY_PAID = "partially_paid", "Partially paid"
    RECONCILED = "reconciled", "Paid"
    VOID = "void", "Void"


class ReviewQueue(models.TextChoices):
    STANDARD = "standard", "Standard"
    ESCALATED = "escalated", "Escalated"


class InvoiceSource(models.TextChoices):
    API = "api", "API"
    CSV = "csv", "CSV import"
    WEBHOOK = "webhook", "Accounting system (webhook)"
    XML = "xml", "E-invoice (XML)"
    MANUAL = "manual", "Entered by hand"


class DocumentType(models.TextChoices):
    """What a document does to what the tenant owes: an invoice bills, a credit note takes back.

    A credit note is stored beside invoices (same lines, totals, vendor resolution) but is never
    3-way matched: it answers to an invoice, not to a purchase order.
    """

    INVOICE = "invoice", "Invoice"
    CREDIT_NOTE = "credit_note", "Credit note"


# Why a document is stored as the other kind than it stated (invoices.documents.
# document_with_positive_total), as the clerk reads it: on the invoice page and in the API's
# `conversion_reason`. Keyed by the stated kind (`Invoice.converted_from`).
CONVERSION_REASONS: dict[str, str] = {
    DocumentType.INVOICE.value: (
        "Negative invoice (type 380) converted: the document is an invoice whose total is negative, "
        "so it takes money back. Recon stores it as a credit note with every amount and quantity "
        "turned positive, credited against the invoice it references."
    ),
    DocumentType.CREDIT_NOTE.value: (
        "Negative credit note (type 381) converted: the document is a credit note whose total is "
        "negative, so it bills. Recon stores it as an invoice with every amount and quantity turned "
        "positive, matched and paid like any invoice."
    ),
}


class Invoice(TenantOwnedModel):
    # Null when the vendor could not be resolved exactly; the raw name/tax id are kept for matching.
    # Indexed with created_at (invoice_vendor_created) instead of alone: the same look-ups by vendor,
    # and a vendor's history in order (matching.loading.risk) without reading all of it.
    vendor = models.ForeignKey(
        "vendors.Vendor", on_delete=models.PROTECT, null=True, blank=True, related_name="invoices", db_index=False
    )
    vendor_name_raw = models.CharField(max_length=255, blank=True, default="")
    vendor_tax_id_raw = models.CharField(max_length=64, blank=True, default="")
    invoice_number = models.CharField(max_length=64)
    # See invoices.numbers.normalize_invoice_number: the key of duplicate detection, and of search.
    invoice_number_normalized = models.CharField(max_length=64, editable=False)
    # The same key read backwards (core.lookup_keys.reversed_key): search finds the end of a
    # number ("7790" in INV-7790) as a prefix of this one, through an index. Generated, so no
    # writer can leave it disagreeing with the key.
    invoice_number_reversed = models.GeneratedField(
        expression=reversed_key_expression(models.F("invoice_number_normalized")),
        output_field=models.TextField(),
        db_persist=True,
    )
    # The number once OCR and typing confusions are allowed for (invoices.numbers: O/0, I/1/l, S/5,
    # B/8, a label such as INV or "Rechnung Nr."): only duplicate detection compares it.
    # Generated from the normalized key, so every writer stores it alike.
    invoice_number_lookalike = models.GeneratedField(
        expression=invoice_number_lookalike_expression(models.F("invoice_number_normalized")),
        output_field=models.TextField(),
        db_persist=True,
    )
    po_number = models.CharField(max_length=64, blank=True, default="")
    currency = models.CharField(max_length=3)
    # Null only while a draft has none yet, or a draft discarded without one (constraint
    # `invoice_date_unless_draft`).
    invoice_date = models.DateField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    # Amounts in minor units of `currency`.
    subtotal_amount = models.BigIntegerField()
    tax_amount = models.BigIntegerField(default=0)
    shipping_amount = models.BigIntegerField(default=0)
    total_amount = models.BigIntegerField()
    # EN 16931 BT-113 "Paid amount": paid before the document was issued (a deposit). The total
    # still includes it, so matching checks the full total against the PO and receipts.
    prepaid_amount = models.BigIntegerField(default=0)
    # BT-115 "Amount due for payment" = total − prepaid: what payments and the cash forecast work
    # on (DESIGN.md §4; open balances subtract credit notes and allocations from it, in
    # payments.reconciliation.loading). Generated by PostgreSQL, so no writer — the door, a
    # factory, a bulk benchmark, an operator's UPDATE — can leave it disagreeing with the total.
    amount_due = models.GeneratedField(
        expression=models.F("total_amount") - models.F("prepaid_amount"),
        output_field=models.BigIntegerField(),
        db_persist=True,
    )
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
    # The kind the document stated when it is stored as the other one because its total was
    # negative (invoices.documents.document_with_positive_total); "" when stored as stated.
    converted_from = models.CharField(max_length=16, choices=DocumentType.choices, blank=True, default="")
    # Who works this invoice now (review.assignments): assigned by a colleague or claimed; kept
    # when the invoice is done, as the last person who had it. PROTECT: members are deactivated,
    # never deleted, while their work exists.
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    # Payment terms (issue #19 item 3): as the document states them (EN 16931 BT-20, UBL/CII
    # PaymentTerms), else from the vendor's terms; the early-payment discount offered, the last
    # day it may be taken and its amount in minor units of `currency` (0: none offered).
    payment_terms_note = models.CharField(max_length=255, blank=True, default="", db_default="")
    discount_pct = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    discount_due_date = models.DateField(null=True, blank=True)
    discount_amount = models.BigIntegerField(default=0, db_default=0)
    # The account the document asks to be paid to (UBL PayeeFinancialAccount, CII
    # PayeePartyCreditorFinancialAccount, a webhook's bank fields), kept like every account
    # (core.bank_accounts: encrypted, keyed hash for comparing with the vendor's, masked for
    # showing); all "" when the document names none. These columns have database defaults too,
    # so the bulk writers that insert rows with SQL of their own need not name them.
    payee_account_encrypted = models.TextField(blank=True, default="", db_default="")
    payee_account_hash = models.CharField(max_length=64, blank=True, default="", db_default="")
    payee_account_mask = models.CharField(max_length=16, blank=True, default="", db_default="")
    # The invoice list's sort keys (invoices.sort_keys): the lifecycle's order, the total in major
    # units, the vendor's name (kept by triggers; what an instance holds after a write is not
    # re-read, so read it from the database).
    sort_status = models.GeneratedField(
        expression=status_rank_expression(InvoiceStatus.values),
        output_field=models.SmallIntegerField(),
        db_persist=True,
    )
    sort_amount = models.GeneratedField(
        expression=major_amount_expression(),
        output_field=models.DecimalField(max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES),
        db_persist=True,
    )
    sort_vendor = models.CharField(max_length=255, blank=True, default="", db_default="", editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["tenant", "status", "created_at"], name="invoice_tenant_status_created"),
            models.Index(fields=["tenant", "vendor", "invoice_number_normalized"], name="invoice_tenant_vendor_number"),
            # Lookalike numbers of a vendor (OCR and typing confusions): matching's look-up of earlier invoices.
            models.Index(fields=["tenant", "vendor", "invoice_number_lookalike"], name="invoice_tenant_vendor_alike"),
            # Near duplicates (same vendor, same total): matching's look-up of earlier invoices.
            models.Index(fields=["tenant", "vendor", "total_amount"], name="invoice_tenant_vendor_total"),
            models.Index(fields=["vendor", "created_at"], name="invoice_vendor_created"),
            models.Index(fields=["tenant", "po_number"], name="invoice_tenant_po_number"),
            # The matching batch pick (oldest `received` first, matching.loading.load_batch): an
            # ordered walk of the tenant's waiting invoices only, instead of the global created_at
            # index past every invoice already matched.
            models.Index(
                fields=["tenant", "created_at", "id"],
                condition=models.Q(status="received"),
                name="invoice_tenant_received_queue",
            ),
            # Search (review.search): a prefix of the number or of its reversal (`^@`, LEAKPROOF
            # unlike LIKE, so an index condition under row-level security; text_pattern_ops
            # makes it a range of the index whatever the collation), an exact total, and the
            # newest invoices with both keys beside them: walked without reading the table when
            # a prefix is shared by many, and for numbers that merely contain what was typed.
            models.Index(
                fields=["tenant", "invoice_number_normalized"],
                opclasses=["uuid_ops", "text_pattern_ops"],
                name="invoice_tenant_search_number",
            ),
            models.Index(
                fields=["tenant", "invoice_number_reversed"],
                opclasses=["uuid_ops", "text_pattern_ops"],
                name="invoice_tenant_search_reversed",
            ),
            models.Index(fields=["tenant", "total_amount"], name="invoice_tenant_total"),
            # The invoice list's sorts by number and by invoice date, and its currency / amount
            # filters (review.invoice_list; bench_invoice_list): a page is an index walk, not a
            # sort of every row.
            models.Index(fields=["tenant", "invoice_number", "id"], name="invoice_tenant_number"),
            models.Index(fields=["tenant", "invoice_date", "id"], name="invoice_tenant_invoice_date"),
            models.Index(fields=["tenant", "currency", "total_amount", "id"], name="invoice_tenant_currency_total"),
            # Its sorts by status, amount (across currencies) and vendor (invoices.sort_keys).
            models.Index(fields=["tenant", "sort_status", "id"], name="invoice_tenant_sort_status"),
            models.Index(fields=["tenant", "sort_amount", "id"], name="invoice_tenant_sort_amount"),
            models.Index(fields=["tenant", "sort_vendor", "id"], name="invoice_tenant_sort_vendor"),
            # Its discrepancy-type filter: the invoices whose latest match is one of the matches with
            # a discrepancy of the type, counted from this index alone (review.invoice_list).
            models.Index(fields=["tenant", "latest_match"], name="invoice_tenant_latest_match"),
            # Its "Discount available" filter: the few invoices whose early-payment discount is
            # not past (review.invoice_list.discount_open_condition).
            models.Index(
                fields=["tenant", "discount_due_date"],
                condition=models.Q(discount_amount__gt=0),
                name="invoice_tenant_discount_due",
            ),
            models.Index(
                fields=["tenant", "created_at", "id"],
                include=["invoice_number_normalized", "invoice_number_reversed"],
                name="invoice_tenant_recent_search",
            ),
            # Risk signals (matching.loading.risk): which earlier invoices of any vendor named this
            # payee account (`shared_bank_account`), without reading the tenant's invoices.
            models.Index(
                fields=["tenant", "payee_account_hash"],
                condition=~models.Q(payee_account_hash=""),
                name="invoice_tenant_payee_hash",
            ),
            # "My work" and the lists' assigned-to filter: one person's invoices, oldest first.
            models.Index(
                fields=["tenant", "assigned_to", "created_at"],
                condition=models.Q(assigned_to__isnull=False),
                name="invoice_tenant_assignee",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(tax_amount__gte=0, shipping_amount__gte=0), name="invoice_tax_shipping_gte_0"
            ),
            # Stored amounts are never negative: a document with a negative total is stored as the
            # other kind (invoices.documents.document_with_positive_total).
            models.CheckConstraint(condition=models.Q(total_amount__gte=0), name="invoice_total_gte_0"),
            # 0 ≤ prepaid ≤ total, so the amount due is never negative.
            models.CheckConstraint(
                condition=models.Q(prepaid_amount__gte=0, prepaid_amount__lte=models.F("total_amount")),
                name="invoice_prepaid_within_total",
            ),
            models.CheckConstraint(
                condition=models.Q(converted_from="") | ~models.Q(converted_from=models.F("document_type")),
                name="invoice_converted_from_other_kind",
            ),
            # A review queue exactly when the invoice is waiting for review.
            models.CheckConstraint(
                condition=(
                    models.Q(status="pending_review", review_queue__isnull=False)
                    | (~models.Q(status="pending_review") & models.Q(review_queue__isnull=True))
                ),
                name="invoice_queue_iff_pending_review",
            ),
            # A draft is work in progress: it may lack its date (and keeps lacking it when it is
            # discarded, i.e. void), but everything submitted has one; and it credits no invoice
            # until it is submitted (so a draft credit note takes nothing off an open balance:
            # payments and the allocation trigger never see it).
            models.CheckConstraint(
                condition=models.Q(status__in=["draft", "void"]) | models.Q(invoice_date__isnull=False),
                name="invoice_date_unless_draft",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="draft") | models.Q(credited_invoice__isnull=True),
                name="invoice_draft_credits_nothing",
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
            models.CheckConstraint(
                condition=models.Q(discount_amount__gte=0, discount_amount__lte=models.F("total_amount")),
                name="invoice_discount_within_total",
            ),
            models.CheckConstraint(
                condition=models.Q(discount_pct__isnull=True) | models.Q(discount_pct__gt=0, discount_pct__lt=100),
                name="invoice_discount_pct_0_100",
            ),
        ]

    def __str__(self) -> str:
        return self.invoice_number

    @property
    def conversion_reason(self) -> str:
        """Why this document is stored as another kind than it stated; "" when it is not."""
        return CONVERSION_REASONS.get(self.converted_from, "")


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
