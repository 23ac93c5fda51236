"""Domain errors of the payments app; the API maps each to its status and envelope code."""

from __future__ import annotations

from core.exceptions import ConflictError, DomainError


class StatementInvalid(DomainError):
    """The statement file cannot be read; `details` maps a location to its problems. Nothing was written."""

    status_code = 400
    code = "statement_invalid"


class AllocationInvalid(DomainError):
    """A manual allocation asked for something impossible (amounts, currencies); nothing was written."""

    status_code = 400
    code = "validation_error"


class AllocationConflict(ConflictError):
    """The payment, invoice or allocation is not in a state that allows it; nothing was written."""

    code = "allocation_conflict"


class SuggestionStale(ConflictError):
    """The suggestion no longer holds (its invoices were paid or moved meanwhile); it was withdrawn."""

    code = "suggestion_stale"


class PaymentRunConflict(ConflictError):
    """The run, or one of its invoices, is not in a state that allows this; nothing was written."""

    code = "payment_run_conflict"


class FourEyesRequired(DomainError):
    """The person who proposed a payment run cannot approve it (DESIGN.md §6a)."""

    status_code = 403
    code = "four_eyes_required"
