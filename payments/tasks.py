"""django-q2 entry points of payments (thin: they call services). Safe to run twice: a run takes
the tenant's reconciliation lock, and what one run allocated is no longer unmatched."""

from __future__ import annotations

from django_q.tasks import async_task

from core.actors import system_actor
from core.tenancy.rls import tenant_scope
from core.tracing import traced_task
from payments.models import Payment, PaymentDirection
from payments.reconciliation.loading import RECONCILABLE_PAYMENT_STATUSES
from payments.reconciliation.services import reconciliation_run_for_tenant
from tenants.models import Tenant


@traced_task
def reconcile_payments(tenant_id: str) -> str:
    """One reconciliation run for one tenant."""
    tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
    if tenant is None:
        return f"tenant {tenant_id} is gone or inactive"
    with tenant_scope(tenant):
        report = reconciliation_run_for_tenant(tenant=tenant, actor=system_actor("task:schedule"))
    return (
        f"{report.status}: {report.payments_considered} payments, {report.payments_matched} matched, "
        f"{report.payments_suggested} suggested"
    )


@traced_task
def reconcile_payments_all() -> str:
    """The schedule: one run per active tenant with unmatched debit payments."""
    # Across tenants on purpose: this is the scheduler deciding whom to serve.
    tenant_ids = (
        Payment.objects.unscoped()
        .filter(status__in=RECONCILABLE_PAYMENT_STATUSES, direction=PaymentDirection.DEBIT, tenant__is_active=True)
        .order_by()
        .values_list("tenant_id", flat=True)
        .distinct()
    )
    count = 0
    for tenant_id in tenant_ids:
        async_task("payments.tasks.reconcile_payments", str(tenant_id), task_name=f"reconcile-{tenant_id}")
        count += 1
    return f"queued reconciliation for {count} tenants"
