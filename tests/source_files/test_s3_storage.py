"""Kept files in an S3-compatible bucket (SOURCE_FILES_S3_BUCKET): the same keeping and reading as
on disk, over real HTTP to moto's server (conftest.py), through the one `source_files` storage."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from core.actors import system_actor
from invoices.models import Invoice
from source_files.models import SourceFile
from source_files.selectors import source_file_of_document, source_file_open
from source_files.services import PDF, XML, source_file_keep, storage_name_of
from source_files.storage import SourceFileS3Storage
from tenants.models import Role, Tenant
from tests.factories import MembershipFactory

TESTS = Path(__file__).resolve().parent.parent
UBL = TESTS / "invoices" / "testdata" / "ubl" / "base-example.xml"
ACTOR = system_actor("tests")


@pytest.fixture(autouse=True)
def _no_matching_tasks(settings: Any) -> None:
    settings.MATCH_ON_INGEST = False


def bucket_keys(storage: SourceFileS3Storage) -> list[str]:
    """Every object key in the storage's bucket, as the endpoint lists them."""
    listing = storage.connection.meta.client.list_objects_v2(Bucket=storage.bucket_name)
    return sorted(entry["Key"] for entry in listing.get("Contents", []))


def upload_xml(client: APIClient, content: bytes, name: str) -> Any:
    handle = io.BytesIO(content)
    handle.name = name
    return client.post("/api/invoices/import/xml", {"file": handle}, format="multipart")


