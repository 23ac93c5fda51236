"""core.http.input_reading reads an invoice exactly as its serializer does, or hands it back.

The reader is what `POST /api/invoices` and `POST /api/invoices/batch` validate with; the
serializer only words the errors. So for every input: the reader's result is the serializer's
validated data, or the reader refuses (InputUnreadable) — and then the serializer decides.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from rest_framework import serializers

from core.http.input_reading import InputReader, InputUnreadable, _serializer_reader
from review.apis import InvoiceInputSerializer

READER = InputReader(InvoiceInputSerializer)


def document(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "invoice_number": "INV-1",
        "vendor_name": "Initech Supplies",
        "currency": "EUR",
        "invoice_date": "2026-10-10",
        "total_amount": "30.00",
        "lines": [
            {"line_number": 1, "description": "Paper", "quantity": "2", "unit_price": "10.00"},
            {"description": "Toner", "quantity": "1", "unit_price": "10.00", "sku": "T-1"},
        ],
    }
    return {**body, **changes}


def line(**changes: Any) -> dict[str, Any]:
    return document(lines=[{"description": "Paper", "quantity": "2", "unit_price": "10.00", **changes}])


def drf(data: Any) -> dict[str, Any] | None:
    try:
        validated = InvoiceInputSerializer().run_validation(copy.deepcopy(data))
    except serializers.ValidationError:
        return None
    return {**validated, "lines": [dict(item) for item in validated["lines"]]}


def read(data: Any) -> dict[str, Any] | None:
    try:
        return READER.read(copy.deepcopy(data))
    except InputUnreadable:
        return None


CASES = [
    document(),
    document(invoice_number="  INV-2 \t", vendor_name=" Initech ", po_number="", external_id="   "),
    document(currency="JPY", total_amount="30", tax_amount="0", shipping_amount="1.5", prepaid_amount="0.00"),
    document(total_amount=Decimal("30.00"), tax_amount=5, amount_due=None, tax_rate="19", due_date=None),
    document(total_amount="3e1", tax_amount=" 1.00 ", shipping_amount="-1", prepaid_amount="00.10"),
    document(vendor_id="0191e0a4-7e0e-7ab9-8000-000000000001", vendor_name=""),
    document(document_type="credit_note", credited_invoice_number="INV-0", payee_account="DE89 3704"),
    document(discount_pct="2", discount_days=10, discount_due_date="2026-10-20", payment_terms_note="net 30"),
    document(unknown_field="ignored", lines=[{"description": "X", "quantity": 1, "unit_price": 0}]),
    line(line_number="3", po_line_number=2, amount="20.00", sku=None),
    line(line_number=True),
    line(line_number=0),
    line(line_number=2_147_483_648),
    line(line_number=1.0),
    line(quantity="١٠"),
    line(quantity="NaN"),
    line(quantity="x" * 1001),
    line(quantity=""),
    line(quantity=None),
    line(description=""),
    line(description="   "),
    line(description="D" * 501),
    line(description="Zürich straße"),
    line(description="\ud800"),
    line(description=["Paper"]),
    line(description=12),
    line(description=False),
    document(invoice_number="N" * 65),
    document(invoice_number=None),
    document(currency="EURO"),
    document(currency=""),
    document(invoice_date="20261010"),
    document(invoice_date="1899-12-31"),
    document(document_type="bill"),
    document(discount_days=1000),
    document(lines=[]),
    document(lines={"description": "Paper"}),
    document(lines=["Paper"]),
    document(lines=None),
    {key: value for key, value in document().items() if key != "total_amount"},
    {key: value for key, value in document().items() if key != "lines"},
    None,
    "INV-1",
    [document()],
]


@pytest.mark.parametrize("data", CASES)
def test_the_reader_reads_as_the_serializer_or_hands_the_input_back(data: Any) -> None:
    expected, got = drf(data), read(data)
    # Refused by the serializer: refused by the reader, never read as something else. Accepted:
    # the same values, of the same types (a Decimal quantity, never a float or a string).
    assert got == expected
    if got is not None:
        assert [type(item["quantity"]) for item in got["lines"]] == [Decimal] * len(got["lines"])


def test_the_invoice_serializer_is_read_without_drf() -> None:
    """The reader takes the invoice serializer whole (else every create would pay DRF's price)."""
    assert _serializer_reader(InvoiceInputSerializer()) is not None
