"""One truth for the search keys of document numbers (core.lookup_keys.document_number_key and
reversed_key), against the real database: on tricky inputs, the Python key search computes from
what was typed and the generated columns PostgreSQL stores give the same text, under every
collation the database could compare by; and on ASCII the PO rule is the invoice rule
(invoices.numbers.normalize_invoice_number), so "po42" and "inv42" are read alike."""

from __future__ import annotations

import pytest
from django.db.models import Value
from django.db.models.functions import Collate

from core.lookup_keys import document_number_key, document_number_key_expression, reversed_key
from invoices.models import Invoice
from invoices.numbers import normalize_invoice_number
from purchasing.models import PurchaseOrder
from tenants.models import Tenant
from tests.collations import COLLATIONS, collation_or_skip
from tests.factories import InvoiceFactory, PurchaseOrderFactory

# By what makes them tricky: (number, its key). Letters and digits of ASCII only, a-z as A-Z, and
# a run of digits without its leading zeros (one zero stays where no other digit follows).
NUMBERS = {
    "lower case and dash": ("po-0042b", "PO42B"),
    "as printed": ("INV-7790", "INV7790"),
    "spaces, tab and no-break space": (" inv\t77\u00a090 ", "INV7790"),
    "dots, slashes, underscores: one run of digits": ("2024/07.90_a", "20240790A"),
    "leading zeros of each run": ("A-007-B-0008", "A7B8"),
    "zeros inside a run kept": ("100200", "100200"),
    "a run of zeros alone": ("INV-000", "INV0"),
    "zeros before a letter": ("A00B", "A0B"),
    "a lone zero": ("0", "0"),
    "sharp s": ("straße-1", "STRAE1"),
    "ligature": ("ﬁx-2", "X2"),
    "full-width": ("Ｐ０４２", ""),
    "accents": ("café-É9", "CAF9"),
    "cyrillic": ("заказ 7", "7"),
    "dotless i": ("ınv-1", "NV1"),
    "arabic-indic digits": ("INV-٧٧", "INV"),
    "empty": ("", ""),
    "punctuation only": (" -/. ", ""),
}
ASCII_NUMBERS = {name: pair for name, pair in NUMBERS.items() if pair[0].isascii()}


def test_every_ascii_character_keys_as_the_invoice_rule_does() -> None:
    """The PO rule and the duplicate key of invoices read ASCII alike (they differ only where
    Python's Unicode upper() makes ASCII out of other letters: "ß" → "SS")."""
    every_ascii = "".join(map(chr, range(128)))
    for text in (every_ascii, f"x{every_ascii}0042", "po-0042", "INV 007790", "a0b00c000"):
        assert document_number_key(text) == normalize_invoice_number(text)


@pytest.mark.parametrize(("number", "key"), ASCII_NUMBERS.values(), ids=ASCII_NUMBERS.keys())
def test_on_ascii_numbers_the_po_and_invoice_rules_agree(number: str, key: str) -> None:
    assert document_number_key(number) == normalize_invoice_number(number) == key


@pytest.mark.django_db
@pytest.mark.parametrize(("number", "key"), NUMBERS.values(), ids=NUMBERS.keys())
def test_a_po_number_keys_alike_in_python_and_stored_and_its_reversal_too(
    tenant: Tenant, number: str, key: str
) -> None:
    purchase_order = PurchaseOrderFactory(tenant=tenant, po_number=number)
    stored = (
        PurchaseOrder.objects.for_tenant(tenant)
        .values_list("po_number_search_key", "po_number_search_key_reversed")
        .get(pk=purchase_order.pk)
    )
    assert stored == (document_number_key(number), reversed_key(document_number_key(number))) == (key, key[::-1])


@pytest.mark.django_db
@pytest.mark.parametrize(("number", "key"), NUMBERS.values(), ids=NUMBERS.keys())
def test_an_invoice_numbers_stored_reversal_is_its_duplicate_key_read_backwards(
    tenant: Tenant, number: str, key: str
) -> None:
    invoice = InvoiceFactory(tenant=tenant, invoice_number=number)
    stored = (
        Invoice.objects.for_tenant(tenant)
        .values_list("invoice_number_normalized", "invoice_number_reversed")
        .get(pk=invoice.pk)
    )
    normalized = normalize_invoice_number(number)
    assert stored == (normalized, reversed_key(normalized))


@pytest.mark.django_db
@pytest.mark.parametrize("collation", COLLATIONS)
def test_the_database_form_gives_the_same_keys_under_every_collation(tenant: Tenant, collation: str) -> None:
    collation_or_skip(collation)
    computed = {
        number: Tenant.objects.filter(pk=tenant.pk)
        .annotate(key=document_number_key_expression(Collate(Value(number), collation)))
        .values_list("key", flat=True)
        .get()
        for number, _ in NUMBERS.values()
    }
    assert computed == dict(NUMBERS.values())


@pytest.mark.django_db
def test_a_renumbered_po_gets_its_new_keys(tenant: Tenant) -> None:
    purchase_order = PurchaseOrderFactory(tenant=tenant, po_number="PO-0042")
    PurchaseOrder.objects.for_tenant(tenant).filter(pk=purchase_order.pk).update(po_number="PO-0042-B")
    stored = (
        PurchaseOrder.objects.for_tenant(tenant)
        .values_list("po_number_search_key", "po_number_search_key_reversed")
        .get(pk=purchase_order.pk)
    )
    assert stored == ("PO42B", "B24OP")
