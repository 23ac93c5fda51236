"""Asking for a matching run once the current transaction commits (`matching_enqueue`).

Apart from the runs (matching.services) so that what asks for a run — the door of new invoices,
a re-match (matching.rematch) — and the run itself, which re-matches invoices a credit note
changed before it loads its batch, can import it without importing each other.
"""

from __future__ import annotations

import functools
import logging

from django.db import connection, transaction

from matching.models import MatchRun
from tenants.models import Tenant

logger = logging.getLogger(__name__)


def matching_enqueue(*, tenant: Tenant, trigger: str, run: MatchRun | None = None) -> None:
    """Queue `matching.tasks.run_matching` for the tenant once the current transaction commits.

    Once per tenant and transaction (an import of many invoices queues one drain, not one per
    invoice). A broker that is down loses nothing: the scheduled run picks the invoices up, so
    the error is logged and the caller's request still succeeds (`robust`).
    """
    tenant_id = str(tenant.pk)
    run_id = str(run.pk) if run is not None else None
    if run_id is None and any(
        isinstance(func, functools.partial) and func.func is _enqueue_now and func.args[:2] == (tenant_id, None)
        for _, func, *_ in connection.run_on_commit
    ):
        return
    # update_wrapper: Django's robust on_commit logs the callback's __qualname__, which a bare
    # partial lacks (the logging itself would then raise out of the commit).
    callback = functools.update_wrapper(functools.partial(_enqueue_now, tenant_id, run_id, trigger), _enqueue_now)
    transaction.on_commit(callback, robust=True)


def _enqueue_now(tenant_id: str, run_id: str | None, trigger: str) -> None:
    from django_q.tasks import async_task

    try:
        async_task(
            "matching.tasks.run_matching", tenant_id, run_id=run_id, trigger=trigger, task_name=f"matching-{tenant_id}"
        )
    except Exception:
        # The data is committed; the schedule (or, for a queued run, the next drain) picks it up.
        logger.exception("Could not queue matching for tenant %s (run %s); the schedule will", tenant_id, run_id)
