"""One truth for lookup keys (core.lookup_keys), against the real database: on a table of tricky
inputs, the Python key the engine and the loader compute, the generated column PostgreSQL stores
and the SQL the loader runs over invoice lines give the same text, so a PO named in another
spelling is found and an invoice line meets its PO line. Where the three disagree today, the
difference is pinned (the *_DIVERGENT tables, reported in issue #16), so it changes only on purpose:
aligning a stored key takes a migration that re-creates its generated column."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from core.lookup_keys import (
    billing_key_sql,
    description_key_sql,
    po_number_key,
    sku_key,
    sku_key_sql,
)
from matching.loading.purchase_orders import _purchase_order_rows
from purchasing.models import PurchaseOrder, PurchaseOrderLine
from tenants.models import Tenant
from tests.factories import PurchaseOrderFactory, PurchaseOrderLineFactory

# PO numbers on which Python and PostgreSQL agree, by what makes them tricky.
PO_NUMBERS_AGREED = {
    "lower case": "po-0042a",
    "padded": "  PO-0042  ",
    "inner space": "po 0042",
    "tab, newline, carriage return": "PO\t00\n42\r",
    "underscore": "PO_0042",
    "dot and slash": "po.0042/b",
    "full-width": "Ｐ０４２",
    "full-width lower case": "ｐｏ－０４２",
    "accents": "café-éàç",
    "cyrillic": "заказ 7",
    "ideographic space": "PO\u3000043",
    "em space": "PO\u2003044",
    "empty": "",
}
# PO numbers whose Python key (what an invoice naming them is looked up by) is not their stored key:
# (Python key, stored key). A PO numbered so cannot be found by its own number.
PO_NUMBERS_DIVERGENT = {
    "sharp s": ("straße-1", "STRASSE-1", "STRAßE-1"),
    "ligature": ("ﬁx-2", "FIX-2", "ﬁX-2"),
    "no-break space": ("PO\u00a00045", "PO0045", "PO\u00a00045"),
    "narrow no-break space": ("PO\u202f0046", "PO0046", "PO\u202f0046"),
    "next line": ("PO\u00850047", "PO0047", "PO\u00850047"),
}

SKUS_AGREED = {
    "lower case": "hb-m8a",
    "padded": "  HB-M8b  ",
    "inner space": "hb m8",
    "underscore": "HB_M8",
    "full-width lower case": "ｈｂ－ｍ８",
    "accents": "écrou-ç",
    "spaces only": "   ",
    "empty": "",
}
# (SKU, Python key, key in the database): stored and in the loader's SQL alike.
SKUS_DIVERGENT = {
    "tab and newline padding": ("\thb-m9\n", "HB-M9", "\tHB-M9\n"),
    "no-break space padding": ("hb-m10\u00a0", "HB-M10", "HB-M10\u00a0"),
    "sharp s": ("straße", "STRASSE", "STRAßE"),
}

# Descriptions have no Python key (the engine compares them by similarity); both sides of the
# description key are PostgreSQL's, stored and in the loader's SQL.
DESCRIPTIONS = ["Bolt M8x20", "  BOLT  m8 ", "Café ÉÀÇ", "ΣΑΣ", "İstanbul", "Straße", "Ｐ０４２", ""]


def _sql_value(sql: str, value: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sql}", [value])
        return cursor.fetchone()[0]


def _skip_if_case_is_ascii_only(text: str) -> None:
    """Under LC_CTYPE C, PostgreSQL's UPPER and LOWER change ASCII letters only (core.lookup_keys)."""
    if any(not char.isascii() and char.upper() != char.lower() for char in text):
        with connection.cursor() as cursor:
            cursor.execute("SHOW lc_ctype")
            if cursor.fetchone()[0] in ("C", "POSIX"):
                pytest.skip("the database's LC_CTYPE is C: it upper-cases ASCII letters only")


@pytest.mark.django_db
@pytest.mark.parametrize("po_number", PO_NUMBERS_AGREED.values(), ids=PO_NUMBERS_AGREED.keys())
def test_a_po_number_keys_alike_in_python_and_in_the_database(tenant: Tenant, po_number: str) -> None:
    _skip_if_case_is_ascii_only(po_number)
    purchase_order = PurchaseOrderFactory(tenant=tenant, po_number=po_number)
    stored = PurchaseOrder.objects.for_tenant(tenant).values_list("po_number_key", flat=True).get(pk=purchase_order.pk)
    assert po_number_key(po_number) == stored
    # What it is for: the loader finds the PO by the key an invoice naming it has.
    found, _ = _purchase_order_rows(tenant, {po_number_key(po_number)}, [])
    assert purchase_order.pk in found


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("po_number", "python_key", "stored_key"), PO_NUMBERS_DIVERGENT.values(), ids=PO_NUMBERS_DIVERGENT.keys()
)
def test_the_po_numbers_python_and_the_database_key_apart(
    tenant: Tenant, po_number: str, python_key: str, stored_key: str
) -> None:
    purchase_order = PurchaseOrderFactory(tenant=tenant, po_number=po_number)
    stored = PurchaseOrder.objects.for_tenant(tenant).values_list("po_number_key", flat=True).get(pk=purchase_order.pk)
    assert (po_number_key(po_number), stored) == (python_key, stored_key)
    found, _ = _purchase_order_rows(tenant, {po_number_key(po_number)}, [])
    assert purchase_order.pk not in found


@pytest.mark.django_db
@pytest.mark.parametrize("sku", SKUS_AGREED.values(), ids=SKUS_AGREED.keys())
def test_a_sku_keys_alike_in_python_stored_and_in_the_loaders_sql(tenant: Tenant, sku: str) -> None:
    _skip_if_case_is_ascii_only(sku)
    line = PurchaseOrderLineFactory(purchase_order__tenant=tenant, sku=sku)
    stored = PurchaseOrderLine.objects.for_tenant(tenant).values_list("sku_key", flat=True).get(pk=line.pk)
    assert sku_key(sku) == stored == _sql_value(sku_key_sql("%s::varchar"), sku)


@pytest.mark.django_db
@pytest.mark.parametrize(("sku", "python_key", "database_key"), SKUS_DIVERGENT.values(), ids=SKUS_DIVERGENT.keys())
def test_the_skus_python_and_the_database_key_apart(
    tenant: Tenant, sku: str, python_key: str, database_key: str
) -> None:
    line = PurchaseOrderLineFactory(purchase_order__tenant=tenant, sku=sku)
    stored = PurchaseOrderLine.objects.for_tenant(tenant).values_list("sku_key", flat=True).get(pk=line.pk)
    assert (sku_key(sku), stored, _sql_value(sku_key_sql("%s::varchar"), sku)) == (
        python_key,
        database_key,
        database_key,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("description", DESCRIPTIONS)
def test_a_description_keys_alike_stored_and_in_the_loaders_sql(tenant: Tenant, description: str) -> None:
    line = PurchaseOrderLineFactory(purchase_order__tenant=tenant, description=description)
    stored = PurchaseOrderLine.objects.for_tenant(tenant).values_list("description_key", flat=True).get(pk=line.pk)
    assert stored == _sql_value(description_key_sql("%s::varchar"), description)


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
