"""django-q2 entry points of the audit app (thin: they call services)."""

from __future__ import annotations

from audit.publisher import PublishReport, outbox_publish_pending
from core.tracing import traced_task


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
