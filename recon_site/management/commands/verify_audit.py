"""`manage.py verify_audit [--tenant T] [--checkpoints FILE] [--nats] [--public-key KEY ...]`.

Re-computes every audit chain (audit.verify), then holds it against the signed checkpoints the
witnesses kept (audit.checkpoints): the checkpoint file (`--checkpoints`, default
`AUDIT_CHECKPOINT_FILE` when it exists) and, with `--nats`, the checkpoints in the NATS stream.

Exits 0 and prints each tenant's event count when its chain is intact and agrees with every
checkpoint; exits 1 naming what is wrong: the first broken event (sequence, id, reason) when a
row was altered, deleted, or inserted out of order; the missing tail ("the chain ends at sequence
N but the checkpoint of … saw sequence M …") when the newest events were deleted; a checkpointed
position whose hash changed; a checkpoint whose signature does not verify (forged) or that cannot
be read. A tenant no checkpoint has seen yet is only noted: its newest events cannot be vouched for.
So are events not sealed yet (audit.sealer): their number and the age of the oldest; they are
outside the chain, and only the sealed events are verified.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.checkpoints import (
    WitnessedCheckpoint,
    WitnessReading,
    WitnessUnavailable,
    audit_checkpoints_compare,
    checkpoint_file_read,
    checkpoint_nats_read,
    checkpoint_verifying_keys,
)
from audit.verify import audit_chain_verify
from core.tenancy.rls import tenant_scope
from tenants.management.options import tenant_option
from tenants.models import Tenant

NO_CHECKPOINT = "{slug}: no checkpoint has seen this chain yet: deleted newest events could not be detected"
UNSEALED = (
    "{slug}: {count} events not sealed yet (the oldest written {age:.1f} s ago): "
    "no chain vouches for them until `seal_audit` or its schedule runs"
)
NO_WITNESS = "NOTE: no checkpoints read (no file at {path}; --nats not given): deleted newest events cannot be detected"


class Command(BaseCommand):
    help = "Verify the hash chain of the audit log, per tenant, and compare it with its signed checkpoints."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", help="Tenant id or slug; all tenants if omitted.")
        parser.add_argument(
            "--checkpoints", metavar="FILE", help="Checkpoint file (JSON lines; default AUDIT_CHECKPOINT_FILE)."
        )
        parser.add_argument("--nats", action="store_true", help="Also read the checkpoints kept in the NATS stream.")
        parser.add_argument(
            "--public-key",
            action="append",
            default=[],
            metavar="KEY",
            help="A public key checkpoints may be signed with (repeatable), besides the configured ones.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        tenants = [tenant_option(options["tenant"])] if options["tenant"] else list(Tenant.objects.order_by("slug"))
        try:
            keys = checkpoint_verifying_keys(options["public_key"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        reading, witnessed = self._read_witnesses(options, [str(t.pk) for t in tenants] if options["tenant"] else None)
        failed = 0
        for tenant in tenants:
            with tenant_scope(tenant):
                failed += not self._verify_tenant(tenant, reading, keys, witnessed=witnessed)
        for unreadable in reading.unreadable:
            if unreadable.tenant_id is None:
                failed += 1
                self.stdout.write(f"CHECKPOINT: {unreadable.problem}")
        if not options["tenant"]:
            unknown = set(reading.by_tenant) - {str(t.pk) for t in tenants}
            if unknown:
                self.stdout.write(
                    f"NOTE: checkpoints name {len(unknown)} tenants not in this database: {', '.join(sorted(unknown))}"
                )
        if failed:
            raise CommandError(f"{failed} of {len(tenants)} audit chains fail verification (see above).", returncode=1)
        self.stdout.write(f"OK: {len(tenants)} chains intact.")

    def _read_witnesses(self, options: dict[str, Any], tenant_ids: list[str] | None) -> tuple[WitnessReading, bool]:
        reading = WitnessReading()
        wanted = set(tenant_ids) if tenant_ids is not None else None
        path = options["checkpoints"] or settings.AUDIT_CHECKPOINT_FILE
        read_file = bool(path) and (options["checkpoints"] is not None or Path(path).exists())
        if read_file:
            try:
                for entry in checkpoint_file_read(path):
                    tenant_id = (
                        entry.checkpoint.tenant_id if isinstance(entry, WitnessedCheckpoint) else entry.tenant_id
                    )
                    if wanted is None or tenant_id is None or tenant_id in wanted:
                        reading.add(entry)
            except OSError as exc:
                raise CommandError(f"Cannot read the checkpoint file {path}: {exc}") from exc
        if options["nats"]:
            try:
                for entry in checkpoint_nats_read(tenant_ids=tenant_ids):
                    reading.add(entry)
            except WitnessUnavailable as exc:
                raise CommandError(str(exc)) from exc
        if not read_file and not options["nats"]:
            self.stdout.write(NO_WITNESS.format(path=path or "(AUDIT_CHECKPOINT_FILE is empty)"))
        return reading, read_file or options["nats"]

    def _verify_tenant(
        self, tenant: Tenant, reading: WitnessReading, keys: dict[str, Ed25519PublicKey], *, witnessed: bool
    ) -> bool:
        """Print the tenant's verdict; True when its chain is intact and agrees with its checkpoints."""
        report = audit_chain_verify(tenant=tenant)
        if report.intact:
            self.stdout.write(f"{tenant.slug}: {report.count} events, chain intact (head {report.head_hash[:16]}…)")
        else:
            assert report.broken is not None
            self.stdout.write(
                f"{tenant.slug}: BROKEN at event #{report.broken.sequence} (id {report.broken.event_id}): "
                f"{report.broken.reason}; {report.count} events before it verify."
            )
        if report.unsealed.count:
            self.stdout.write(
                UNSEALED.format(
                    slug=tenant.slug, count=report.unsealed.count, age=report.unsealed.oldest_age_seconds() or 0.0
                )
            )
        problems = [u.problem for u in reading.unreadable if u.tenant_id == str(tenant.pk)]
        checkpoints = audit_checkpoints_compare(
            tenant=tenant, witnessed=reading.by_tenant.get(str(tenant.pk), []), keys=keys
        )
        problems += checkpoints.problems
        for problem in problems:
            self.stdout.write(f"{tenant.slug}: CHECKPOINT: {problem}")
        if checkpoints.latest is not None and not problems:
            latest = checkpoints.latest.checkpoint
            self.stdout.write(
                f"{tenant.slug}: agrees with {checkpoints.checkpoints} checkpoints "
                f"(latest of {latest.checkpointed_at}: sequence {latest.sequence})"
            )
        elif checkpoints.latest is None and witnessed and report.count:
            self.stdout.write(NO_CHECKPOINT.format(slug=tenant.slug))
        return report.intact and not problems
