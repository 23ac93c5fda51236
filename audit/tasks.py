"""django-q2 entry points of the audit app (thin: they call services)."""

from __future__ import annotations

from audit.publisher import PublishReport, outbox_publish_pending
from audit.sealer import SealedTenant, audit_seal_requested
from core.tenancy.rls import tenant_scope
from core.tracing import traced_task


@traced_task
def seal_audit_chain(tenant_id: str) -> str:
    """Seal one tenant's chain right after a commit that wrote events (audit.sealer.audit_seal_soon)."""
    tenant = SealedTenant.of(tenant_id)
    with tenant_scope(tenant):
        report = audit_seal_requested(tenant=tenant)
    return f"sealed {report.sealed}, {report.unsealed} held back"


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
