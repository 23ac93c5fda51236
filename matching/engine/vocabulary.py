"""The engine's words and how it writes figures: discrepancy types and severities (part of the
API), the decisions a match leads to, and the texts that print
quantities, unit prices and percentages in discrepancy messages as a clerk would write them.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from core.money import CURRENCY_EXPONENTS

# --- vocabulary (part of the API) -----------------------------------------------------------
DUPLICATE_INVOICE = "duplicate_invoice"
POSSIBLE_DUPLICATE = "possible_duplicate"
UNKNOWN_VENDOR = "unknown_vendor"
MISSING_PO = "missing_po"
PO_NOT_FOUND = "po_not_found"
PO_CLOSED = "po_closed"
VENDOR_MISMATCH = "vendor_mismatch"
CURRENCY_MISMATCH = "currency_mismatch"
UNMATCHED_LINE = "unmatched_line"
PRICE_MISMATCH = "price_mismatch"
QUANTITY_EXCEEDS_PO = "quantity_exceeds_po"
QUANTITY_NOT_RECEIVED = "quantity_not_received"
RECEIPT_MISSING = "receipt_missing"
TOTAL_MISMATCH = "total_mismatch"
TAX_MISMATCH = "tax_mismatch"
# Risk signals (risk.py, issue #19 items 2 and 6): where the money would go, and whether the amount
# or the vendor is out of the ordinary.
BANK_ACCOUNT_MISMATCH = "bank_account_mismatch"
BANK_ACCOUNT_CHANGED = "bank_account_changed"
SHARED_BANK_ACCOUNT = "shared_bank_account"
UNUSUAL_AMOUNT = "unusual_amount"
NEW_VENDOR_LARGE_INVOICE = "new_vendor_large_invoice"
# Raised by payments, not by the engine: the bank returned a run's credit transfer (issue #19 item 5).
PAYMENT_RETURNED = "payment_returned"

DISCREPANCY_TYPES = (
    DUPLICATE_INVOICE, POSSIBLE_DUPLICATE, UNKNOWN_VENDOR, MISSING_PO, PO_NOT_FOUND, PO_CLOSED,
    VENDOR_MISMATCH, CURRENCY_MISMATCH, UNMATCHED_LINE, PRICE_MISMATCH, QUANTITY_EXCEEDS_PO,
    QUANTITY_NOT_RECEIVED, RECEIPT_MISSING, TOTAL_MISMATCH, TAX_MISMATCH, BANK_ACCOUNT_MISMATCH,
    BANK_ACCOUNT_CHANGED, SHARED_BANK_ACCOUNT, UNUSUAL_AMOUNT, NEW_VENDOR_LARGE_INVOICE, PAYMENT_RETURNED,
)  # fmt: skip
# Types written by other parts of Recon on an invoice's latest result, never by a match.
RAISED_OUTSIDE_ENGINE = frozenset({PAYMENT_RETURNED})

# What a clerk reads for each type (pages, exports, the API's `type_label`): what differs, and
# from what, rather than the code.
DISCREPANCY_TYPE_LABELS = {
    DUPLICATE_INVOICE: "Duplicate invoice",
    POSSIBLE_DUPLICATE: "Possible duplicate",
    UNKNOWN_VENDOR: "Vendor not recognised",
    MISSING_PO: "No PO number",
    PO_NOT_FOUND: "PO not found",
    PO_CLOSED: "PO closed or cancelled",
    VENDOR_MISMATCH: "PO is another vendor's",
    CURRENCY_MISMATCH: "Currency differs from PO",
    UNMATCHED_LINE: "Line not on the PO",
    PRICE_MISMATCH: "Price differs from PO",
    QUANTITY_EXCEEDS_PO: "More billed than ordered",
    QUANTITY_NOT_RECEIVED: "More billed than received",
    RECEIPT_MISSING: "Goods not received yet",
    TOTAL_MISMATCH: "Total does not add up",
    TAX_MISMATCH: "Tax does not add up",
    BANK_ACCOUNT_MISMATCH: "Bank account not on vendor's record",
    BANK_ACCOUNT_CHANGED: "Vendor's bank account changed recently",
    SHARED_BANK_ACCOUNT: "Bank account shared with another vendor",
    UNUSUAL_AMOUNT: "Amount unusual for this vendor",
    NEW_VENDOR_LARGE_INVOICE: "Large first invoice from a new vendor",
    PAYMENT_RETURNED: "Payment returned by the bank",
}

LOW, MEDIUM, HIGH, CRITICAL = "low", "medium", "high", "critical"
SERIOUS = frozenset({HIGH, CRITICAL})

# Decisions: the invoice status the match leads to.
APPROVED, PENDING_REVIEW, ON_HOLD, REJECTED = "approved", "pending_review", "on_hold", "rejected"
STANDARD, ESCALATED = "standard", "escalated"


def quantity_text(value: Decimal) -> str:
    """`Decimal("400.0000")` → `"400"`, `Decimal("2.5000")` → `"2.5"`: how a clerk writes it."""
    return format(value.normalize(), "f")


def price_text(value: Decimal, currency: str) -> str:
    """A unit price as an invoice prints it: at least the currency's decimals (`"18.40"` EUR,
    `"1250"` JPY), more when the price has them (`"0.0845"`)."""
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int), value  # a price is finite: NaN and infinity have no digits
    digits = -exponent if value else 0
    places = max(CURRENCY_EXPONENTS.get(currency, 2), digits)
    return format(value.quantize(Decimal(1).scaleb(-places)), "f")


def percent_text(value: Decimal) -> str:
    return quantity_text(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
