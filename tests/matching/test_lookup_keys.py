"""One truth for lookup keys (core.lookup_keys), against the real database: on a table of tricky
inputs, the Python key the engine and the loader compute, the generated column PostgreSQL stores
and the SQL the loader runs over invoice lines give the same text, and give it under every
collation the database could fold case by. So the loader finds a PO by its own number however it
is written, and an invoice line bearing a PO line's SKU or description makes that PO a candidate
to infer."""

from __future__ import annotations

import sys
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Func, Value
from django.db.models.functions import Collate

from core.lookup_keys import (
    SPACES,
    billing_key_sql,
    description_key_expression,
    description_key_sql,
    po_number_key,
    po_number_key_expression,
    sku_key,
    sku_key_expression,
    sku_key_sql,
)
from matching.engine import VendorRecord
from matching.loading.purchase_orders import _purchase_order_rows, batch_purchase_orders
from purchasing.models import PurchaseOrder, PurchaseOrderLine
from tenants.models import Tenant
from tests.collations import COLLATIONS, collation_or_skip
from tests.factories import PurchaseOrderFactory, PurchaseOrderLineFactory
from tests.matching.engine_builders import inv_line, invoice

# By what makes them tricky: (PO number, its key). Whitespace goes anywhere; only a-z change case.
PO_NUMBERS = {
    "lower case": ("po-0042a", "PO-0042A"),
    "padded": ("  PO-0042  ", "PO-0042"),
    "inner space": ("po 0042", "PO0042"),
    "tab, newline, carriage return": ("PO\t00\n42\r", "PO0042"),
    "no-break space inside": ("PO\u00a00043", "PO0043"),
    "no-break space around": ("\u00a0po-0043b\u00a0", "PO-0043B"),
    "figure space": ("PO\u20070044", "PO0044"),
    "narrow no-break space": ("PO\u202f0045", "PO0045"),
    "next line": ("PO\u00850046", "PO0046"),
    "information separators": ("PO\x1c0\x1d0\x1e4\x1f7", "PO0047"),
    "ideographic and em spaces": ("PO\u3000004\u20038", "PO0048"),
    "underscore, dot and slash": ("po_0042.b/c", "PO_0042.B/C"),
    "sharp s": ("straße-1", "STRAßE-1"),
    "ligature": ("ﬁx-2", "ﬁX-2"),
    "full-width": ("Ｐ０４２", "Ｐ０４２"),
    "full-width lower case": ("ｐｏ－０４２", "ｐｏ－０４２"),
    "accents": ("café-É", "CAFé-É"),
    "cyrillic": ("заказ 7", "заказ7"),
    "dotless and dotted i": ("ıi-İI", "ıI-İI"),
    "empty": ("", ""),
    "spaces only": (" \u00a0\t\u202f", ""),
}

# (SKU, its key): only padding is whitespace to a SKU.
SKUS = {
    "lower case": ("hb-m8a", "HB-M8A"),
    "padded": ("  HB-M8b  ", "HB-M8B"),
    "inner space kept": ("hb m8", "HB M8"),
    "tab and newline padding": ("\thb-m9\n", "HB-M9"),
    "no-break space padding": ("\u00a0hb-m10\u00a0", "HB-M10"),
    "no-break space inside kept": ("hb\u00a0m10", "HB\u00a0M10"),
    "figure and narrow no-break space padding": ("\u2007hb-m11\u202f", "HB-M11"),
    "next line and separators padding": ("\x85\x1chb-m12\x1d\x1e\x1f", "HB-M12"),
    "sharp s": ("straße", "STRAßE"),
    "ligature": ("ﬁt-3", "ﬁT-3"),
    "full-width lower case": ("ｈｂ－ｍ８", "ｈｂ－ｍ８"),
    "accents": ("écrou-É", "éCROU-É"),
    "cyrillic": ("винт-m4", "винт-M4"),
    "spaces only": ("  \u00a0\t", ""),
    "empty": ("", ""),
}

