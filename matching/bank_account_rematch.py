"""Re-matching when a vendor's bank accounts change (issue #19 items 2 and 6).

An invoice flagged `bank_account_mismatch` or `bank_account_changed` was judged against the
vendor's accounts as they were. The flag may no longer hold once, after that match, a change of
the vendor's accounts was decided (approved or rejected: `decided_at`) or an account replaced
(`retired_at`): the account the invoice names may now be the vendor's (the mismatch goes; while
the new account cools off the invoice reads `bank_account_changed` instead), or a rejected
change leaves nothing waiting.

The end of a cooling-off period re-matches nothing: `bank_account_changed` is about when the
invoice arrived (before the new account's `usable_from`, matching.engine.risk), which a later
match does not change. Such an invoice stays in review for a person who has confirmed the change
with the vendor; the vendor's invoices that arrive after the cooling-off are matched clean.

Such invoices, open (on hold, in review), go back to matching (matching.rematch) in the name of
the `bank_account` system actor, the reason naming the vendor. Found by the matching run before
it loads its batch, as credit notes are (matching.rematch's module docstring says why a run and
not the door): vendors sits below matching and cannot call up, and every door that decides (the
vendor page, the API, the admin) is covered without a layering exception. What the run looks
for (a decision or replacement later than the invoice's latest match) is still there after any
crash and is gone once the invoice is matched again, so each change re-matches an invoice once.
The schedule (matching.tasks.run_matching_all) runs tenants with such invoices even when nothing
waits in `received`, so the re-match comes within one schedule period of the decision.

An invoice of no known vendor (`unknown_vendor`) that asks to be paid to an account approved, since
its latest match, as some vendor's current account goes back the same way: the engine now knows
the vendor by that account (matching.engine.vendor), as it would had the invoice arrived after.
"""

from __future__ import annotations

import uuid

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from core.actors import system_actor
from invoices.models import DocumentType, Invoice
from matching.engine.vocabulary import BANK_ACCOUNT_CHANGED, BANK_ACCOUNT_MISMATCH, UNKNOWN_VENDOR
from matching.models import Discrepancy
from matching.rematch import MOVED_BACK, RematchOutcome, matching_rematch
from tenants.models import Tenant
from vendors.models import BankAccountStatus, Vendor, VendorBankAccount

BANK_ACCOUNT_ACTOR = system_actor("bank_account")
BANK_ACCOUNTS_CHANGED = "Bank accounts of vendor {vendor} changed since this invoice was matched: matching again."
ACCOUNT_NOW_ON_RECORD = (
    "The account this invoice asks to be paid to was approved as vendor {vendor}'s since it was matched: "
    "matching again."
)
BANK_ACCOUNT_SIGNALS = (BANK_ACCOUNT_MISMATCH, BANK_ACCOUNT_CHANGED)


def _accounts_changed_since_matched(
    invoices: QuerySet[Invoice], discrepancies: QuerySet[Discrepancy], accounts: QuerySet[VendorBankAccount]
) -> QuerySet[Invoice]:
    """Of `invoices`, the open ones whose latest match carries a bank-account signal and whose
    vendor's accounts were decided on or replaced since that match."""
    matched_at = OuterRef("latest_match__created_at")
    flagged = discrepancies.filter(
        tenant_id=OuterRef("tenant_id"), match_result_id=OuterRef("latest_match_id"), type__in=BANK_ACCOUNT_SIGNALS
    )
    changed = accounts.filter(tenant_id=OuterRef("tenant_id"), vendor_id=OuterRef("vendor_id")).filter(
        Q(decided_at__gt=matched_at) | Q(retired_at__gt=matched_at)
    )
    return invoices.filter(
        status__in=MOVED_BACK, document_type=DocumentType.INVOICE, latest_match__isnull=False
    ).filter(Exists(flagged), Exists(changed))


