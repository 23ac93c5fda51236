"""django-q2 entry points of the review desk (thin: they call services): the schedules that visit every
tenant, and the invoice list's exports written in the background."""

from __future__ import annotations

from core.tenancy.rls import tenant_scope
from core.tracing import traced_task
from review.approvals import approvals_escalate_stale, tenants_with_escalating_rules
from review.digest import digests_send
from review.export_jobs import export_job_work, export_jobs_expire
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


@traced_task
def export_job_run(tenant_id: str, job_id: str) -> str:
    """Write one large XLSX export of the invoice list, counting its rows (review.export_jobs)."""
    tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
    if tenant is None:
        return f"tenant {tenant_id} is gone or inactive"
    with tenant_scope(tenant):
        job = export_job_work(tenant=tenant, job_id=job_id)
    if job is None:
        return f"export job {job_id}: not waiting (done, or taken by another worker)"
    return f"export job {job_id}: {job.status}"


@traced_task
def expire_export_files() -> str:
    """The schedule: delete every tenant's background exports older than EXPORT_KEEP_DAYS."""
    deleted = 0
    for tenant in Tenant.objects.order_by("slug"):
        with tenant_scope(tenant):
            deleted += export_jobs_expire(tenant=tenant)
    return f"deleted {deleted} export files"
