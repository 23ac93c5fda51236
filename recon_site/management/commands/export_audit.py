"""`manage.py export_audit --tenant T --from DATE --to DATE --output PATH`: a compliance report.

Writes the tenant's audit events in the period as CSV (`PATH.csv`) and JSON lines
(`PATH.jsonl`), and a proof file (`PATH.proof.json`) with the count, the first event's
`prev_hash`, the first and last hashes, and whether the whole chain verified at export time.
An auditor can re-hash the JSON lines with the rules in audit/chain.py and check that they link
from `first_prev_hash` to `last_hash`.

The chain is sealed first (audit.sealer); events still not sealed (their transaction committed
after an older one still open) are exported too, in the order they will be chained, with no
`sequence` or hashes, and the CSV's `sealed` column says `no`: no chain vouches for them yet. The
proof's hashes and sequences are those of the sealed events; `unsealed` counts the others.

Every export also takes a signed checkpoint of the whole chain (audit.checkpoints): it is in the
proof file, queued for NATS, and appended to `--checkpoints FILE` (default `AUDIT_CHECKPOINT_FILE`),
so a later `verify_audit --checkpoints FILE` shows whether events seen at export time went missing.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.chain import canonical_timestamp
from audit.checkpoints import audit_checkpoint_take
from audit.fields import PUBLISHED_FIELDS
from audit.models import CHAIN_ORDER, AuditEvent
from audit.sealer import audit_seal
from audit.verify import audit_chain_verify
from core.csv_safe import csv_cell
from core.tenancy.rls import tenant_scope
from tenants.management.options import tenant_option


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        # argparse's own error type: it names the option and exits 2 with the usage line. A
        # CommandError raised while the arguments are parsed escapes Django as a traceback.
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO date (YYYY-MM-DD).") from exc


class Command(BaseCommand):
    help = "Export a tenant's audit events for a period as CSV and JSON lines, with chain proof."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="Tenant id or slug.")
        parser.add_argument("--from", dest="date_from", required=True, type=_date, help="First day, YYYY-MM-DD.")
        parser.add_argument("--to", dest="date_to", required=True, type=_date, help="Last day (inclusive).")
        parser.add_argument("--output", required=True, help="Path prefix: writes PREFIX.csv, .jsonl, .proof.json.")
        parser.add_argument(
            "--checkpoints",
            metavar="FILE",
            help="Checkpoint file the export's signed checkpoint is appended to (default AUDIT_CHECKPOINT_FILE).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_option(options["tenant"])
        start = dt.datetime.combine(options["date_from"], dt.time.min, tzinfo=dt.UTC)
        end = dt.datetime.combine(options["date_to"] + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
        if end <= start:
            raise CommandError("--to must not be before --from.")
        prefix = Path(options["output"])
        prefix.parent.mkdir(parents=True, exist_ok=True)
        with tenant_scope(tenant):
            audit_seal(tenant=tenant)
        events = (
            AuditEvent.objects.for_tenant(tenant)
            .filter(occurred_at__gte=start, occurred_at__lt=end)
            .order_by(*CHAIN_ORDER)
            # The event as a tenant's reader gets it; the JSON lines add `tenant_id` back, so each
            # line holds exactly what the hash covers, and the hash.
            .values(*PUBLISHED_FIELDS)
        )
        count, unsealed, first, last = 0, 0, None, None
        with (
            open(f"{prefix}.csv", "w", newline="", encoding="utf-8") as csv_file,
            open(f"{prefix}.jsonl", "w", encoding="utf-8") as jsonl_file,
        ):
            writer = csv.writer(csv_file)
            writer.writerow([*PUBLISHED_FIELDS, "sealed"])
            for event in events.iterator(chunk_size=2000):
                row = {**event, "occurred_at": canonical_timestamp(event["occurred_at"])}
                jsonl_file.write(json.dumps({"tenant_id": str(tenant.pk), **row}, sort_keys=True, ensure_ascii=False))
                jsonl_file.write("\n")
                writer.writerow(
                    [
                        csv_cell(json.dumps(row[c], sort_keys=True) if c in ("before", "after") else row[c])
                        for c in PUBLISHED_FIELDS
                    ]
                    + ["yes" if row["sequence"] is not None else "no"]
                )
                if row["sequence"] is not None:
                    first = first or row
                    last = row
                else:
                    unsealed += 1
                count += 1
        report = audit_chain_verify(tenant=tenant)
        checkpoint_file = (
            options["checkpoints"] if options["checkpoints"] is not None else settings.AUDIT_CHECKPOINT_FILE
        )
        try:
            with tenant_scope(tenant):
                checkpoint = audit_checkpoint_take(tenant=tenant, path=checkpoint_file, force=True)
        except OSError as exc:
            raise CommandError(f"Cannot append to the checkpoint file {checkpoint_file}: {exc}") from exc
        proof = {
            "tenant_id": str(tenant.pk),
            "tenant": tenant.slug,
            "from": options["date_from"].isoformat(),
            "to": options["date_to"].isoformat(),
            "count": count,
            "unsealed": unsealed,
            "first_sequence": first["sequence"] if first else None,
            "last_sequence": last["sequence"] if last else None,
            "first_prev_hash": first["prev_hash"] if first else None,
            "first_hash": first["hash"] if first else None,
            "last_hash": last["hash"] if last else None,
            "chain_intact": report.intact,
            "chain_head_hash": report.head_hash,
            # Signed: checkable with the public key of `audit_checkpoint --public-key`.
            "checkpoint": checkpoint.as_record() if checkpoint else None,
            "hash_rules": "audit/chain.py: SHA-256 over sorted-key compact UTF-8 JSON of the event with prev_hash",
        }
        Path(f"{prefix}.proof.json").write_text(json.dumps(proof, indent=2) + "\n", encoding="utf-8")
        self.stdout.write(f"Exported {count} events to {prefix}.csv and {prefix}.jsonl; proof in {prefix}.proof.json")
        if checkpoint is not None and checkpoint_file:
            self.stdout.write(f"Checkpoint of sequence {checkpoint.sequence} appended to {checkpoint_file}")
        if not report.intact:
            raise CommandError("The audit chain is broken: run verify_audit.", returncode=1)
