"""Purchase orders (what was ordered, at what price) and goods receipts (what arrived)."""

from __future__ import annotations

from django.db import models
from django.db.models import F

from core.lookup_keys import (
    billing_key_expression,
    description_key_expression,
    document_number_key_expression,
    po_number_key_expression,
    reversed_key_expression,
    sku_key_expression,
)
from core.tenancy.scoping import TenantOwnedModel

QUANTITY = {"max_digits": 18, "decimal_places": 4}
UNIT_PRICE = {"max_digits": 18, "decimal_places": 6}


class PurchaseOrder(TenantOwnedModel):
    class Status(models.TextChoices):
        OPEN = "open"
        CLOSED = "closed"
        CANCELLED = "cancelled"

    po_number = models.CharField(max_length=64)
    vendor = models.ForeignKey("vendors.Vendor", on_delete=models.PROTECT, related_name="purchase_orders")
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    order_date = models.DateField()
    expected_date = models.DateField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The PO number as invoices name it (core.lookup_keys.po_number_key, the same key in Python).
    # Stored, not computed in each query: under row-level security PostgreSQL may not use an
    # expression index whose functions are not LEAKPROOF (translate, btrim are not) before
    # the policy's check, so the lookup would read every PO of the tenant. Equality of two text
    # columns is leakproof.
    po_number_key = models.GeneratedField(
        expression=po_number_key_expression(F("po_number")),
        output_field=models.CharField(max_length=64),
        db_persist=True,
    )
    # The number as the web app's search compares it (core.lookup_keys.document_number_key:
    # "po42" finds "PO-0042"), and read backwards, so that the end of a number ("42") is found by
    # a prefix of this one. Stored and indexed for the reason given at `po_number_key`.
    po_number_search_key = models.GeneratedField(
        expression=document_number_key_expression(F("po_number")),
        output_field=models.TextField(),
        db_persist=True,
    )
    po_number_search_key_reversed = models.GeneratedField(
        expression=reversed_key_expression(document_number_key_expression(F("po_number"))),
        output_field=models.TextField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "po_number"], name="po_unique_tenant_number")]
        indexes = [
            models.Index(fields=["tenant", "vendor", "status"], name="po_tenant_vendor_status"),
            # Matching looks POs up by the number an invoice gives; without this, every batch
            # normalizes every PO number of the tenant.
            models.Index(fields=["tenant", "po_number_key"], name="po_tenant_lookup_key"),
            # Search (review.search): text_pattern_ops, so that a prefix (`^@`, LEAKPROOF, unlike
            # LIKE) is a range of the index whatever the database's collation; the newest first
            # with both keys beside them, walked without reading the table when a prefix is shared
            # by many, and for the numbers that merely contain what was typed.
            models.Index(
                fields=["tenant", "po_number_search_key"],
                opclasses=["uuid_ops", "text_pattern_ops"],
                name="po_tenant_search_key",
            ),
            models.Index(
                fields=["tenant", "po_number_search_key_reversed"],
                opclasses=["uuid_ops", "text_pattern_ops"],
                name="po_tenant_search_key_reversed",
            ),
            models.Index(
                fields=["tenant", "created_at", "id"],
                include=["po_number_search_key", "po_number_search_key_reversed"],
                name="po_tenant_recent_search",
            ),
        ]

    def __str__(self) -> str:
        return self.po_number


class PurchaseOrderLine(TenantOwnedModel):
    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="lines")
    line_number = models.PositiveIntegerField()
    sku = models.CharField(max_length=64, blank=True, default="")
    description = models.CharField(max_length=500)
    quantity = models.DecimalField(**QUANTITY)
    uom = models.CharField(max_length=16, blank=True, default="EA")
    unit_price = models.DecimalField(**UNIT_PRICE)
    # The cost centre the line is booked to (the tenant's own codes, free text; "" : none).
    # Approval rules may name one (review.approvals).
    cost_centre = models.CharField(max_length=64, blank=True, default="", db_default="")
    # The keys PO inference compares (core.lookup_keys), stored for the reason given at
    # PurchaseOrder.po_number_key.
    sku_key = models.GeneratedField(
        expression=sku_key_expression(F("sku")), output_field=models.CharField(max_length=64), db_persist=True
    )
    description_key = models.GeneratedField(
        expression=description_key_expression(F("description")),
        output_field=models.CharField(max_length=500),
        db_persist=True,
    )
    sku_billing_key = models.GeneratedField(
        expression=billing_key_expression(
            sku_key_expression(F("sku")), quantity=F("quantity"), unit_price=F("unit_price")
        ),
        output_field=models.TextField(),
        db_persist=True,
    )
    description_billing_key = models.GeneratedField(
        expression=billing_key_expression(
            description_key_expression(F("description")), quantity=F("quantity"), unit_price=F("unit_price")
        ),
        output_field=models.TextField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["purchase_order", "line_number"]
        constraints = [
            models.UniqueConstraint(fields=["purchase_order", "line_number"], name="poline_unique_number"),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="poline_quantity_gt_0"),
            models.CheckConstraint(condition=models.Q(unit_price__gte=0), name="poline_unit_price_gte_0"),
            models.CheckConstraint(condition=models.Q(line_number__gt=0), name="poline_line_number_gt_0"),
        ]
        indexes = [
            # PO inference for an invoice that names no PO (matching.loading.purchase_orders._PURCHASE_ORDERS_SQL)
            # finds the vendor's open POs sharing a SKU or a description with the invoice's lines
            # through these, instead of reading every open PO line of the vendor; first those
            # billed exactly (the same quantity and price too), by the billing keys.
            models.Index(fields=["tenant", "sku_key"], name="poline_tenant_sku_key"),
            models.Index(fields=["tenant", "description_key"], name="poline_tenant_description_key"),
            models.Index(fields=["tenant", "sku_billing_key"], name="poline_tenant_sku_billing"),
            models.Index(fields=["tenant", "description_billing_key"], name="poline_tenant_desc_billing"),
        ]

    def __str__(self) -> str:
        return f"{self.purchase_order_id}#{self.line_number}"


class GoodsReceipt(TenantOwnedModel):
    receipt_number = models.CharField(max_length=64)
    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.PROTECT, related_name="receipts")
    received_date = models.DateField()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "receipt_number"], name="receipt_unique_tenant_number")
        ]

    def __str__(self) -> str:
        return self.receipt_number


class GoodsReceiptLine(TenantOwnedModel):
    goods_receipt = models.ForeignKey(GoodsReceipt, on_delete=models.CASCADE, related_name="lines")
    purchase_order_line = models.ForeignKey(PurchaseOrderLine, on_delete=models.PROTECT, related_name="receipt_lines")
    quantity = models.DecimalField(**QUANTITY)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="receiptline_quantity_gt_0"),
            models.UniqueConstraint(fields=["goods_receipt", "purchase_order_line"], name="receiptline_unique_po_line"),
        ]
