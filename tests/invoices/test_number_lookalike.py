"""The lookalike invoice number (invoices.numbers): what duplicate detection compares once OCR
and typing confusions are allowed for, the same in Python and in the column PostgreSQL stores;
and the exact key search and credit notes use left as it was."""

from __future__ import annotations

import pytest
from django.db.models import Value
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from invoices.models import Invoice
from invoices.numbers import (
    invoice_number_lookalike,
    invoice_number_lookalike_expression,
    lookalike_confusions,
    lookalike_of_normalized,
    normalize_invoice_number,
)
from tenants.models import Tenant
from tests.factories import InvoiceFactory

# (what a clerk or a scanner read, what it was): one document.
ALIKE = {
    "O read for 0": ("INV-779O", "INV-7790"),
    "l and I read for 1": ("lNV-7790", "INV-7790"),
    "S read for 5": ("INV-S512", "INV-5512"),
    "B read for 8": ("B808", "8808"),
    "zero padding": ("INV-0010", "10"),
    "a zero read as O in the padding": ("INV-OO10", "10"),
    "the label INV": ("INV-7790", "7790"),
    "the label INVOICE with No.": ("Invoice No. 7790", "7790"),
    "German label with Nr.": ("Rechnung Nr. 2026-0042", "2026-0042"),
    "German label in one word": ("Rechnungsnummer 42", "RE-42"),
    "separators": ("INV/77.90", "inv 77 90"),
}
# Two documents, however alike they look.
NOT_ALIKE = {
    "a credit note's prefix is no label": ("CN-5", "INV-5"),
    "one digit apart": ("INV-1001", "INV-1011"),
    "a series letter is no label": ("A-100", "C-100"),
    "a word that starts like a label": ("INVENTORY-5", "5"),
    "a label needs a number after it": ("INV", ""),
}


@pytest.mark.parametrize(("read", "written"), ALIKE.values(), ids=ALIKE.keys())
def test_misread_numbers_share_their_lookalike_key(read: str, written: str) -> None:
    assert invoice_number_lookalike(read) == invoice_number_lookalike(written)


@pytest.mark.parametrize(("one", "other"), NOT_ALIKE.values(), ids=NOT_ALIKE.keys())
def test_different_documents_keep_different_keys(one: str, other: str) -> None:
    assert invoice_number_lookalike(one) != invoice_number_lookalike(other)


def test_the_exact_key_of_search_and_credit_notes_is_unchanged() -> None:
    """`inv7790`, `INV-7790` and `7790` are found by search through the exact key and its
    reversal; folding there would make search and credit notes confuse 0 and O."""
    assert normalize_invoice_number("inv-0007790") == "INV7790"
    assert normalize_invoice_number("INV-779O") == "INV779O" != normalize_invoice_number("INV-7790")


def test_a_number_of_digits_only_never_loses_a_label() -> None:
    for digits in ("8111-22", "0010", "5100", "2026-0042"):
        assert invoice_number_lookalike(digits) == normalize_invoice_number(digits)


def test_what_two_alike_numbers_differ_by_is_named() -> None:
    assert lookalike_confusions("INV-7790", "lNV-779O") == ["O/0", "I/1/l"]
    assert lookalike_confusions("Rechnung Nr. 7", "7") == ["the label RECHNUNGNR"]
    assert lookalike_confusions("INV-0010", "INV-10") == ["leading zeros"]
    assert lookalike_confusions("S-100", "5-100") == ["S/5"]


@pytest.mark.django_db
def test_the_stored_key_is_the_python_key(tenant: Tenant) -> None:
    numbers = [number for pair in (*ALIKE.values(), *NOT_ALIKE.values()) for number in pair if number]
    invoices = [InvoiceFactory(tenant=tenant, invoice_number=number) for number in numbers]
    stored = dict(
        Invoice.objects.for_tenant(tenant)
        .filter(pk__in=[invoice.pk for invoice in invoices])
        .values_list("invoice_number", "invoice_number_lookalike")
    )
    assert stored == {number: invoice_number_lookalike(number) for number in numbers}


# Keys built from the pieces the label pattern could read more than one way: labels and number
# words (misread or not), confusable letters, digits and zeros.
_PIECES = st.sampled_from(
    ["INV", "LNV", "1NV", "INVOICE", "RECHNUNG", "RECHNUNGSNUMMER", "RG", "RE", "NR", "NO", "N0", "N",
     "NUMBER", "NUMMER", "FACTURE", "O", "0", "00", "I", "L", "1", "S", "5", "B", "8", "7", "A", "C", "E"]
)  # fmt: skip


@pytest.mark.django_db
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=st.lists(st.lists(_PIECES, min_size=1, max_size=6).map("".join), min_size=20, max_size=20))
def test_postgresql_computes_the_key_as_python_does(tenant: Tenant, keys: list[str]) -> None:
    """STYLE rule 14: the generated column's SQL twin gives the Python key on every key (the
    label pattern is read longest-first by PostgreSQL and first-first by Python)."""
    normalized = [normalize_invoice_number(key) for key in keys]
    computed = (
        Tenant.objects.filter(pk=tenant.pk)
        .annotate(**{f"k{i}": invoice_number_lookalike_expression(Value(key)) for i, key in enumerate(normalized)})
        .values_list(*(f"k{i}" for i in range(len(normalized))))
        .get()
    )
    assert list(computed) == [lookalike_of_normalized(key) for key in normalized]
