"""django-q2 entry point of the Import page (thin: it calls the service). Safe to run twice: the
step is claimed with a compare-and-set (review.intake.services.import_job_work)."""

from __future__ import annotations

from core.tenancy.rls import tenant_scope
from core.tracing import traced_task
from review.intake.services import import_job_work
from tenants.models import Tenant


@traced_task
def import_job_run(tenant_id: str, job_id: str) -> str:
    """Check or import one uploaded file (whichever step it waits for), writing its progress."""
    tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
    if tenant is None:
        return f"tenant {tenant_id} is gone or inactive"
    with tenant_scope(tenant):
        job = import_job_work(tenant=tenant, job_id=job_id, progress=True)
    if job is None:
        return f"import job {job_id}: not waiting (done, or taken by another worker)"
    return f"import job {job_id}: {job.status}"
