"""django-q2 entry points that visit every tenant (thin: they call services).

The audit chain's schedule is here, not in `audit`: audit sits below tenants (every app writes
to it), so only a layer that knows the tenants can list them.
"""

from __future__ import annotations

import logging

from audit.checkpoints import CheckpointFailed, audit_checkpoint_take
from core.tenancy.rls import tenant_scope
from core.tracing import traced_task
from tenants.models import Tenant

logger = logging.getLogger(__name__)


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