# (description, its key): ASCII letters in lower case, nothing else changed.
DESCRIPTIONS = {
    "mixed case": ("Bolt M8x20", "bolt m8x20"),
    "padded, spaces kept": ("  BOLT  m8 ", "  bolt  m8 "),
    "no-break space kept": ("Bolt\u00a0M8", "bolt\u00a0m8"),
    "accents": ("Café ÉÀÇ", "café ÉÀÇ"),
    "greek": ("ΣΑΣ", "ΣΑΣ"),
    "dotted capital I": ("İstanbul", "İstanbul"),
    "sharp s": ("STRAẞE Straße", "straẞe straße"),
    "full-width": ("Ｐ０４２", "Ｐ０４２"),
    "cyrillic": ("Винт M4", "Винт m4"),
    "empty": ("", ""),
}

# The collations a database may fold case by: its own (LC_CTYPE), C (ASCII only), ICU's root and
# English (é → É) and Turkish (i → İ). Those this server lacks are skipped.


def _sql_value(sql: str, value: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sql}", [value])
        return cursor.fetchone()[0]


def _vendor_of(purchase_order: PurchaseOrder) -> VendorRecord:
    vendor = purchase_order.vendor
    return VendorRecord(id=vendor.pk, name=vendor.name, normalized_name=vendor.normalized_name)


def test_spaces_are_every_character_python_calls_whitespace() -> None:
    python_spaces = "".join(char for char in map(chr, range(sys.maxunicode + 1)) if char.isspace())
    assert python_spaces == SPACES


def test_of_the_ascii_characters_a_sku_key_changes_the_letters_a_to_z_only() -> None:
    every_ascii = "".join(map(chr, range(128)))
    upper_a_to_z = "".join(chr(code - 32) if "a" <= chr(code) <= "z" else chr(code) for code in range(128))
    assert sku_key(f"x{every_ascii}x") == f"X{upper_a_to_z}X"


@pytest.mark.django_db
@pytest.mark.parametrize(("po_number", "key"), PO_NUMBERS.values(), ids=PO_NUMBERS.keys())
def test_a_po_number_keys_alike_in_python_and_stored_and_the_loader_finds_it_by_its_number(
    tenant: Tenant, po_number: str, key: str
) -> None:
    purchase_order = PurchaseOrderFactory(tenant=tenant, po_number=po_number)
    stored = PurchaseOrder.objects.for_tenant(tenant).values_list("po_number_key", flat=True).get(pk=purchase_order.pk)
    assert po_number_key(po_number) == stored == key
    # An invoice naming the PO as it is written: found in the database, kept by the loader.
    found, _ = batch_purchase_orders(tenant, {po_number_key(po_number)}, [], [])
    assert [found_po.id for found_po in found.values()] == [purchase_order.pk]


@pytest.mark.django_db
@pytest.mark.parametrize(("sku", "key"), SKUS.values(), ids=SKUS.keys())
def test_a_sku_keys_alike_in_python_stored_and_in_the_loaders_sql_which_infers_its_po(
    tenant: Tenant, sku: str, key: str
) -> None:
    line = PurchaseOrderLineFactory(purchase_order__tenant=tenant, sku=sku)
    stored = PurchaseOrderLine.objects.for_tenant(tenant).values_list("sku_key", flat=True).get(pk=line.pk)
    assert sku_key(sku) == stored == _sql_value(sku_key_sql("%s::varchar"), sku) == key
    # An invoice naming no PO, with a line of that SKU: its PO is the candidate to infer.
    billed = invoice(inv_line(1, sku, line.description, "10", "12.50"), po_number="")
    _, candidates = _purchase_order_rows(tenant, set(), [(billed, _vendor_of(line.purchase_order))])
    assert candidates[billed.id] == [line.purchase_order_id]


