"""The 3-way matching engine: pure functions over plain data (see types.py).

    match_batch(invoices, context) -> list[MatchOutcome | MatchFailure]

Invoices are matched in the order given (the caller passes them oldest first); what each one
bills is added to the context's PO lines before the next, so invoices of one batch see each
other. An invoice whose matching raises becomes a `MatchFailure`; the others are unaffected.
Same input, same output.
"""

from __future__ import annotations

from matching.engine.batch import match_batch, match_invoice
from matching.engine.types import (
    ENGINE_VERSION,
    Discrepancy,
    InvoiceLineRecord,
    InvoiceRecord,
    LineAssignment,
    MatchContext,
    MatchFailure,
    MatchOutcome,
    MatchSettings,
    PriorInvoiceRecord,
    PurchaseOrderLineRecord,
    PurchaseOrderRecord,
    VendorRecord,
)
from matching.engine.vocabulary import DISCREPANCY_TYPES

__all__ = [
    "DISCREPANCY_TYPES",
    "ENGINE_VERSION",
    "Discrepancy",
    "InvoiceLineRecord",
    "InvoiceRecord",
    "LineAssignment",
    "MatchContext",
    "MatchFailure",
    "MatchOutcome",
    "MatchSettings",
    "PriorInvoiceRecord",
    "PurchaseOrderLineRecord",
    "PurchaseOrderRecord",
    "VendorRecord",
    "match_batch",
    "match_invoice",
]
