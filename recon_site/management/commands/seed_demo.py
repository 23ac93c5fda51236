"""`manage.py seed_demo`: a realistic demo tenant for `make run`.

Everything enters through the same services the API uses. Safe to run again: the documents are
created once; each run issues a fresh demo API key (only hashes are stored, so an old key cannot
be shown again) and prints it alone on the last line.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from audit.services import audit_deferred
from core import locks
from core.actors import system_actor
from invoices.documents import InvoiceDocument, InvoiceLineDocument
from invoices.services import invoice_create
from purchasing.documents import (
    GoodsReceiptDocument,
    GoodsReceiptLineDocument,
    PurchaseOrderDocument,
    PurchaseOrderLineDocument,
)
from purchasing.services import goods_receipt_create, purchase_order_create
from tenants.models import ApiKey, Role, Tenant
from tenants.services import api_key_create, api_key_revoke, membership_grant, tenant_create
from vendors.services import vendor_alias_add, vendor_create

DEMO_SLUG = "demo"
SEED_ACTOR = system_actor("seed_demo")
DEMO_PASSWORD = "recon-demo"
DEMO_USERS = (("clerk", Role.CLERK), ("approver", Role.APPROVER), ("admin", Role.ADMIN))

VENDORS = [
    # name, tax id, currency, aliases
    ("Acme Industrial Supplies Ltd", "DE811907980", "EUR", ["ACME IND SUPPLIES"]),
    ("Nordic Fasteners AB", "SE556677889901", "EUR", ["Nordic Fasteners Sweden"]),
    ("Kanto Precision KK", "JP1234567890123", "JPY", []),
    ("Gulf Trading WLL", "BH200000000000001", "BHD", []),
    ("Brightline Office Supplies Inc", "US123456789", "USD", []),
]

# po number, vendor, currency, days ago, lines (sku, description, quantity, unit price)
PURCHASE_ORDERS = [
    (
        "PO-2026-0101",
        0,
        "EUR",
        40,
        [
            ("HB-M8", "M8 hex bolts, zinc plated", "1000", "0.125"),
            ("HH-1M", "Hydraulic hose 1 m", "50", "18.40"),
            ("SG-L", "Safety gloves, size L", "200", "3.95"),
        ],
    ),
    (
        "PO-2026-0102",
        0,
        "EUR",
        30,
        [
            ("BR-6204", "Ball bearing 6204-2RS", "400", "4.20"),
            ("GR-1KG", "Lithium grease 1 kg", "30", "12.75"),
        ],
    ),
    (
        "PO-2026-0103",
        1,
        "EUR",
        20,
        [
            ("SS-4X20", "Stainless screws 4x20", "5000", "0.048"),
            ("WS-M4", "Washers M4", "5000", "0.012"),
        ],
    ),
    (
        "PO-2026-0104",
        2,
        "JPY",
        35,
        [
            ("SV-400W", "Servo motor 400 W", "12", "48500"),
            ("EN-17B", "Absolute encoder 17-bit", "12", "15200"),
        ],
    ),
    ("PO-2026-0105", 3, "BHD", 25, [("CU-16", "Copper cable 16 mm², per metre", "500", "1.275")]),
    (
        "PO-2026-0106",
        4,
        "USD",
        15,
        [
            ("PA-A4", "Copy paper A4, box", "100", "4.50"),
            ("TN-85A", "Toner cartridge 85A", "10", "62.00"),
        ],
    ),
]

# receipt number, po number, days ago, lines (po line number, quantity)
RECEIPTS = [
    ("GR-0101", "PO-2026-0101", 33, [(1, "1000"), (2, "50"), (3, "200")]),
    ("GR-0102", "PO-2026-0102", 22, [(1, "250"), (2, "30")]),
    ("GR-0104", "PO-2026-0104", 28, [(1, "12"), (2, "12")]),
    ("GR-0105", "PO-2026-0105", 18, [(1, "500")]),
    ("GR-0106", "PO-2026-0106", 10, [(1, "100"), (2, "10")]),
]

# number, vendor (index or raw name), po, currency, days ago, tax, total, lines (sku, desc, qty, price)
INVOICES: list[tuple[str, int | str, str, str, int, str, str, list[tuple[str, str, str, str]]]] = [
    # Clean 3-way match: ordered, received and billed agree.
    (
        "INV-A-7781",
        0,
        "PO-2026-0101",
        "EUR",
        30,
        "348.65",
        "2183.65",
        [
            ("HB-M8", "M8 hex bolts, zinc plated", "1000", "0.125"),
            ("HH-1M", "Hydraulic hose 1 m", "50", "18.40"),
            ("SG-L", "Safety gloves, size L", "200", "3.95"),
        ],
    ),
    # Bills 400 bearings where 250 arrived, and grease 5 % over the PO price.
    (
        "INV-A-7790",
        0,
        "PO-2026-0102",
        "EUR",
        20,
        "395.58",
        "2477.58",
        [
            ("BR-6204", "Ball bearing 6204-2RS", "400", "4.20"),
            ("GR-1KG", "Lithium grease 1 kg", "30", "13.40"),
        ],
    ),
    # Nothing received yet on this PO.
    (
        "NF-2026-118",
        1,
        "PO-2026-0103",
        "EUR",
        12,
        "57.00",
        "357.00",
        [
            ("SS-4X20", "Stainless screws 4x20", "5000", "0.048"),
            ("WS-M4", "Washers M4", "5000", "0.012"),
        ],
    ),
    # Clean, in yen (no minor units).
    (
        "KP-55012",
        2,
        "PO-2026-0104",
        "JPY",
        26,
        "76440",
        "840840",
        [
            ("SV-400W", "Servo motor 400 W", "12", "48500"),
            ("EN-17B", "Absolute encoder 17-bit", "12", "15200"),
        ],
    ),
    # Clean, in Bahraini dinar (three decimals).
    (
        "GT/2026/044",
        3,
        "PO-2026-0105",
        "BHD",
        16,
        "63.750",
        "701.250",
        [
            ("CU-16", "Copper cable 16 mm², per metre", "500", "1.275"),
        ],
    ),
    # Small partial invoice, under the auto-approve limit.
    ("BL-90211", 4, "PO-2026-0106", "USD", 8, "0", "45.00", [("PA-A4", "Copy paper A4, box", "10", "4.50")]),
    # Header total does not add up (lines 620.00, total says 650.00).
    ("BL-90230", 4, "PO-2026-0106", "USD", 5, "0", "650.00", [("TN-85A", "Toner cartridge 85A", "10", "62.00")]),
    # The vendor re-sent INV-A-7781 with another spelling of the number: a duplicate.
    (
        "inv a 7781",
        0,
        "PO-2026-0101",
        "EUR",
        4,
        "348.65",
        "2183.65",
        [
            ("HB-M8", "M8 hex bolts, zinc plated", "1000", "0.125"),
            ("HH-1M", "Hydraulic hose 1 m", "50", "18.40"),
            ("SG-L", "Safety gloves, size L", "200", "3.95"),
        ],
    ),
    # A vendor nobody set up, and no PO.
    ("ZL-3321", "Zenith Logistics", "", "EUR", 3, "0", "850.00", [("", "Freight Hamburg-Munich", "1", "850.00")]),
]


class Command(BaseCommand):
    help = "Load the demo tenant (vendors, POs, receipts, invoices, users) and print a fresh demo API key."

    def handle(self, *args: Any, **options: Any) -> None:
        # One transaction, as the CSV import: every service's audit event is held back to its end
        # (audit_deferred), so the receipts' matching lock and the memberships' and keys' row locks
        # all come before the audit-chain lock (core/locks.py). A failed seed leaves nothing.
        with transaction.atomic(), audit_deferred():
            tenant = Tenant.objects.filter(slug=DEMO_SLUG).first()
            if tenant is None:
                tenant, _ = tenant_create(actor=SEED_ACTOR, name="Demo Manufacturing GmbH", slug=DEMO_SLUG)
                # Receipts take the tenant's matching lock: once, now, in the order a run takes it.
                locks.tenant_lock_wait(locks.MATCHING, tenant.pk)
                self._load_documents(tenant)
                self.stdout.write("Loaded the demo tenant 'Demo Manufacturing GmbH'.")
            else:
                self.stdout.write("The demo tenant exists; reusing its data.")
            self._ensure_users(tenant)
            # Keys are stored hashed, so the only way to show one is to issue a new one.
            for old_key in ApiKey.objects.for_tenant(tenant).filter(is_active=True):
                api_key_revoke(tenant=tenant, api_key=old_key, actor=SEED_ACTOR)
            _, raw_key = api_key_create(tenant=tenant, actor=SEED_ACTOR, name="demo")
        for username, role in DEMO_USERS:
            self.stdout.write(f"Web login: {username} / {DEMO_PASSWORD} ({role.label})")
        self.stdout.write("Demo API key (use as 'Authorization: Bearer <key>'):")
        self.stdout.write(raw_key)

    def _ensure_users(self, tenant: Tenant) -> None:
        user_model = get_user_model()
        for username, role in DEMO_USERS:
            user, created = user_model.objects.get_or_create(
                username=username, defaults={"email": f"{username}@demo.invalid"}
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.is_staff = user.is_superuser = role == Role.ADMIN
                user.save()
            membership_grant(tenant=tenant, actor=SEED_ACTOR, user=user, role=role)

    def _load_documents(self, tenant: Tenant) -> None:
        today = timezone.localdate()

        def ago(days: int) -> dt.date:
            return today - dt.timedelta(days=days)

        vendors = []
        for name, tax_id, currency, aliases in VENDORS:
            vendor = vendor_create(tenant=tenant, actor=SEED_ACTOR, name=name, tax_id=tax_id, currency=currency)
            for alias in aliases:
                vendor_alias_add(tenant=tenant, actor=SEED_ACTOR, vendor=vendor, alias=alias)
            vendors.append(vendor)

        for po_number, vendor_index, currency, days, lines in PURCHASE_ORDERS:
            purchase_order_create(
                tenant=tenant,
                actor=SEED_ACTOR,
                document=PurchaseOrderDocument(
                    po_number=po_number,
                    vendor_id=vendors[vendor_index].pk,
                    currency=currency,
                    order_date=ago(days),
                    lines=[
                        PurchaseOrderLineDocument(
                            line_number=number,
                            sku=sku,
                            description=description,
                            quantity=Decimal(quantity),
                            unit_price=Decimal(price),
                        )
                        for number, (sku, description, quantity, price) in enumerate(lines, start=1)
                    ],
                ),
            )

        for receipt_number, po_number, days, receipt_lines in RECEIPTS:
            goods_receipt_create(
                tenant=tenant,
                actor=SEED_ACTOR,
                document=GoodsReceiptDocument(
                    receipt_number=receipt_number,
                    po_number=po_number,
                    received_date=ago(days),
                    lines=[GoodsReceiptLineDocument(po_line_number=n, quantity=Decimal(q)) for n, q in receipt_lines],
                ),
            )

        for number, vendor_ref, po_number, currency, days, tax, total, invoice_lines in INVOICES:
            named = isinstance(vendor_ref, str)
            invoice_create(
                tenant=tenant,
                actor=SEED_ACTOR,
                document=InvoiceDocument(
                    invoice_number=number,
                    vendor_id=None if named else vendors[vendor_ref].pk,
                    vendor_name=vendor_ref if named else "",
                    po_number=po_number,
                    currency=currency,
                    invoice_date=ago(days),
                    due_date=ago(days - 30),
                    tax_amount=Decimal(tax),
                    total_amount=Decimal(total),
                    lines=[
                        InvoiceLineDocument(sku=sku, description=desc, quantity=Decimal(qty), unit_price=Decimal(price))
                        for sku, desc, qty, price in invoice_lines
                    ],
                ),
            )
