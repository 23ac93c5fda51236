"""Re-matching when a vendor's bank accounts change (issue #19 items 2 and 6).

An invoice flagged `bank_account_mismatch` or `bank_account_changed` was judged against the
vendor's accounts as they were: once a change is approved, rejected or an account retired, the
flag may no longer hold (the account named is now the vendor's) or a new one may (a change now
approved and cooling off). The vendor's open invoices (on hold, in review) whose latest match
carries one of these go back to matching (matching.rematch). Called by whoever decided, after
the decision (vendors.bank_accounts cannot call up: vendors sits below matching).
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef

from core.actors import Actor
from invoices.models import DocumentType, Invoice
from matching.engine.vocabulary import BANK_ACCOUNT_CHANGED, BANK_ACCOUNT_MISMATCH
from matching.models import Discrepancy
from matching.rematch import MOVED_BACK, RematchOutcome, matching_rematch
from tenants.models import Tenant
from vendors.models import Vendor

BANK_ACCOUNTS_CHANGED = "Bank accounts of vendor {vendor} changed: matching again."
BANK_ACCOUNT_SIGNALS = (BANK_ACCOUNT_MISMATCH, BANK_ACCOUNT_CHANGED)


def matching_rematch_for_bank_accounts(*, tenant: Tenant, vendor: Vendor, actor: Actor) -> RematchOutcome:
    """Re-match the vendor's open invoices whose latest match has a bank-account signal, after
    one of its accounts was approved, rejected or retired."""
    flagged = Discrepancy.objects.for_tenant(tenant).filter(
        match_result_id=OuterRef("latest_match_id"), type__in=BANK_ACCOUNT_SIGNALS
    )
    invoice_ids = list(
        Invoice.objects.for_tenant(tenant)
        .filter(vendor_id=vendor.pk, status__in=MOVED_BACK, document_type=DocumentType.INVOICE)
        .filter(Exists(flagged))
        .order_by("created_at", "id")
        .values_list("pk", flat=True)
    )
    return matching_rematch(
        tenant=tenant,
        invoice_ids=invoice_ids,
        actor=actor,
        reason=BANK_ACCOUNTS_CHANGED.format(vendor=vendor.name),
        facts={"vendor_id": vendor.pk, "bank_accounts": "changed"},
    )
