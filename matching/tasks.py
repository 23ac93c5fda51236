"""django-q2 entry points of matching (thin: they call services). Each is safe to run twice:
runs take the tenant's lock and claim queued runs with a compare-and-set."""

from __future__ import annotations

from django.conf import settings
from django_q.tasks import async_task

from audit.checkpoints import audit_checkpoint_after_change
from core.actors import system_actor
from core.tenancy.rls import tenant_scope
from core.tracing import traced_task
from invoices.models import Invoice, InvoiceStatus
from matching.bank_account_rematch import tenants_with_bank_account_changes
from matching.holds import matching_escalate_stale_holds
from matching.loading import MATCHABLE, matchable_invoices
from matching.models import MatchRun
from matching.rematch import tenants_with_credited_invoices
from matching.services import matching_drain_tenant, matching_enqueue
from tenants.models import Tenant


@traced_task
def run_matching(tenant_id: str, run_id: str | None = None, trigger: str = MatchRun.Trigger.API) -> str:
    """Drain one tenant's `received` invoices; `run_id` is the queued run the API created."""
    tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
    if tenant is None:
        return f"tenant {tenant_id} is gone or inactive"
    with tenant_scope(tenant):
        run = MatchRun.objects.for_tenant(tenant).filter(pk=run_id).first() if run_id else None
        runs = matching_drain_tenant(
            tenant=tenant,
            trigger=trigger,
            actor=system_actor(f"task:{trigger}"),
            max_batches=settings.MATCH_MAX_BATCHES_PER_TASK,
            run=run,
        )
        # A run appends many audit events at once: a checkpoint now, not at the next scheduled
        # one, leaves no window in which they could be deleted unseen (skipped if nothing moved).
        audit_checkpoint_after_change(tenant=tenant)
        failed = [failure["invoice_id"] for done in runs for failure in done.failures]
        if (
            len(runs) == settings.MATCH_MAX_BATCHES_PER_TASK
            and runs[-1].status == MatchRun.Status.FINISHED
            and matchable_invoices(tenant=tenant, exclude_invoice_ids=failed).exists()
        ):
            # The task's budget ran out with invoices still waiting. The drains queued for them
            # meanwhile were skipped (this one held the lock), so without this they would wait for
            # the schedule; queued again, the rest goes behind other tenants' work.
            matching_enqueue(tenant=tenant, trigger=trigger)
    return "; ".join(
        f"{run.pk} {run.status}: {run.invoices_matched} matched, {run.invoices_failed} failed" for run in runs
    )


@traced_task
def run_matching_all() -> str:
    """The schedule: one drain per active tenant that has invoices waiting in `received`, or an
    open invoice a credit note arrived for since its latest match (the run re-matches it)."""
    # Across tenants on purpose: this is the scheduler deciding whom to serve.
    tenant_ids = set(
        Invoice.objects.unscoped()
        .filter(MATCHABLE, tenant__is_active=True)
        .order_by()
        .values_list("tenant_id", flat=True)
        .distinct()
    )
    # And those whose run has an invoice to re-match for a credit note (matching.rematch): with
    # MATCH_ON_INGEST off, nothing else would run them until another invoice came.
    tenant_ids |= set(tenants_with_credited_invoices())
    # And those with an invoice to re-match for a bank-account decision or a cooling-off that
    # ended (matching.bank_account_rematch): no one's action would run them otherwise.
    tenant_ids |= set(tenants_with_bank_account_changes())
    count = 0
    for tenant_id in sorted(tenant_ids, key=str):
        async_task(
            "matching.tasks.run_matching",
            str(tenant_id),
            trigger=MatchRun.Trigger.SCHEDULE,
            task_name=f"matching-{tenant_id}",
        )
        count += 1
    return f"queued matching for {count} tenants"


@traced_task
def escalate_stale_holds() -> str:
    """Hourly: escalate invoices on hold past their tenant's `hold_max_days`."""
    tenant_ids = (
        Invoice.objects.unscoped()
        .filter(status=InvoiceStatus.ON_HOLD)
        .order_by()
        .values_list("tenant_id", flat=True)
        .distinct()
    )
    escalated = 0
    for tenant in Tenant.objects.filter(pk__in=list(tenant_ids)):
        with tenant_scope(tenant):
            escalated += matching_escalate_stale_holds(tenant=tenant)
    return f"escalated {escalated} invoices"