def count_writes(storage: SourceFileS3Storage, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    written: list[str] = []
    save = storage._save

    def counting_save(name: str, content: Any) -> str:
        written.append(name)
        return save(name, content)

    monkeypatch.setattr(storage, "_save", counting_save)
    return written


def test_an_imported_file_is_stored_in_the_bucket_under_its_tenant_privately_and_encrypted(
    s3_storage: SourceFileS3Storage, api: APIClient, tenant: Tenant
) -> None:
    content = UBL.read_bytes()
    assert upload_xml(api, content, "base-example.xml").status_code == 201
    kept = SourceFile.objects.for_tenant(tenant).get()
    sha256 = hashlib.sha256(content).hexdigest()
    assert kept.storage_name == storage_name_of(tenant_id=tenant.pk, sha256=sha256)
    assert bucket_keys(s3_storage) == [f"{tenant.pk}/{sha256[:2]}/{sha256}"]
    client = s3_storage.connection.meta.client
    head = client.head_object(Bucket=s3_storage.bucket_name, Key=kept.storage_name)
    assert head["ContentLength"] == len(content)
    assert head["ServerSideEncryption"] == "AES256"
    # No grant beyond the bucket owner's own: nobody else, and no public read.
    acl = client.get_object_acl(Bucket=s3_storage.bucket_name, Key=kept.storage_name)
    assert [grant["Grantee"].get("ID") for grant in acl["Grants"]] == [acl["Owner"]["ID"]]
    assert all(grant["Grantee"]["Type"] == "CanonicalUser" for grant in acl["Grants"])


def test_the_same_bytes_twice_are_one_object_and_each_tenant_has_its_own(
    s3_storage: SourceFileS3Storage,
    api: APIClient,
    foreign_api: APIClient,
    tenant: Tenant,
    other_tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    written = count_writes(s3_storage, monkeypatch)
    content = UBL.read_bytes()
    assert upload_xml(api, content, "a.xml").status_code == 201
    assert upload_xml(api, content, "renamed.xml").status_code == 200
    assert upload_xml(foreign_api, content, "b.xml").status_code == 201
    mine = SourceFile.objects.for_tenant(tenant).get()
    theirs = SourceFile.objects.for_tenant(other_tenant).get()
    assert written == [mine.storage_name, theirs.storage_name]
    assert bucket_keys(s3_storage) == sorted([mine.storage_name, theirs.storage_name])
    assert mine.storage_name.startswith(f"{tenant.pk}/") and theirs.storage_name.startswith(f"{other_tenant.pk}/")


def test_reading_back_streams_the_same_bytes_and_seeks(s3_storage: SourceFileS3Storage, tenant: Tenant) -> None:
    # Several read buffers long, so a read is many chunks of one HTTP body.
    content = os.urandom(300_000)
    kept = source_file_keep(
        tenant=tenant, binary=io.BytesIO(content), filename="scan.pdf", content_type=PDF, actor=ACTOR
    )
    with source_file_open(kept) as stored:
        assert stored.read(10) == content[:10]
        assert stored.read() == content[10:]
        # What the XML reader and FileResponse do: back to the start, to the end, into the middle.
        assert stored.seek(0) == 0 and stored.read(5) == content[:5]
        assert stored.seek(0, io.SEEK_END) == len(content) and stored.read() == b""
        assert stored.seek(123_456) == 123_456 and stored.read(1000) == content[123_456:124_456]
        assert stored.tell() == 124_456


def test_a_kept_file_is_served_from_the_bucket_on_the_invoice_page(
    s3_storage: SourceFileS3Storage, api: APIClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    content = UBL.read_bytes()
    invoice_id = upload_xml(api, content, "base-example.xml").json()["id"]
    url = reverse("web:invoice-original", kwargs={"invoice_id": invoice_id})
    clerk = Client()
    clerk.force_login(MembershipFactory(tenant=tenant, role=Role.CLERK).user)
    served = clerk.get(url)
    assert (served.status_code, served["Content-Type"], served["Content-Length"]) == (200, XML, str(len(content)))
    assert b"".join(served.streaming_content) == content
    # The page prints the XML read back through the same storage.
    page = clerk.get(reverse("web:invoice-detail", kwargs={"invoice_id": invoice_id}))
    assert 'data-testid="original-xml"' in page.content.decode()
    # Another tenant's clerk reaches neither the file nor its row.
    foreign = Client()
    foreign.force_login(MembershipFactory(tenant=other_tenant, role=Role.CLERK).user)
    assert foreign.get(url).status_code == 404


def test_another_tenant_cannot_open_the_file_through_the_selectors(
    s3_storage: SourceFileS3Storage, api: APIClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    invoice_id = upload_xml(api, UBL.read_bytes(), "base-example.xml").json()["id"]
    label = Invoice._meta.label_lower
    assert source_file_of_document(tenant=tenant, model_label=label, document_id=invoice_id) is not None
    assert source_file_of_document(tenant=other_tenant, model_label=label, document_id=invoice_id) is None
    assert not SourceFile.objects.for_tenant(other_tenant).exists()


def test_a_rolled_back_import_leaves_no_row_and_its_object_is_adopted_by_the_next(
    s3_storage: SourceFileS3Storage, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The object is written inside the import's transaction, so a rollback cannot take it back:
    it stays in the bucket without a row (nothing reads it but through a row), and the next
    keeping of the same content for the tenant finds it under the same name and writes nothing."""
    written = count_writes(s3_storage, monkeypatch)
    content = b"<Invoice>rolled back</Invoice>"
    with pytest.raises(RuntimeError), transaction.atomic():
        source_file_keep(tenant=tenant, binary=io.BytesIO(content), filename="x.xml", content_type=XML, actor=ACTOR)
        raise RuntimeError("the import failed")
    assert not SourceFile.objects.for_tenant(tenant).exists()
    name = storage_name_of(tenant_id=tenant.pk, sha256=hashlib.sha256(content).hexdigest())
    assert bucket_keys(s3_storage) == [name] and written == [name]

    kept = source_file_keep(tenant=tenant, binary=io.BytesIO(content), filename="x.xml", content_type=XML, actor=ACTOR)
    assert kept.storage_name == name and written == [name]
    with source_file_open(kept) as stored:
        assert stored.read() == content


def test_a_missing_object_is_file_not_found_as_on_disk(s3_storage: SourceFileS3Storage, tenant: Tenant) -> None:
    kept = source_file_keep(
        tenant=tenant, binary=io.BytesIO(b"gone"), filename="gone.csv", content_type="text/csv", actor=ACTOR
    )
    s3_storage.delete(kept.storage_name)
    with pytest.raises(FileNotFoundError):
        source_file_open(kept)
