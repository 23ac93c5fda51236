"""django-q2 entry points that visit every tenant (thin: they call services).

The audit chain's schedule is here, not in `audit`: audit sits below tenants (every app writes
to it), so only a layer that knows the tenants can list them.
"""

from __future__ import annotations

import logging

from audit.checkpoints import CheckpointFailed, audit_checkpoint_take
from audit.sealer import audit_seal
from core.tenancy.rls import tenant_scope
from core.tracing import traced_task
from tenants.models import Tenant

logger = logging.getLogger(__name__)


class SealFailed(RuntimeError):
    """Some tenants' chains could not be sealed (the rest were)."""


@traced_task
def seal_audit_chains() -> str:
    """The schedule: seal every tenant's committed audit events (audit.sealer).

    Commits ask for a seal of their own tenant at once; this catches what those missed (a worker
    lost, the broker down, events an open transaction held back). One tenant's failure does not
    stop the others; the task then fails naming them all.
    """
    tenants = list(Tenant.objects.order_by("slug"))
    sealed, held_back, failures = 0, 0, []
    for tenant in tenants:
        with tenant_scope(tenant):
            try:
                report = audit_seal(tenant=tenant)
            except Exception as exc:
                logger.exception("sealing the audit chain of tenant %s failed", tenant.slug)
                failures.append(f"{tenant.slug}: {type(exc).__name__}: {exc}")
                continue
        sealed += report.sealed
        held_back += report.unsealed
    if failures:
        raise SealFailed(f"sealing {len(failures)} tenants' audit chains failed: " + "; ".join(failures))
    return f"sealed {sealed} events of {len(tenants)} tenants, {held_back} held back"


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
