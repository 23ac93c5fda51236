"""The reconciliation engine: which open invoices a bank payment pays (DESIGN.md §6). Pure.

Input: one debit payment, the tenant's open invoices (same currency only are considered) and
its vendors with their names, aliases and known counterparty accounts. Output: a `Proposal`
(allocations, tier, confidence, a one-line reason, suggestion or auto-applicable) or `None`.

The tiers (payments.reconciliation.tiers), strongest first; the first that answers wins:

1. Reference: invoice number(s) found in the remittance text, and the payment equals the open
   balance of one referenced invoice or the sum of several (`tier_reference`).
2. Vendor + amount: the vendor is known and the payment equals exactly one of its open balances;
   several equal balances are only a suggestion (`tier_vendor_amount`).
3. Vendor + sum: the payment equals the sum of a small set of the vendor's open balances
   (`tier_vendor_sum`).
4. Short payment: smaller than one open balance by at most the write-off tolerance
   (`tier_short_payment`).
5. Partial payment: a referenced invoice whose open balance is larger than the payment
   (`tier_partial_payment`).

Same input, same output: no clock, no randomness, ties broken by date and then id.
"""

from __future__ import annotations

from collections.abc import Sequence

from payments.reconciliation.counterparty import Evidence, VendorDirectory, identify_vendor
from payments.reconciliation.references import OpenInvoiceIndex
from payments.reconciliation.tiers import (
    PaymentFacts,
    Tier,
    tier_partial_payment,
    tier_reference,
    tier_short_payment,
    tier_vendor_amount,
    tier_vendor_sum,
)
from payments.reconciliation.types import OpenInvoice, PaymentRecord, Proposal, ReconcileSettings, VendorRecord

# Strongest first: a payment goes to the first tier that answers, so the order is the policy.
TIERS: tuple[Tier, ...] = (
    tier_reference,
    tier_vendor_amount,
    tier_vendor_sum,
    tier_short_payment,
    tier_partial_payment,
)


def reconcile_payment(
    payment: PaymentRecord,
    invoices: Sequence[OpenInvoice] | OpenInvoiceIndex,
    vendors: Sequence[VendorRecord] | VendorDirectory,
    settings: ReconcileSettings,
    *,
    identified_vendors: dict[tuple[str, str], tuple[VendorRecord, Evidence] | None] | None = None,
) -> Proposal | None:
    """The proposal for one payment, or None when no tier applies (see the module docstring).

    `identified_vendors`: who each (counterparty account, name) of the batch is, filled as the
    batch goes (the same shop or vendor pays many lines; each is compared with every vendor once).
    """
    if not payment.is_debit or payment.amount <= 0:
        return None
    index = invoices if isinstance(invoices, OpenInvoiceIndex) else OpenInvoiceIndex(invoices)
    counterparty = (payment.counterparty_account_hash, payment.counterparty_name)
    if identified_vendors is not None and counterparty in identified_vendors:
        identified = identified_vendors[counterparty]
    else:
        identified = identify_vendor(payment, vendors, fuzzy_threshold=settings.fuzzy_vendor_threshold)
        if identified_vendors is not None:
            identified_vendors[counterparty] = identified
    vendor, evidence = identified if identified else (None, None)
    currency = payment.currency
    referenced = index.referenced(currency, index.references_in(currency, payment.remittance_text))
    if vendor is not None and any(invoice.vendor_id == vendor.id for invoice in referenced):
        # The same number at two vendors ("123"): the counterparty says which one is meant.
        referenced = [invoice for invoice in referenced if invoice.vendor_id == vendor.id]
    facts = PaymentFacts(
        payment=payment, settings=settings, index=index, vendor=vendor, evidence=evidence, referenced=referenced
    )
    for tier in TIERS:
        proposal = tier(facts=facts)
        if proposal is not None:
            return proposal
    return None


def reconcile_batch(
    payments: Sequence[PaymentRecord],
    invoices: Sequence[OpenInvoice],
    vendors: Sequence[VendorRecord],
    settings: ReconcileSettings,
) -> list[tuple[PaymentRecord, Proposal | None]]:
    """Every payment in booking order; what one auto-applied proposal takes is gone for the next.

    Suggestions take nothing: until a clerk accepts one, its invoices stay open for the others.
    """
    index = OpenInvoiceIndex(invoices)
    directory = VendorDirectory(vendors)
    identified_vendors: dict[tuple[str, str], tuple[VendorRecord, Evidence] | None] = {}
    results: list[tuple[PaymentRecord, Proposal | None]] = []
    # By the id itself: a UUID orders as its text does (fixed-width hex), without making the text.
    for payment in sorted(payments, key=lambda payment: (payment.booking_date, payment.id)):
        proposal = reconcile_payment(payment, index, directory, settings, identified_vendors=identified_vendors)
        if proposal is not None and proposal.auto_apply:
            for allocation in proposal.allocations:
                index.settle(allocation.invoice_id, allocation.amount)
        results.append((payment, proposal))
    return results
