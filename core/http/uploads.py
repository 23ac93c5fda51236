"""File uploads (CSV, XML and bank statement imports): streamed to a spool file, bounded, fingerprinted.

An import takes its file either as a multipart form field `file` (what a browser or
`curl -F file=@invoices.csv` sends) or as the raw request body (`curl --data-binary @f.csv -H
"Content-Type: text/csv"`). Either way the bytes go to a `SpooledTemporaryFile` in chunks — in
memory up to 1 MiB, on disk past that — so a 25 MB file never sits in memory whole, and the
importer gets a seekable binary file it can read twice.

Why not `request.body`: Django refuses bodies over DATA_UPLOAD_MAX_MEMORY_SIZE (sized for JSON
documents), and reading it would hold the whole file in memory. Why a content digest: the
`Idempotency-Key` fingerprint must be the same when a client retries the same file, and a
multipart body is not (its boundary is random per request), so imports are fingerprinted by the
file's SHA-256 instead of the raw body.

Each import's limit is a setting (CSV_MAX_BYTES, XML_MAX_BYTES, PAYMENT_STATEMENT_MAX_BYTES),
named by every door that takes such a file: the API spools at most that many bytes
(`spool_upload`), and the importer itself, which a command also calls with a file on disk,
refuses a larger file (`file_size_check`). Both answer 413 `payload_too_large`, naming the setting.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.http import HttpRequest
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request

from core.exceptions import DomainError

FILE_FIELD = "file"
_SPOOL_IN_MEMORY = 1 << 20
_CHUNK = 1 << 16
# What a multipart envelope adds around the file (boundaries, part headers, other fields);
# a Content-Length past limit + this cannot hold a file within the limit.
_MULTIPART_OVERHEAD = 1 << 16

UPLOAD_TOO_LARGE = "The file is larger than the {limit} bytes accepted ({setting})."
FILE_TOO_LARGE = "The file is {size} bytes; at most {limit} bytes ({setting}) are accepted."
UPLOAD_MISSING = "Send the file as the request body, or as the multipart form field 'file'."
UPLOAD_EMPTY = "The file is empty."
DRY_RUN_INVALID = "dry_run must be true or false."
_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no", ""}


# An import action's parsers: multipart for the `file` field; a raw body is read from the stream
# by `spool_upload`, without a parser.
UPLOAD_PARSERS = [MultiPartParser]


class UploadTooLarge(DomainError):
    """A file over its import's limit (the setting the message names)."""

    status_code = 413
    code = "payload_too_large"


class UploadMissing(DomainError):
    status_code = 400
    code = "file_missing"


class QueryInvalid(DomainError):
    """A query parameter that cannot be read (400, in the envelope, under its name)."""

    code = "validation_error"


def dry_run_requested(request: Request) -> bool:
    """`?dry_run=true|false` of an import (also 1/0, yes/no; absent: false); anything else is a 400."""
    value = request.query_params.get("dry_run", "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise QueryInvalid(DRY_RUN_INVALID, details={"dry_run": [DRY_RUN_INVALID]})


@dataclass
class SpooledUpload:
    """The uploaded bytes, seekable, with their size and SHA-256."""

    file: IO[bytes]
    size: int
    sha256: str
    filename: str

    def close(self) -> None:
        self.file.close()


def _copy_bounded(source: IO[bytes] | HttpRequest, *, limit: int, setting: str) -> tuple[IO[bytes], int, str]:
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115 - the caller closes it
    digest = hashlib.sha256()
    size = 0
    try:
        while chunk := source.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise UploadTooLarge(UPLOAD_TOO_LARGE.format(limit=limit, setting=setting))
            digest.update(chunk)
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool, size, digest.hexdigest()


def file_size_check(*, binary: IO[bytes], setting: str) -> int:
    """The size of a seekable file, rewound; 413 when it is over the limit `setting` names."""
    binary.seek(0, io.SEEK_END)
    size = binary.tell()
    binary.seek(0)
    limit = getattr(settings, setting)
    if size > limit:
        raise UploadTooLarge(FILE_TOO_LARGE.format(size=size, limit=limit, setting=setting))
    return size


def spool_upload(request: Request, *, setting: str) -> SpooledUpload:
    """The request's file, copied in chunks to a spool file; 413 past the limit `setting` names.

    `setting` is the import's limit (CSV_MAX_BYTES, XML_MAX_BYTES, ...), read now and named in
    the message. A declared Content-Length that is already too large is refused before a byte
    is read.
    """
    limit = getattr(settings, setting)
    django_request = request._request
    declared = int(django_request.META.get("CONTENT_LENGTH") or 0)
    is_multipart = (django_request.content_type or "").startswith("multipart/form-data")
    if declared > limit + (_MULTIPART_OVERHEAD if is_multipart else 0):
        raise UploadTooLarge(UPLOAD_TOO_LARGE.format(limit=limit, setting=setting))
    if is_multipart:
        upload = request.FILES.get(FILE_FIELD)
        if upload is None:
            raise UploadMissing(UPLOAD_MISSING, details={FILE_FIELD: [UPLOAD_MISSING]})
        upload.seek(0)
        file, size, sha256 = _copy_bounded(upload, limit=limit, setting=setting)
        filename = upload.name or ""
    else:
        file, size, sha256 = _copy_bounded(django_request, limit=limit, setting=setting)
        filename = ""
    if size == 0:
        file.close()
        raise UploadMissing(UPLOAD_EMPTY, details={FILE_FIELD: [UPLOAD_EMPTY]})
    return SpooledUpload(file=file, size=size, sha256=sha256, filename=filename)
