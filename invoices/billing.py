"""Which invoices no longer bill: the statuses whose documents count for nothing any more, defined
once. A void or rejected invoice is not owed, is not billed against its PO lines (matching's
"already billed", the PO page's totals), is nobody's original (duplicate detection), and a void or
rejected credit note takes nothing off its invoice (open balances, the allocation trigger).

Plain strings, no ORM, so the pure matching engine reads the same set as the queries do; they are
`invoices.models.InvoiceStatus` values, and both are final in the lifecycle (nothing brings such an
invoice back, so what it no longer bills never comes back either). tests/invoices/test_billing.py
ties the set to those statuses and to its SQL twin in the allocation trigger
(payments.migrations.0007_allocation_limit_on_amount_due).

Not the complement of what is payable: an invoice in review or on hold still bills (it counts as
billed and can be duplicated) but is not yet to be paid (payments.reconciliation.loading.
PAYABLE_STATUSES).
"""

from __future__ import annotations

NO_LONGER_BILLING: frozenset[str] = frozenset({"void", "rejected"})

# A draft bills nothing yet: a clerk is still typing it in. It is nobody's original and claims no
# PO line until it is submitted (and then matched like any invoice). It credits nothing either,
# which the database holds (constraint `invoice_draft_credits_nothing`), so open balances and the
# allocation trigger, which read NO_LONGER_BILLING, need not name it.
NOT_YET_BILLING: frozenset[str] = frozenset({"draft"})

# What matching and the PO page leave out of "billed" and "earlier invoices".
NOT_BILLING: frozenset[str] = NO_LONGER_BILLING | NOT_YET_BILLING
