"""Text PostgreSQL cannot store (U+0000) is refused where it comes in, by place (core.text)."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest

from core import text as text_module
from core.exceptions import DocumentInvalid
from core.text import NUL_REFUSED, nul_error, nul_lines, nul_paths
from invoices.documents import InvoiceDocument, InvoiceLineDocument
from invoices.models import Invoice
from invoices.services import invoice_create
from tenants.models import Tenant
from tests.factories import TEST_ACTOR


def test_nul_error_names_only_text_with_a_nul() -> None:
    assert nul_error("Nordic Fasteners AB") is None
    assert nul_error("") is None
    assert nul_error("Nordic\x00") == NUL_REFUSED


def test_nul_paths_name_every_place_in_document_order_as_the_api_reports_errors() -> None:
    document = {
        "invoice_number": "A\x00",
        "lines": [{"description": "ok"}, {"description": "\x00", "sku\x00": "x"}],
        "tags": ["fine", ["deep\x00"]],
        "total_amount": Decimal("1.00"),
        "vendor_id": None,
    }
    assert nul_paths(document, limit=10) == [
        "invoice_number",
        "lines[1].description",
        "lines[1].sku\\u0000",
        "tags[1][0]",
    ]
    assert nul_paths(document, limit=2) == ["invoice_number", "lines[1].description"]
    assert nul_paths(["a", "\x00"], limit=5) == ["[1]"]
    assert nul_paths("\x00", limit=5) == ["non_field_errors"]
    assert nul_paths({"a": [{"b": "clean"}]}, limit=5) == []


def test_nul_paths_walk_a_deep_document_without_recursion() -> None:
    node: object = "\x00"
    for _ in range(5_000):  # past Python's recursion limit
        node = [node]
    assert nul_paths(node, limit=1) == ["[0]" * 5_000]


def test_nul_lines_count_lines_across_chunks_and_report_each_line_once(monkeypatch: pytest.MonkeyPatch) -> None:
    content = b"ab\ncd\x00e\x00f\nxx\n" + b"\x00" * 40 + b"\nq\n\x00"
    for chunk in (3, 4, 7, 1 << 16):
        monkeypatch.setattr(text_module, "_CHUNK", chunk)
        binary = io.BytesIO(content)
        binary.seek(5)
        assert nul_lines(binary, limit=10) == [2, 4, 6], chunk
        assert binary.tell() == 0  # left at its start, for the parser
        assert nul_lines(io.BytesIO(content), limit=2) == [2, 4]
    assert nul_lines(io.BytesIO(b"clean\nfile\n"), limit=10) == []


def test_the_invoice_door_refuses_a_nul_in_any_text_before_looking_anything_up(
    tenant: Tenant, django_assert_num_queries: object
) -> None:
    """Whatever source calls it: each text field holding a NUL is named, and no query runs."""
    document = InvoiceDocument(
        invoice_number="NF\x001",
        currency="EUR",
        invoice_date=dt.date(2026, 10, 12),
        total_amount=Decimal("25.00"),
        vendor_name="Nordic\x00 Fasteners AB",
        lines=[
            InvoiceLineDocument(description="Bolts", quantity=Decimal(10), unit_price=Decimal("2.50")),
            InvoiceLineDocument(description="Nuts", sku="M8\x00", quantity=Decimal(1), unit_price=Decimal(1)),
        ],
    )
    with django_assert_num_queries(0), pytest.raises(DocumentInvalid) as refused:  # type: ignore[operator]
        invoice_create(tenant=tenant, document=document, actor=TEST_ACTOR)
    assert refused.value.details == {
        "invoice_number": [NUL_REFUSED],
        "vendor_name": [NUL_REFUSED],
        "lines[1].sku": [NUL_REFUSED],
    }
    assert not Invoice.objects.for_tenant(tenant).exists()
