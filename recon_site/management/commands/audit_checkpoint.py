"""`manage.py audit_checkpoint [--tenant T] [--file PATH] | --public-key`: checkpoint the audit chains now.

Signs each tenant's chain head (audit.checkpoints) and hands it to the witnesses: the outbox (the
NATS stream, subject `<NATS_SUBJECT_PREFIX>.audit.checkpoint.<tenant id>`) and the JSON-lines
file (`--file`, default `AUDIT_CHECKPOINT_FILE`). Asked for explicitly, a checkpoint is taken even
when the head has not moved since the last one. `--public-key` prints the key an auditor needs
to check the signatures (with `verify_audit --public-key`), and does nothing else.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.checkpoints import audit_checkpoint_take, checkpoint_public_key, checkpoint_signing_key, key_id
from core.tenancy.rls import tenant_scope
from tenants.management.options import tenant_option
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Take a signed checkpoint of each tenant's audit chain (NATS and the checkpoint file)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", help="Tenant id or slug; all tenants if omitted.")
        parser.add_argument("--file", help="Checkpoint file to append to (default AUDIT_CHECKPOINT_FILE).")
        parser.add_argument("--public-key", action="store_true", help="Print the verifying public key and exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["public_key"]:
            key = checkpoint_public_key()
            self.stdout.write(f"{key}  (key id {key_id(checkpoint_signing_key().public_key())})")
            return
        path = options["file"] if options["file"] is not None else settings.AUDIT_CHECKPOINT_FILE
        tenants = [tenant_option(options["tenant"])] if options["tenant"] else list(Tenant.objects.order_by("slug"))
        for tenant in tenants:
            with tenant_scope(tenant):
                try:
                    checkpoint = audit_checkpoint_take(tenant=tenant, path=path, force=True)
                except OSError as exc:
                    raise CommandError(f"{tenant.slug}: cannot append to the checkpoint file: {exc}") from exc
            if checkpoint is None:
                self.stdout.write(f"{tenant.slug}: no audit events yet, nothing to checkpoint")
                continue
            witnesses = ["the outbox (NATS)"] + ([path] if path else [])
            self.stdout.write(
                f"{tenant.slug}: checkpoint of {checkpoint.checkpointed_at}: sequence {checkpoint.sequence}, "
                f"head {checkpoint.head_hash}, to {' and '.join(witnesses)}"
            )
