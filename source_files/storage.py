"""The kept files in an S3-compatible bucket: django-storages' S3 storage, read as a stream.

settings.STORAGES["source_files"] names this backend when SOURCE_FILES_S3_BUCKET is set
(recon_site/settings/base.py); everything else reaches it through `source_file_storage()` as it
would the FileSystemStorage. It differs from S3Storage in reading only: S3Storage's file for
"rb" downloads the whole object into a temporary file (in memory, by default) before the first
byte is read, so serving a 25 MiB statement held 25 MiB per request. Here a read is the object's
HTTP body, fetched as it is read, and still seekable like a file on disk (the XML reader rewinds,
and FileResponse seeks to the end for Content-Length): a seek costs nothing until the next read,
which then asks for a range from the new position, pinned to the same object by its ETag.
"""

from __future__ import annotations

import io
from typing import Any

from botocore.exceptions import ClientError
from django.core.files import File
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

# What a read asks of the bucket at a time: the same block FileResponse sends.
_READ_BUFFER = 1 << 16


def _not_found(error: ClientError) -> bool:
    return error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404


class S3ObjectReader(io.RawIOBase):
    """One S3 object as a seekable, read-only raw stream over its HTTP body (module docstring)."""

    def __init__(self, *, s3_object: Any, first_response: dict[str, Any]) -> None:
        super().__init__()
        self._object = s3_object
        self._etag: str = first_response["ETag"]
        self.size: int = first_response["ContentLength"]
        self._body: Any = first_response["Body"]
        self._body_position = 0  # where the open body's next byte sits in the object
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError(f"negative seek position {base + offset}")
        self._position = base + offset
        return self._position

    def readinto(self, buffer: Any) -> int:
        if self._position >= self.size:
            return 0
        if self._body is not None and self._body_position != self._position:
            self._body.close()
            self._body = None
        if self._body is None:
            self._body = self._ranged_body(self._position)
            self._body_position = self._position
        chunk = self._body.read(len(buffer))
        buffer[: len(chunk)] = chunk
        self._position += len(chunk)
        self._body_position += len(chunk)
        return len(chunk)

    def _ranged_body(self, start: int) -> Any:
        try:
            response = self._object.get(Range=f"bytes={start}-", IfMatch=self._etag)
        except ClientError as error:
            # Gone or replaced since it was opened: an I/O error, as a file removed under a reader.
            raise OSError(f"{self._object.key} changed or went while being read: {error}") from error
        return response["Body"]

    def close(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None
        super().close()


class SourceFileS3Storage(S3Storage):
    """S3Storage whose "rb" files stream (module docstring); writes are S3Storage's own."""

    def _open(self, name: str, mode: str = "rb") -> File:
        if mode != "rb":
            return super()._open(name, mode)
        key = self._normalize_name(clean_name(name))
        s3_object = self.bucket.Object(key)
        # No download parameters: the settings configure no customer-provided keys (SSE-C), the
        # one kind of encryption a GET would have to name.
        try:
            first_response = s3_object.get()
        except ClientError as error:
            if _not_found(error):
                raise FileNotFoundError(f"File does not exist: {key}") from error
            raise
        reader = S3ObjectReader(s3_object=s3_object, first_response=first_response)
        return File(io.BufferedReader(reader, buffer_size=_READ_BUFFER), name=name)