def _payee_account_approved_since_matched(
    invoices: QuerySet[Invoice], discrepancies: QuerySet[Discrepancy], accounts: QuerySet[VendorBankAccount]
) -> QuerySet[Invoice]:
    """Of `invoices`, the open ones of no known vendor whose payee account became a vendor's
    current account (approved) since their latest match, annotated with that vendor (`holder`)."""
    matched_at = OuterRef("latest_match__created_at")
    unknown = discrepancies.filter(
        tenant_id=OuterRef("tenant_id"), match_result_id=OuterRef("latest_match_id"), type=UNKNOWN_VENDOR
    )
    approved = accounts.filter(
        tenant_id=OuterRef("tenant_id"),
        account_hash=OuterRef("payee_account_hash"),
        status=BankAccountStatus.ACTIVE,
        decided_at__gt=matched_at,
    )
    return (
        invoices.filter(
            status__in=MOVED_BACK, document_type=DocumentType.INVOICE, latest_match__isnull=False, vendor__isnull=True
        )
        .exclude(payee_account_hash="")
        .filter(Exists(unknown), Exists(approved))
        .annotate(holder=Subquery(approved.values("vendor_id")[:1]))
    )


def tenants_with_bank_account_changes() -> QuerySet[Invoice, uuid.UUID]:
    """The ids of the active tenants with an invoice to re-match for a bank-account change
    (`tenant_id` values), for the schedule. Across tenants, as the schedule is."""
    return (
        _accounts_changed_since_matched(
            Invoice.objects.unscoped().filter(tenant__is_active=True),
            Discrepancy.objects.unscoped(),
            VendorBankAccount.objects.unscoped(),
        )
        .order_by()
        .values_list("tenant_id", flat=True)
        .union(
            _payee_account_approved_since_matched(
                Invoice.objects.unscoped().filter(tenant__is_active=True),
                Discrepancy.objects.unscoped(),
                VendorBankAccount.objects.unscoped(),
            )
            .order_by()
            .values_list("tenant_id", flat=True)
        )
    )


def matching_rematch_for_bank_accounts(*, tenant: Tenant) -> RematchOutcome:
    """Re-match the tenant's open invoices with a bank-account signal whose vendor's accounts
    changed since their latest match (a decision on a change, a replacement).

    Called by a run (matching.services.matching_run_for_tenant) holding the tenant's matching
    lock, before it loads its batch: the invoices moved back to `received` are matched by that
    run, so no other run is asked for. One re-match per vendor, its reason naming the vendor.
    Safe to run twice: the new match is newer than the change.
    """
    found = list(
        _accounts_changed_since_matched(
            Invoice.objects.for_tenant(tenant),
            Discrepancy.objects.for_tenant(tenant),
            VendorBankAccount.objects.for_tenant(tenant),
        )
        .order_by("vendor_id", "created_at", "id")
        .values_list("vendor_id", "pk")
    )
    unknown = list(
        _payee_account_approved_since_matched(
            Invoice.objects.for_tenant(tenant),
            Discrepancy.objects.for_tenant(tenant),
            VendorBankAccount.objects.for_tenant(tenant),
        )
        .order_by("holder", "created_at", "id")
        .values_list("holder", "pk")
    )
    outcome = RematchOutcome()
    groups: dict[tuple[str, uuid.UUID], list[uuid.UUID]] = {}
    for vendor_id, invoice_id in found:
        groups.setdefault(("changed", vendor_id), []).append(invoice_id)
    for vendor_id, invoice_id in unknown:
        groups.setdefault(("payee_on_record", vendor_id), []).append(invoice_id)
    vendor_ids = [vendor_id for _, vendor_id in groups]
    names = dict(Vendor.objects.for_tenant(tenant).filter(pk__in=vendor_ids).values_list("pk", "name"))
    for (why, vendor_id), invoice_ids in groups.items():
        reason = BANK_ACCOUNTS_CHANGED if why == "changed" else ACCOUNT_NOW_ON_RECORD
        outcome.add(
            matching_rematch(
                tenant=tenant,
                invoice_ids=invoice_ids,
                actor=BANK_ACCOUNT_ACTOR,
                reason=reason.format(vendor=names.get(vendor_id, "")),
                facts={"vendor_id": vendor_id, "bank_accounts": why},
                enqueue=False,
            )
        )
    return outcome
