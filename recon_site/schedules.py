"""The periodic jobs, registered in django-q2's schedule table after every migrate.

Declared here, in code, so a deployment cannot drift from what the code expects; an operator
may still pause one in the admin (its `repeats`), which this leaves alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings


@dataclass(frozen=True)
class Job:
    name: str
    func: str
    setting: str  # the environment setting of its interval, in minutes (the same for every tenant)
    label: str  # what the job does, as the settings page names it

    @property
    def minutes(self) -> int:
        return int(getattr(settings, self.setting))


def jobs() -> list[Job]:
    return [
        Job("publish-outbox", "audit.tasks.publish_outbox", "OUTBOX_PUBLISH_EVERY_MINUTES", "Publish events"),
        Job(
            "match-all-tenants",
            "matching.tasks.run_matching_all",
            "MATCHING_SCHEDULE_MINUTES",
            "Match received invoices",
        ),
        Job(
            "escalate-stale-holds",
            "matching.tasks.escalate_stale_holds",
            "MATCH_HOLD_ESCALATION_MINUTES",
            "Escalate invoices on hold too long",
        ),
        # On the hold escalation's interval: both escalate waits counted in days.
        Job(
            "escalate-stale-approvals",
            "review.tasks.escalate_stale_approvals",
            "MATCH_HOLD_ESCALATION_MINUTES",
            "Escalate approval chains not complete in time",
        ),
        Job(
            "reconcile-all-tenants",
            "payments.tasks.reconcile_payments_all",
            "RECONCILE_SCHEDULE_MINUTES",
            "Reconcile bank payments",
        ),
        Job(
            "send-daily-digests",
            "review.tasks.send_daily_digests",
            "DIGEST_SCHEDULE_MINUTES",
            "E-mail each member's daily digest",
        ),
        Job(
            "expire-export-files",
            "review.tasks.expire_export_files",
            "EXPORT_EXPIRE_EVERY_MINUTES",
            "Delete old export files",
        ),
        Job(
            "seal-audit-chains",
            "tenants.tasks.seal_audit_chains",
            "AUDIT_SEAL_EVERY_MINUTES",
            "Seal the audit trail",
        ),
        Job(
            "checkpoint-audit-chains",
            "tenants.tasks.checkpoint_audit_chains",
            "AUDIT_CHECKPOINT_EVERY_MINUTES",
            "Sign audit trail checkpoints",
        ),
    ]


def schedules_ensure(**kwargs: Any) -> None:
    """Create or update each job's schedule (a post_migrate receiver)."""
    from django_q.models import Schedule

    for job in jobs():
        Schedule.objects.update_or_create(
            name=job.name,
            defaults={"func": job.func, "schedule_type": Schedule.MINUTES, "minutes": job.minutes},
        )
