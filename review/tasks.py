"""django-q2 entry points of the review desk that visit every tenant (thin: they call services)."""

from __future__ import annotations

from core.tenancy.rls import tenant_scope
from core.tracing import traced_task
from review.approvals import approvals_escalate_stale, tenants_with_escalating_rules
from review.digest import digests_send
from tenants.models import Membership, Tenant


@traced_task
def send_daily_digests() -> str:
    """The schedule: each subscribed member's daily digest, once a day (review.digest)."""
    tenant_ids = (
        Membership.objects.unscoped()
        .filter(is_active=True, digest_email=True)
        .order_by()
        .values_list("tenant_id", flat=True)
    )
    sent = 0
    for tenant in Tenant.objects.filter(pk__in=list(tenant_ids.distinct()), is_active=True):
        with tenant_scope(tenant):
            sent += digests_send(tenant=tenant)
    return f"sent {sent} digests"


@traced_task
def escalate_stale_approvals() -> str:
    """The schedule: escalate invoices whose approval chain is not complete in its rule's days."""
    escalated = 0
    for tenant in tenants_with_escalating_rules():
        with tenant_scope(tenant):
            escalated += approvals_escalate_stale(tenant=tenant)
    return f"escalated {escalated} invoices"
