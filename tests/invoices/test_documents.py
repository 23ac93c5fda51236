"""The two rules every source shares (invoices.documents): a document's content, and its sign.

Pure: documents in, documents or contents out. What the door and the sources do with them is
tested beside each door (test_one_door, test_ubl_import, test_amount_due, test_negative_documents).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest

from invoices.documents import (
    InvoiceDocument,
    InvoiceLineDocument,
    document_content,
    document_with_positive_total,
    invoice_content,
)

BOLTS = InvoiceLineDocument(description="Hex bolt M8", quantity=Decimal("2000"), unit_price=Decimal("0.0845"))
NUTS = InvoiceLineDocument(
    description="Hex nut M8", quantity=Decimal("1500"), unit_price=Decimal("0.021"), amount=Decimal("31.50")
)
DOCUMENT = InvoiceDocument(
    invoice_number="NF-10288",
    vendor_name="Nordic Fasteners AB",
    currency="EUR",
    invoice_date=dt.date(2026, 10, 16),
    due_date=dt.date(2026, 11, 15),
    tax_amount=Decimal("50.13"),
    total_amount=Decimal("250.63"),
    lines=[BOLTS, NUTS],
)


def test_same_content_ignores_line_order_numbering_wording_scale_and_channel() -> None:
    resent = replace(
        DOCUMENT,
        currency="eur",
        po_number="PO-2026-0412",
        external_id="xero-invoice:1",
        total_amount=Decimal("250.6300"),
        lines=[
            replace(NUTS, line_number=1, description="Nuts, M8", sku="M8-NUT", amount=Decimal("31.5")),
            replace(BOLTS, line_number=2, quantity=Decimal("2000.0000"), amount=Decimal("169.00")),
        ],
    )
    assert document_content(resent) == document_content(DOCUMENT)
    # The stored side builds the same thing from minor units and NUMERIC columns.
    stored = invoice_content(
        currency="EUR",
        invoice_date=dt.date(2026, 10, 16),
        due_date=dt.date(2026, 11, 15),
        total=25063,
        tax=5013,
        shipping=0,
        prepaid=0,
        lines=[(Decimal("1500.0000"), Decimal("0.021000"), 3150), (Decimal("2000.0000"), Decimal("0.084500"), 16900)],
    )
    assert document_content(DOCUMENT) == stored


@pytest.mark.parametrize(
    "changed",
    [
        replace(DOCUMENT, total_amount=Decimal("250.64")),
        replace(DOCUMENT, tax_amount=Decimal("50.12")),
        replace(DOCUMENT, shipping_amount=Decimal("0.01")),
        replace(DOCUMENT, prepaid_amount=Decimal("100.00")),
        replace(DOCUMENT, currency="USD"),
        replace(DOCUMENT, invoice_date=dt.date(2026, 10, 17)),
        replace(DOCUMENT, due_date=None),
        replace(DOCUMENT, lines=[BOLTS]),
        replace(DOCUMENT, lines=[BOLTS, NUTS, NUTS]),
        replace(DOCUMENT, lines=[BOLTS, replace(NUTS, quantity=Decimal("1499"))]),
        replace(DOCUMENT, lines=[BOLTS, replace(NUTS, unit_price=Decimal("0.0211"))]),
        replace(DOCUMENT, lines=[BOLTS, replace(NUTS, amount=Decimal("31.49"))]),
    ],
    ids=[
        "total",
        "tax",
        "shipping",
        "prepaid",
        "currency",
        "invoice date",
        "due date",
        "a line fewer",
        "a line more",
        "quantity",
        "unit price",
        "line amount",
    ],
)
def test_any_amount_date_or_line_that_differs_is_other_content(changed: InvoiceDocument) -> None:
    assert document_content(changed) != document_content(DOCUMENT)


def test_a_document_the_door_refuses_has_no_content_and_so_is_never_a_resend() -> None:
    assert document_content(replace(DOCUMENT, currency="XXX")) is None
    assert document_content(replace(DOCUMENT, total_amount=Decimal("250.631"))) is None


def test_a_negative_document_becomes_the_other_kind_with_every_sign_turned() -> None:
    negative = replace(
        DOCUMENT,
        total_amount=Decimal("-250.63"),
        tax_amount=Decimal("-50.13"),
        amount_due=Decimal("-250.63"),
        credited_invoice_number="NF-10001",
        lines=[
            replace(BOLTS, quantity=Decimal("-2000")),
            replace(NUTS, quantity=Decimal("-1500"), amount=Decimal("-31.50")),
        ],
    )
    stored = document_with_positive_total(negative)
    assert (stored.document_type, stored.converted_from) == ("credit_note", "invoice")
    assert (stored.total_amount, stored.tax_amount, stored.amount_due) == (
        Decimal("250.63"),
        Decimal("50.13"),
        Decimal("250.63"),
    )
    assert [(line.quantity, line.unit_price, line.amount) for line in stored.lines] == [
        (Decimal("2000"), Decimal("0.0845"), None),
        (Decimal("1500"), Decimal("0.021"), Decimal("31.50")),
    ]
    assert stored.credited_invoice_number == "NF-10001"  # the invoice it corrects
    # Applied twice, it does nothing more; a positive document is left as it is.
    assert document_with_positive_total(stored) == stored
    assert document_with_positive_total(DOCUMENT) is DOCUMENT
    # A negative credit note bills: an invoice, whose reference to a credited invoice goes.
    billed = document_with_positive_total(replace(negative, document_type="credit_note"))
    assert (billed.document_type, billed.converted_from, billed.credited_invoice_number) == (
        "invoice",
        "credit_note",
        "",
    )
    # The content of a negative document is the content it is stored with.
    assert document_content(negative) == document_content(stored)
