"""Sealing in tests: the sealer chains events after their transaction commits (audit.sealer); a test
that reads the chain right after writing seals first, as the schedule would."""

from __future__ import annotations

from audit.sealer import SealedTenant, SealReport, audit_seal
from core.tenancy.ref import TenantOrId
from core.tenancy.rls import tenant_scope


def seal(tenant: TenantOrId) -> SealReport:
    """Seal the tenant's events now. Inside a test's own transaction (pytest's `db`) its events are
    sealed too: no other transaction of the database is older (audit.sealer's high-water mark)."""
    ref = SealedTenant.of(str(getattr(tenant, "pk", tenant)))
    with tenant_scope(ref):
        return audit_seal(tenant=ref)