@pytest.mark.django_db
@pytest.mark.parametrize(("description", "key"), DESCRIPTIONS.values(), ids=DESCRIPTIONS.keys())
def test_a_description_keys_alike_stored_and_in_the_loaders_sql_which_infers_its_po(
    tenant: Tenant, description: str, key: str
) -> None:
    line = PurchaseOrderLineFactory(purchase_order__tenant=tenant, description=description)
    stored = PurchaseOrderLine.objects.for_tenant(tenant).values_list("description_key", flat=True).get(pk=line.pk)
    assert stored == _sql_value(description_key_sql("%s::varchar"), description) == key
    # A line without SKU is looked up by its description, at another quantity (no exact billing).
    billed = invoice(inv_line(1, "", description, "3", "12.50"), po_number="")
    _, candidates = _purchase_order_rows(tenant, set(), [(billed, _vendor_of(line.purchase_order))])
    assert candidates[billed.id] == [line.purchase_order_id]


@pytest.mark.django_db
@pytest.mark.parametrize("collation", COLLATIONS)
def test_the_database_forms_give_the_same_keys_under_every_collation(tenant: Tenant, collation: str) -> None:
    collation_or_skip(collation)

    def orm_key(expression: Func) -> str:
        return Tenant.objects.filter(pk=tenant.pk).annotate(key=expression).values_list("key", flat=True).get()

    def collated(text: str) -> Collate:
        return Collate(Value(text), collation)

    collated_sql = f'(%s::varchar COLLATE "{collation}")'
    keys = (
        {text: orm_key(po_number_key_expression(collated(text))) for text, _ in PO_NUMBERS.values()},
        {text: orm_key(sku_key_expression(collated(text))) for text, _ in SKUS.values()},
        {text: _sql_value(sku_key_sql(collated_sql), text) for text, _ in SKUS.values()},
        {text: orm_key(description_key_expression(collated(text))) for text, _ in DESCRIPTIONS.values()},
        {text: _sql_value(description_key_sql(collated_sql), text) for text, _ in DESCRIPTIONS.values()},
    )
    expected = tuple(dict(table.values()) for table in (PO_NUMBERS, SKUS, SKUS, DESCRIPTIONS, DESCRIPTIONS))
    assert keys == expected


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("po_number", "spelling", "is_found"),
    [
        ("PO-0042", "po-0042", True),
        ("PO-0042", " PO\u00a0-\u20070042\t", True),
        ("PO-0042", "P O - 0 0 4 2", True),
        ("PO-0042", "ＰＯ-0042", False),  # full-width letters are other characters
        ("PÖ-1", "pÖ-1", True),
        ("PÖ-1", "pö-1", False),  # only a-z change case
        ("STRASSE-1", "straße-1", False),
    ],
)
def test_a_po_is_found_by_another_spelling_of_its_number_only_as_the_keys_say(
    tenant: Tenant, po_number: str, spelling: str, is_found: bool
) -> None:
    purchase_order = PurchaseOrderFactory(tenant=tenant, po_number=po_number)
    found, _ = batch_purchase_orders(tenant, {po_number_key(spelling)}, [], [])
    assert (purchase_order.po_number in found) is is_found


@pytest.mark.django_db
def test_the_billing_keys_print_the_numbers_as_stored_whatever_their_scale_in_the_invoice(tenant: Tenant) -> None:
    """An invoice line billing 2.5 at 18.4 meets the PO line of 2.5000 at 18.400000."""
    line = PurchaseOrderLineFactory(
        purchase_order__tenant=tenant,
        sku=" hb-m8 ",
        description="Bolt M8",
        quantity=Decimal("2.5"),
        unit_price=Decimal("18.4"),
    )
    stored = (
        PurchaseOrderLine.objects.for_tenant(tenant)
        .values_list("sku_billing_key", "description_billing_key")
        .get(pk=line.pk)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT "
            + billing_key_sql(sku_key_sql("%(sku)s::varchar"), quantity="%(quantity)s", unit_price="%(price)s")
            + ", "
            + billing_key_sql(
                description_key_sql("%(description)s::varchar"), quantity="%(quantity)s", unit_price="%(price)s"
            ),
            {"sku": " hb-m8 ", "description": "Bolt M8", "quantity": Decimal("2.5"), "price": Decimal("18.4")},
        )
        computed = cursor.fetchone()
    assert stored == computed == ("HB-M8|2.5000|18.400000", "bolt m8|2.5000|18.400000")
