"""Text is data: names with bidi controls, emoji, SQL or spreadsheet formulas are stored and read
back exactly, one row each.
"""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from invoices.models import InvoiceLine
from tests.api.bad_input import INVOICES, VENDORS, World, baseline, send
from vendors.models import Vendor

# Text is stored as received and comes back byte for byte: bidi controls, emoji (with skin tones
# and zero-width joiners), SQL and spreadsheet formulas are data, not instructions. CSV exports
# escape the formulas (core/csv_safe.py); the API returns them as they are.
EXACT_TEXT = {
    "rtl-override": "Nova \u202eStrap\u202c GmbH",
    "bidi-isolates": "\u2067\u05e9\u05dc\u05d5\u05dd\u2069 Trading",
    "emoji": "Nova \U0001f680 Parts \U0001f469\U0001f3fd\u200d\U0001f527",
    "combining": "Cafe\u0301 Zu\u0308rich",
    "sql": "Robert'); DROP TABLE vendors_vendor; --",
    "formula-cmd": "=cmd|' /C calc'!A0",
    "formula-plus": "+SUM(A1:A9)",
    "formula-minus": "-2+3+cmd|' /C calc'!A0",
    "formula-at": '@HYPERLINK("http://evil.example","x")',
}


@pytest.mark.parametrize("text", EXACT_TEXT.values(), ids=EXACT_TEXT.keys())
def test_names_with_bidi_emoji_sql_or_formulas_are_stored_exactly(
    text: str, world: World, api: APIClient, document_counts: Any
) -> None:
    """Accepted (201), read back unchanged through the API and from the database, one row each."""
    before = document_counts()
    vendor = send(api, VENDORS, {**baseline(VENDORS, world), "name": text})
    assert vendor.status_code == 201, vendor.content
    invoice_body = baseline(INVOICES, world)
    invoice_body.update(vendor_id=vendor.json()["id"], invoice_number=f"INV-{text}")
    invoice_body["lines"][0]["description"] = text
    invoice = send(api, INVOICES, invoice_body)
    assert invoice.status_code == 201, invoice.content

    read_vendor = api.get(f"{VENDORS}/{vendor.json()['id']}").json()
    read_invoice = api.get(f"{INVOICES}/{invoice.json()['id']}").json()
    assert read_vendor["name"] == text
    assert read_invoice["invoice_number"] == f"INV-{text}"
    assert read_invoice["lines"][0]["description"] == text
    assert Vendor.objects.unscoped().get(pk=vendor.json()["id"]).name == text
    assert InvoiceLine.objects.unscoped().get(pk=read_invoice["lines"][0]["id"]).description == text
    # A filter is a literal match too: the SQL-ish name finds its vendor and nothing else.
    found = api.get(VENDORS, {"name": text}).json()["results"]
    assert [row["id"] for row in found] == [vendor.json()["id"]]
    after = document_counts()
    assert after == {**before, "Vendor": before["Vendor"] + 1, "Invoice": before["Invoice"] + 1, "InvoiceLine": 3}
