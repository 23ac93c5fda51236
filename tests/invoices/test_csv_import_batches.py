"""The invoices CSV import writes in batches (InvoicesCsv.batch_rows) through the many-documents
door: still all or nothing for the file, problems by row and column, duplicates reported."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from core.quantities import MUST_BE_POSITIVE
from invoices.ingest.csv_import import InvoicesCsv
from invoices.models import Invoice, InvoiceLine
from tenants.models import Tenant
from tests.factories import VendorFactory
from tests.invoices.test_csv_import import INVOICES, errors_of, upload

HEADER = "invoice_number,vendor_name,vendor_tax_id,currency,invoice_date,total_amount,description,quantity,unit_price"


@pytest.fixture(autouse=True)
def _small_batches(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three rows a batch, so a file of a few invoices is written in several."""
    settings.MATCH_ON_INGEST = False
    monkeypatch.setattr(InvoicesCsv, "batch_rows", 3)


def invoice_rows(number: str, quantity: str = "1", vendor: str = "Nordic Fasteners AB,") -> str:
    return (
        f"{number},{vendor},EUR,2026-10-10,30.00,Bolts,{quantity},10.00\n"
        f"{number},{vendor},EUR,2026-10-10,30.00,Nuts,2,10.00\n"
    )


def test_a_bad_row_in_a_later_batch_leaves_every_batch_unwritten(api: APIClient, tenant: Tenant) -> None:
    VendorFactory(tenant=tenant, name="Nordic Fasteners AB")
    events_before = AuditEvent.objects.for_tenant(tenant).count()
    content = HEADER + "\n" + "".join(invoice_rows(f"B-{n}") for n in range(1, 5)) + invoice_rows("B-5", quantity="-1")
    details = errors_of(upload(api, INVOICES, content.encode()))
    assert details == {"row 10, column quantity": [MUST_BE_POSITIVE]}
    assert not Invoice.objects.for_tenant(tenant).exists()
    assert AuditEvent.objects.for_tenant(tenant).count() == events_before


def test_a_file_of_several_batches_is_stored_in_file_order_with_its_resends_reported(
    api: APIClient, tenant: Tenant
) -> None:
    VendorFactory(tenant=tenant, name="Nordic Fasteners AB", tax_id="SE556677889901")
    # C-2 again, naming the vendor by its tax id: a different key for the file, the same document.
    content = (
        HEADER
        + "\n"
        + "".join(invoice_rows(f"C-{n}") for n in range(1, 5))
        + invoice_rows("C-2", vendor=",SE556677889901")
    )
    response = upload(api, INVOICES, content.encode())
    assert response.status_code == 201, response.content
    report = response.json()
    assert (report["created"], report["duplicates"]) == (4, 1)
    stored = {str(invoice.pk): invoice.invoice_number for invoice in Invoice.objects.for_tenant(tenant)}
    assert [stored[pk] for pk in report["created_ids"]] == ["C-1", "C-2", "C-3", "C-4"]
    assert report["duplicate_documents"] == [{"row": 10, "number": "C-2", "id": report["created_ids"][1]}]
    assert InvoiceLine.objects.for_tenant(tenant).count() == 8
    again = upload(api, INVOICES, content.encode()).json()
    assert (again["created"], again["duplicates"]) == (0, 5)


def test_each_batch_appends_its_audit_events_as_it_is_written(
    api: APIClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Flat memory: a batch's events are rows of the file's transaction once the batch is written,
    not held to the end of the file; the file still commits whole, every invoice audited once."""
    VendorFactory(tenant=tenant, name="Nordic Fasteners AB")
    created_events: list[int] = []  # the invoices' creation events stored when each batch starts
    write_batch = InvoicesCsv.create_many

    def counting(kind: InvoicesCsv, documents: list[Any]) -> list[Any]:
        created_events.append(
            AuditEvent.objects.for_tenant(tenant).filter(action="created", entity_type="invoice").count()
        )
        return write_batch(kind, documents)

    monkeypatch.setattr(InvoicesCsv, "create_many", counting)
    content = HEADER + "\n" + "".join(invoice_rows(f"E-{n}") for n in range(1, 7))
    response = upload(api, INVOICES, content.encode())
    assert response.status_code == 201, response.content
    assert created_events == [0, 2, 4]  # two invoices (four rows) a batch: three rows fill one
    events = AuditEvent.objects.for_tenant(tenant).filter(action="created", entity_type="invoice")
    assert sorted(events.values_list("entity_id", flat=True)) == sorted(response.json()["created_ids"])


def test_a_large_file_is_written_by_copy_and_a_bad_last_row_leaves_all_of_it_unwritten(
    api: APIClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """12,000 rows in batches of the real size: the bulk chunks' lines go in by COPY (awkward text
    kept as written); the same file with one bad row at its end writes nothing at all."""
    monkeypatch.setattr(InvoicesCsv, "batch_rows", 5000)
    VendorFactory(tenant=tenant, name="Nordic Fasteners AB")
    description = '"Bolts; M8 \\N, tab\t and ""quotes"" — ünïcode"'  # a CSV cell: quoted, its quotes doubled
    rows = "".join(
        f"L-{number // 4},Nordic Fasteners AB,,EUR,2026-10-10,40.00,{description},1,10.00\n" for number in range(12_000)
    )
    content = (HEADER + "\n" + rows).encode()
    events_before = AuditEvent.objects.for_tenant(tenant).count()

    bad = content + b"L-BAD,Nordic Fasteners AB,,EUR,2026-10-10,10.00,Bolts,-1,10.00\n"
    assert errors_of(upload(api, INVOICES, bad)) == {"row 12002, column quantity": [MUST_BE_POSITIVE]}
    assert not Invoice.objects.for_tenant(tenant).exists() and not InvoiceLine.objects.for_tenant(tenant).exists()
    assert AuditEvent.objects.for_tenant(tenant).count() == events_before

    response = upload(api, INVOICES, content)
    assert response.status_code == 201, response.content
    assert response.json()["created"] == 3000
    lines = InvoiceLine.objects.for_tenant(tenant)
    assert lines.count() == 12_000
    assert set(lines.values_list("description", flat=True)) == {'Bolts; M8 \\N, tab\t and "quotes" — ünïcode'}
    assert AuditEvent.objects.for_tenant(tenant).filter(action="created", entity_type="invoice").count() == 3000
