"""Sealing in tests: the sealer chains events after their transaction commits (audit.sealer); a test
that reads the chain right after writing seals first, as the schedule would."""

from __future__ import annotations

import time

from audit.sealer import SealedTenant, SealReport, audit_seal
from core.tenancy.ref import TenantOrId
from core.tenancy.rls import tenant_scope

# How long `seal` keeps trying while an older transaction of the database holds events back.
SETTLE_SECONDS = 15.0


def seal(tenant: TenantOrId, *, settle: float = SETTLE_SECONDS) -> SealReport:
    """Seal the tenant's events now. Inside a test's own transaction (pytest's `db`) its events are
    sealed too: no other transaction of the database is older (audit.sealer's high-water mark).

    Any older transaction still open in the database holds events back, as in production: a
    session an earlier test left finishing (a stopped server's or worker's backend, a thread's last
    commit) does so for a moment. So while events are held back, sealing is tried again, as the
    schedule would, for up to `settle` seconds; the report counts every event sealed meanwhile.
    Tests of holding back itself pass `settle=0`.
    """
    ref = SealedTenant.of(str(getattr(tenant, "pk", tenant)))
    deadline = time.monotonic() + settle
    sealed = 0
    while True:
        with tenant_scope(ref):
            report = audit_seal(tenant=ref)
        sealed += report.sealed
        if report.unsealed == 0 or time.monotonic() >= deadline:
            return SealReport(sealed=sealed, unsealed=report.unsealed, head_sequence=report.head_sequence)
        time.sleep(0.25)
