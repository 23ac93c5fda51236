"""django-q2 entry points of the review desk that visit every tenant (thin: they call services)."""

from __future__ import annotations

from core.tenancy.rls import tenant_scope
from core.tracing import traced_task
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
