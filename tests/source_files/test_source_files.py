"""Imported files are kept: once per tenant and content (SHA-256), through the storage API, linked
to every document they created, whichever door they came through; another tenant never sees them."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from audit.models import AuditEvent
from core.actors import system_actor
from invoices.models import Invoice
from payments.models import StatementImport
from purchasing.models import PurchaseOrder
from source_files.models import SourceFile, SourceFileDocument
from source_files.selectors import source_file_of_document, source_file_open
from source_files.services import XML, source_file_keep, source_file_storage, storage_name_of
from tenants.models import Tenant
from tests.factories import VendorFactory

TESTS = Path(__file__).resolve().parent.parent
SAMPLES = TESTS.parent / "docs" / "samples"
UBL = TESTS / "invoices" / "testdata" / "ubl" / "base-example.xml"
CAMT = TESTS / "payments" / "testdata" / "test-camt053.xml"


@pytest.fixture(autouse=True)
def _no_matching_tasks(settings: Any) -> None:
    settings.MATCH_ON_INGEST = False


def upload(client: APIClient, path: str, content: bytes, name: str, *, query: str = "") -> Any:
    handle = io.BytesIO(content)
    handle.name = name
    return client.post(path + query, {"file": handle}, format="multipart")


def kept_of(tenant: Tenant, model_label: str, document_id: Any) -> SourceFile | None:
    return source_file_of_document(tenant=tenant, model_label=model_label, document_id=document_id)


def test_the_same_file_twice_is_kept_once(api: APIClient, tenant: Tenant) -> None:
    content = UBL.read_bytes()
    first = upload(api, "/api/invoices/import/xml", content, "base-example.xml")
    again = upload(api, "/api/invoices/import/xml", content, "renamed.xml")
    assert (first.status_code, again.status_code) == (201, 200)
    kept = SourceFile.objects.for_tenant(tenant).get()
    assert (kept.filename, kept.size, kept.content_type) == ("base-example.xml", len(content), XML)
    assert kept.storage_name == storage_name_of(tenant_id=tenant.pk, sha256=kept.sha256)
    assert kept.storage_name.startswith(f"{tenant.pk}/")
    with source_file_open(kept) as stored:
        assert stored.read() == content
    assert kept_of(tenant, "invoices.invoice", first.json()["id"]) == kept
    # One audit event for the first keeping; the re-send linked nothing new.
    assert AuditEvent.objects.for_tenant(tenant).filter(entity_type="source_file", action="stored").count() == 1
    assert SourceFileDocument.objects.for_tenant(tenant).count() == 1


def test_each_tenant_keeps_its_own_copy_and_sees_only_it(
    api: APIClient, foreign_api: APIClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    content = UBL.read_bytes()
    mine = upload(api, "/api/invoices/import/xml", content, "a.xml").json()
    theirs = upload(foreign_api, "/api/invoices/import/xml", content, "b.xml").json()
    kept_a = SourceFile.objects.for_tenant(tenant).get()
    kept_b = SourceFile.objects.for_tenant(other_tenant).get()
    assert kept_a.sha256 == kept_b.sha256 and kept_a.storage_name != kept_b.storage_name
    assert source_file_storage().exists(kept_a.storage_name) and source_file_storage().exists(kept_b.storage_name)
    # Neither tenant reaches the other's file through a document id.
    assert kept_of(other_tenant, "invoices.invoice", mine["id"]) is None
    assert kept_of(tenant, "invoices.invoice", theirs["id"]) is None


def test_a_rollback_keeps_no_row(tenant: Tenant) -> None:
    """Kept in the caller's transaction: an import that fails after keeping leaves no row behind."""
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        source_file_keep(
            tenant=tenant, binary=io.BytesIO(b"<x/>"), filename="x.xml", content_type=XML, actor=system_actor("t")
        )
        raise RuntimeError("the import failed")
    assert not SourceFile.objects.for_tenant(tenant).exists()


def test_a_csv_of_invoices_is_kept_and_linked_to_every_invoice_it_created(api: APIClient, tenant: Tenant) -> None:
    content = (SAMPLES / "invoices.csv").read_bytes()
    dry = upload(api, "/api/invoices/import/csv", content, "invoices.csv", query="?dry_run=true")
    assert dry.status_code == 200 and not SourceFile.objects.for_tenant(tenant).exists()
    report = upload(api, "/api/invoices/import/csv", content, "invoices.csv").json()
    assert report["created_ids"]
    kept = SourceFile.objects.for_tenant(tenant).get()
    assert (kept.content_type, kept.filename) == ("text/csv", "invoices.csv")
    linked = set(kept.documents.values_list("document_id", flat=True))
    assert {str(pk) for pk in linked} == set(report["created_ids"])
    assert Invoice.objects.for_tenant(tenant).filter(pk__in=linked).count() == len(report["created_ids"])


def test_a_csv_of_purchase_orders_is_kept_and_linked(api: APIClient, tenant: Tenant) -> None:
    VendorFactory(tenant=tenant, name="Nordic Fasteners AB", tax_id="SE556677889901")
    content = (
        b"po_number,vendor_name,currency,order_date,line_number,description,quantity,unit_price\n"
        b"PO-K1,Nordic Fasteners AB,EUR,2026-10-01,1,Hex bolt,10,1.00\n"
    )
    response = upload(api, "/api/purchase-orders/import/csv", content, "orders.csv")
    assert response.status_code == 201, response.content
    purchase_order = PurchaseOrder.objects.for_tenant(tenant).get(po_number="PO-K1")
    assert kept_of(tenant, "purchasing.purchaseorder", purchase_order.pk).filename == "orders.csv"


def test_a_bank_statement_is_kept_and_linked_to_its_import(api: APIClient, tenant: Tenant) -> None:
    content = CAMT.read_bytes()
    dry = upload(api, "/api/payments/import", content, "statement.xml", query="?dry_run=true")
    assert dry.status_code == 200 and not SourceFile.objects.for_tenant(tenant).exists()
    report = upload(api, "/api/payments/import", content, "statement.xml").json()
    batch = StatementImport.objects.for_tenant(tenant).get(pk=report["import_id"])
    kept = kept_of(tenant, "payments.statementimport", batch.pk)
    assert (kept.content_type, kept.sha256) == ("application/xml", batch.file_sha256)
    # The same statement again: a second import, the same kept file.
    again = upload(api, "/api/payments/import", content, "statement.xml").json()
    assert kept_of(tenant, "payments.statementimport", again["import_id"]) == kept
    assert SourceFile.objects.for_tenant(tenant).count() == 1


def test_the_commands_keep_their_files_too(tenant: Tenant, tmp_path: Path) -> None:
    call_command(
        "import_csv", "invoices", str(SAMPLES / "invoices.csv"), "--tenant", tenant.slug, "--progress", "never"
    )
    call_command("import_statement", str(CAMT), "--tenant", tenant.slug)
    assert sorted(SourceFile.objects.for_tenant(tenant).values_list("filename", flat=True)) == [
        "invoices.csv",
        "test-camt053.xml",
    ]
