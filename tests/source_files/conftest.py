"""A real S3 endpoint for the kept files' S3 storage: moto's server, in this process, over HTTP.

boto3 talks to it as it would to AWS or MinIO (signed requests, a socket, HTTP status codes), so
the storage, its reads and its errors are exercised as deployed; only the far end is moto.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

from recon_site.settings.base import source_files_s3_storage
from source_files.services import source_file_storage
from source_files.storage import SourceFileS3Storage

REGION = "eu-central-1"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_storage(s3_endpoint: str, settings: Any, monkeypatch: pytest.MonkeyPatch) -> SourceFileS3Storage:
    """The `source_files` storage as SOURCE_FILES_S3_* configure it, in a new bucket of its own."""
    # boto3's own variables, as an operator sets them; nothing from a developer's ~/.aws.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "recon-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "recon-test-secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    bucket = f"recon-files-{uuid.uuid4().hex[:12]}"
    settings.STORAGES = {
        **settings.STORAGES,
        "source_files": source_files_s3_storage(
            bucket=bucket, endpoint_url=s3_endpoint, region=REGION, encryption="AES256"
        ),
    }
    storage = source_file_storage()
    assert isinstance(storage, SourceFileS3Storage)
    storage.connection.meta.client.create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    return storage
