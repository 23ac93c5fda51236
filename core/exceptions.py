"""The base of every domain error; the API maps each to its status and envelope code."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A business rule said no. Subclasses set `status_code` and `code`."""

    status_code = 400
    code = "domain_error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class ConflictError(DomainError):
    status_code = 409
    code = "conflict"


class NotFoundError(DomainError):
    status_code = 404
    code = "not_found"


class DocumentInvalid(DomainError):
    """A document (vendor, PO, receipt, invoice) broke a rule; `details` maps field → messages."""

    status_code = 400
    code = "validation_error"


class DuplicateDocument(ConflictError):
    code = "duplicate"
