"""django-q2 entry points of the audit app (thin: they call services)."""

from __future__ import annotations

import logging

from audit.checkpoints import CheckpointFailed, audit_checkpoint_take
from audit.publisher import PublishReport, outbox_publish_pending
from core.tenancy.rls import tenant_scope
from core.tracing import traced_task
from tenants.models import Tenant

logger = logging.getLogger(__name__)


@traced_task
def publish_outbox() -> str:
    """Drain the outbox until it is empty, the broker fails, or the breaker is open."""
    total = PublishReport()
    while True:
        report = outbox_publish_pending()
        total = PublishReport(total.published + report.published, total.failed + report.failed, report.skipped_reason)
        if report.published == 0 or report.failed or report.skipped_reason:
            break
    summary = f"published {total.published}, failed {total.failed}"
    return f"{summary}; {total.skipped_reason}" if total.skipped_reason else summary


@traced_task
def checkpoint_audit_chains() -> str:
    """The schedule: a signed checkpoint of every tenant's chain that moved since its last one.

    Inactive tenants too: their chains must stay as they were. One tenant's failure (an
    unwritable checkpoint file) does not stop the others; the task then fails naming them all.
    """
    tenants = list(Tenant.objects.order_by("slug"))
    taken, failures = 0, []
    for tenant in tenants:
        with tenant_scope(tenant):
            try:
                taken += audit_checkpoint_take(tenant=tenant) is not None
            except Exception as exc:
                logger.exception("audit checkpoint of tenant %s failed", tenant.slug)
                failures.append(f"{tenant.slug}: {type(exc).__name__}: {exc}")
    if failures:
        raise CheckpointFailed(f"checkpoints of {len(failures)} tenants failed: " + "; ".join(failures))
    return f"checkpointed {taken} of {len(tenants)} tenants"
