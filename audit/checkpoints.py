"""Signed checkpoints of each tenant's audit chain, kept outside the database (DESIGN.md §7).

A hash chain shows an edited, removed or inserted event, but not that its newest events were
deleted: what is left is still a valid chain. A checkpoint records what the chain looked like at
one moment, somewhere the database cannot reach:

    {"tenant_id", "sequence", "head_hash", "checkpointed_at", "key_id", "signature"}

`sequence` and `head_hash` are the chain head's (its newest event's); `checkpointed_at` is RFC 3339
in UTC with microseconds. The signature (hex) is Ed25519 over the bytes
`recon audit checkpoint v1` + LF + the JSON object of the first five fields with keys sorted, no
whitespace (separators `,` and `:`) and ASCII escapes (`json.dumps(..., sort_keys=True,
separators=(",", ":"))`); `key_id` is the first 16 hex digits of the SHA-256 of the raw 32-byte
public key. The private key (`AUDIT_CHECKPOINT_KEY`) lives in the environment, never in the
database; the public key (`manage.py audit_checkpoint --public-key`) is all an auditor needs to
check a signature, and is not enough to make one.

Witnesses — where checkpoints are kept:
- NATS JetStream: each checkpoint is queued in the transactional outbox as event `audit.checkpoint`
  in the usual envelope, on subject `<NATS_SUBJECT_PREFIX>.audit.checkpoint.<tenant id>`;
- a JSON-lines file (`AUDIT_CHECKPOINT_FILE`, one checkpoint a line, appended under an exclusive
  lock and fsynced), and the proof file of `manage.py export_audit`.

They are taken every `AUDIT_CHECKPOINT_EVERY_MINUTES` for every tenant whose chain moved (the
schedule), after every matching task and `run_matching`, by `manage.py audit_checkpoint`, and by
`export_audit`.

`manage.py verify_audit` reads the file (and the NATS stream with `--nats`), checks every
signature, and compares the chain with the checkpoints:

Detected:
- the newest events deleted after a checkpoint saw them: the chain ends before the latest
  checkpoint's sequence ("… N newest events are missing");
- events deleted and the chain continued (new events took the freed sequence numbers), or the
  chain rewritten and re-hashed consistently, at or before the position of any checkpoint: the
  event at that position no longer has the checkpointed hash;
- a checkpoint altered or made without the private key (a forged signature), or signed by a key
  the verifier was not given; an unreadable line in the file.

Not detected:
- events appended after the last checkpoint and deleted before the next: no witness saw them.
  The schedule's period bounds that window (and a matching run closes it at once);
- a rewrite that keeps every checkpointed position intact: only the newest events after the
  last checkpoint can be rewritten that way, by the same argument;
- a witness removed or cut short: a deleted (or tail-truncated) checkpoint file, or a purged
  stream, leaves less to compare with; checkpoints of tenants no longer in the database are only
  reported as a note. Keep the file where the database's administrators cannot write;
- a checkpoint still in the outbox: until the publisher has sent it (at once after commit when
  NATS is enabled, else at the next minute's run) it is a row the attacker can delete too, so a
  deployment with NATS as its only witness has that short window;
- a forged checkpoint made with the private key itself: whoever holds `AUDIT_CHECKPOINT_KEY`
  can sign anything, which is why it must not live beside the database.
A checkpoint states what the head was, not that the chain behind it was intact: the hash chain
(audit.verify) proves that part.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import fcntl
import functools
import hashlib
import json
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from nats.js.errors import NotFoundError as NatsNotFound

from audit.chain import canonical_timestamp
from audit.models import AuditEvent, OutboxMessage
from audit.publisher import nats_connect
from audit.sealer import audit_seal
from audit.services import outbox_enqueue, outbox_subject
from core.crypto import public_key_parse, public_key_text, signing_key_derive, signing_key_parse
from core.tenancy.ref import TenantRef

logger = logging.getLogger(__name__)

CHECKPOINT_EVENT = "audit.checkpoint"
_SIGNED_PREFIX = b"recon audit checkpoint v1\n"
# Binds the key derived from SECRET_KEY (local runs and tests only) to this one purpose.
_KEY_DERIVATION_INFO = b"recon audit checkpoint signing v1"
_SIGNED_FIELDS = ("tenant_id", "sequence", "head_hash", "checkpointed_at", "key_id")
_RECORD_FIELDS = (*_SIGNED_FIELDS, "signature")

TAIL_MISSING = (
    "the chain ends at sequence {chain_sequence} but the checkpoint of {checkpointed_at} ({source}) saw "
    "sequence {sequence} with head {head_hash}: {missing}"
)
MISSING_ONE = "the newest event is missing"
MISSING_MANY = "the {count} newest events are missing"
HEAD_REWRITTEN = (
    "event #{sequence} has hash {actual} but the checkpoint of {checkpointed_at} ({source}) saw {head_hash} "
    "there: events up to #{sequence} were deleted and replaced, or rewritten{later}"
)
HEAD_MISSING = (
    "event #{sequence}, which the checkpoint of {checkpointed_at} ({source}) saw with hash {head_hash}, "
    "is missing{later}"
)
LATER_TOO = "; {count} later checkpoints disagree too"
FORGED = (
    "the checkpoint in {source} (sequence {sequence}, of {checkpointed_at}) does not verify against key "
    "{key_id}: it is forged or was altered"
)
UNKNOWN_KEY = (
    "the checkpoint in {source} (sequence {sequence}, of {checkpointed_at}) is signed by key {key_id}, "
    "which is not a verifying key: it is forged, or signed by a key not given "
    "(AUDIT_CHECKPOINT_PUBLIC_KEYS or --public-key)"
)
NOT_A_CHECKPOINT = "{source} is not a checkpoint: {reason}"
NATS_UNREADABLE = "cannot read checkpoints from NATS stream {stream} at {url}: {error}"


class CheckpointFailed(RuntimeError):
    """Some tenants' checkpoints could not be taken or written (the rest were)."""


class WitnessUnavailable(RuntimeError):
    """A witness asked for could not be read (NATS down, stream missing)."""


@dataclass(frozen=True)
class Checkpoint:
    tenant_id: str
    sequence: int
    head_hash: str
    checkpointed_at: str
    key_id: str
    signature: str

    def signed_content(self) -> bytes:
        body = {name: getattr(self, name) for name in _SIGNED_FIELDS}
        return _SIGNED_PREFIX + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    def as_record(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _RECORD_FIELDS}

    @classmethod
    def from_record(cls, record: Any) -> Checkpoint:
        """A checkpoint from its JSON object; `ValueError` saying what is wrong otherwise."""
        if not isinstance(record, dict):
            raise ValueError("not a JSON object")
        missing = [name for name in _RECORD_FIELDS if name not in record]
        if missing:
            raise ValueError(f"no {', '.join(missing)}")
        sequence = record["sequence"]
        if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 1:
            raise ValueError(f"sequence {sequence!r} is not a positive whole number")
        texts = [name for name in _RECORD_FIELDS if name != "sequence" and not isinstance(record[name], str)]
        if texts:
            raise ValueError(f"{', '.join(texts)} must be text")
        return cls(**{name: record[name] for name in _RECORD_FIELDS})


@dataclass(frozen=True)
class WitnessedCheckpoint:
    """A checkpoint as a witness holds it: `source` says where (`FILE line N`, `NATS STREAM #N`)."""

    checkpoint: Checkpoint
    source: str


@dataclass(frozen=True)
class UnreadableCheckpoint:
    source: str
    reason: str
    tenant_id: str | None = None

    @property
    def problem(self) -> str:
        return NOT_A_CHECKPOINT.format(source=self.source, reason=self.reason)


@dataclass
class WitnessReading:
    """Checkpoints read from witnesses, by tenant id, and what could not be read."""

    by_tenant: dict[str, list[WitnessedCheckpoint]] = field(default_factory=dict)
    unreadable: list[UnreadableCheckpoint] = field(default_factory=list)

    def add(self, entry: WitnessedCheckpoint | UnreadableCheckpoint) -> None:
        if isinstance(entry, UnreadableCheckpoint):
            self.unreadable.append(entry)
        else:
            self.by_tenant.setdefault(entry.checkpoint.tenant_id, []).append(entry)


@dataclass(frozen=True)
class CheckpointReport:
    checkpoints: int  # checkpoints whose signature verified
    latest: WitnessedCheckpoint | None  # the one with the highest sequence
    problems: list[str]

    @property
    def consistent(self) -> bool:
        return not self.problems


# --- keys and signatures -----------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _signing_key(configured: str, secret_key: str) -> Ed25519PrivateKey:
    if configured:
        return signing_key_parse(configured, name="AUDIT_CHECKPOINT_KEY")
    # Local runs and tests only (production.py requires AUDIT_CHECKPOINT_KEY): a key as secret as
    # SECRET_KEY and independent of Django's uses of it, but one leak would expose both.
    return signing_key_derive(secret_key, info=_KEY_DERIVATION_INFO)


def checkpoint_signing_key() -> Ed25519PrivateKey:
    # Settings are read per call (cached by value), so tests that override them take effect.
    return _signing_key(settings.AUDIT_CHECKPOINT_KEY, settings.SECRET_KEY)


def checkpoint_public_key() -> str:
    """The public half of the signing key, as an auditor is handed it."""
    return public_key_text(checkpoint_signing_key().public_key())


def key_id(public_key: Ed25519PublicKey) -> str:
    return hashlib.sha256(public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()[:16]


def checkpoint_verifying_keys(extra: Iterable[str] = ()) -> dict[str, Ed25519PublicKey]:
    """The signing key's public half, `AUDIT_CHECKPOINT_PUBLIC_KEYS` and `extra`, by key id."""
    keys = [checkpoint_signing_key().public_key()]
    keys += [
        public_key_parse(text, name="AUDIT_CHECKPOINT_PUBLIC_KEYS") for text in settings.AUDIT_CHECKPOINT_PUBLIC_KEYS
    ]
    keys += [public_key_parse(text, name="--public-key") for text in extra]
    return {key_id(key): key for key in keys}


def checkpoint_sign(*, tenant_id: str, sequence: int, head_hash: str, checkpointed_at: dt.datetime) -> Checkpoint:
    private_key = checkpoint_signing_key()
    unsigned = Checkpoint(
        tenant_id=str(tenant_id),
        sequence=sequence,
        head_hash=head_hash,
        checkpointed_at=canonical_timestamp(checkpointed_at),
        key_id=key_id(private_key.public_key()),
        signature="",
    )
    signature = private_key.sign(unsigned.signed_content()).hex()
    return Checkpoint(**{**unsigned.as_record(), "signature": signature})


def checkpoint_signature_problem(witnessed: WitnessedCheckpoint, keys: dict[str, Ed25519PublicKey]) -> str | None:
    """Why the signature does not hold (forged, altered, unknown key); None when it does."""
    checkpoint = witnessed.checkpoint
    names = {
        "source": witnessed.source,
        "sequence": checkpoint.sequence,
        "checkpointed_at": checkpoint.checkpointed_at,
        "key_id": checkpoint.key_id,
    }
    public_key = keys.get(checkpoint.key_id)
    if public_key is None:
        return UNKNOWN_KEY.format(**names)
    try:
        public_key.verify(bytes.fromhex(checkpoint.signature), checkpoint.signed_content())
    except (InvalidSignature, ValueError):
        return FORGED.format(**names)
    return None


# --- taking checkpoints ------------------------------------------------------------------------


def audit_checkpoint_take(*, tenant: TenantRef, path: str | None = None, force: bool = False) -> Checkpoint | None:
    """Sign the tenant's chain head and hand it to the witnesses: the outbox (NATS) in one
    transaction, then the checkpoint file (`path`, default `AUDIT_CHECKPOINT_FILE`; "" for none).

    The tenant's chain is sealed first (audit.sealer), and only sealed events are covered. Nothing is
    taken for a tenant without sealed events, nor — unless `force` — when the head is the one
    the last checkpoint already saw. A chain that no longer holds the last checkpoint's head is
    logged as an error (the next `verify_audit` names it) and checkpointed all the same: refusing
    would leave the events written from now on without a witness.
    """
    path = settings.AUDIT_CHECKPOINT_FILE if path is None else path
    audit_seal(tenant=tenant)
    with transaction.atomic():
        # The sealed head: an unsealed event has no position yet (audit.sealer), so a checkpoint
        # only ever speaks for sealed events.
        head = (
            AuditEvent.objects.for_tenant(tenant)
            .filter(sequence__isnull=False)
            .order_by("-sequence")
            .values_list("sequence", "hash")
            .first()
        )
        if head is None:
            return None
        previous = _last_queued_checkpoint(tenant)
        if previous is not None and not force and (previous.sequence, previous.head_hash) == head:
            return None
        checkpoint = checkpoint_sign(
            tenant_id=tenant.pk, sequence=head[0], head_hash=head[1], checkpointed_at=timezone.now()
        )
        outbox_enqueue(tenant=tenant, event_type=CHECKPOINT_EVENT, payload=checkpoint.as_record())
    if previous is not None:
        for problem in _chain_problems(tenant=tenant, witnessed=[WitnessedCheckpoint(previous, "the outbox")]):
            logger.error("audit chain of tenant %s: %s", tenant.slug, problem)
    if path:
        checkpoint_file_append(path, checkpoint)
    return checkpoint


def audit_checkpoint_after_change(*, tenant: TenantRef) -> Checkpoint | None:
    """A checkpoint after work that has committed (a matching run): a failure is logged, not
    raised, since that work must not be reported as failed; the schedule takes the next one."""
    try:
        return audit_checkpoint_take(tenant=tenant)
    except Exception:
        logger.exception("audit checkpoint of tenant %s failed", tenant.slug)
        return None


def _last_queued_checkpoint(tenant: TenantRef) -> Checkpoint | None:
    payload = (
        OutboxMessage.objects.for_tenant(tenant)
        .filter(subject=outbox_subject(CHECKPOINT_EVENT, tenant_id=tenant.pk))
        .order_by("-created_at")
        .values_list("payload", flat=True)
        .first()
    )
    try:
        return Checkpoint.from_record(payload["payload"]) if payload else None
    except (ValueError, KeyError, TypeError):
        return None


# --- the file witness --------------------------------------------------------------------------


def checkpoint_file_append(path: str | Path, checkpoint: Checkpoint) -> None:
    """Append one line; the lock keeps concurrent writers' lines whole, fsync keeps it on disk."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(checkpoint.as_record(), sort_keys=True, separators=(",", ":")) + "\n"
    with open(target, "a", encoding="utf-8") as witness:
        fcntl.flock(witness, fcntl.LOCK_EX)
        try:
            witness.write(line)
            witness.flush()
            os.fsync(witness.fileno())
        finally:
            fcntl.flock(witness, fcntl.LOCK_UN)


def checkpoint_file_read(path: str | Path) -> Iterator[WitnessedCheckpoint | UnreadableCheckpoint]:
    """Each line of a checkpoint file (blank lines skipped); `OSError` if it cannot be opened."""
    with open(path, encoding="utf-8", errors="replace") as witness:
        for number, line in enumerate(witness, start=1):
            if line.strip():
                yield checkpoint_parse(line, source=f"{path} line {number}")


def checkpoint_parse(text: str | bytes, *, source: str) -> WitnessedCheckpoint | UnreadableCheckpoint:
    """A checkpoint record or a checkpoint event's envelope (its `payload`), as JSON text."""
    try:
        record = json.loads(text)
    except ValueError:
        return UnreadableCheckpoint(source, "not JSON")
    if isinstance(record, dict) and record.get("event_type") == CHECKPOINT_EVENT:
        record = record.get("payload")
    try:
        return WitnessedCheckpoint(Checkpoint.from_record(record), source)
    except ValueError as exc:
        tenant_id = record.get("tenant_id") if isinstance(record, dict) else None
        return UnreadableCheckpoint(source, str(exc), tenant_id if isinstance(tenant_id, str) else None)


# --- the NATS witness -------------------------------------------------------------------------


def checkpoint_nats_read(*, tenant_ids: list[str] | None = None) -> list[WitnessedCheckpoint | UnreadableCheckpoint]:
    """Every checkpoint in the stream for these tenants (all tenants: None), oldest first.

    Read message by message (`next_by_subj`) from the stream itself, so it needs no consumer and
    changes nothing on the broker; `WitnessUnavailable` when the stream cannot be read.
    """
    if tenant_ids is None:
        subjects = [outbox_subject(CHECKPOINT_EVENT, tenant_id=">")]
    else:
        subjects = [outbox_subject(CHECKPOINT_EVENT, tenant_id=tenant_id) for tenant_id in tenant_ids]
    try:
        return asyncio.run(asyncio.wait_for(_nats_read(subjects), timeout=settings.NATS_CONNECT_TIMEOUT_SECONDS + 120))
    except Exception as exc:
        raise WitnessUnavailable(
            NATS_UNREADABLE.format(
                stream=settings.NATS_STREAM, url=settings.NATS_URL, error=str(exc) or type(exc).__name__
            )
        ) from exc


async def _nats_read(subjects: list[str]) -> list[WitnessedCheckpoint | UnreadableCheckpoint]:
    entries: list[WitnessedCheckpoint | UnreadableCheckpoint] = []
    client = await nats_connect()
    try:
        jetstream = client.jetstream()
        await jetstream.stream_info(settings.NATS_STREAM)  # a missing stream is an error, not "no checkpoints"
        for subject in subjects:
            sequence = 1
            while True:
                try:
                    message = await jetstream.get_msg(settings.NATS_STREAM, seq=sequence, subject=subject, next=True)
                except NatsNotFound:
                    break
                entries.append(checkpoint_parse(message.data, source=f"NATS {settings.NATS_STREAM} #{message.seq}"))
                sequence = message.seq + 1
    finally:
        await client.close()
    return entries


# --- comparing the chain with its checkpoints ----------------------------------------------------


def audit_checkpoints_compare(
    *, tenant: TenantRef, witnessed: list[WitnessedCheckpoint], keys: dict[str, Ed25519PublicKey]
) -> CheckpointReport:
    """Check each checkpoint's signature, then hold the chain against the genuine ones: the
    chain must reach the latest checkpoint's sequence and have each checkpointed hash in place.

    A chain that has grown past a checkpoint and still holds its head at the same position is
    consistent with it.
    """
    problems, genuine = [], []
    for entry in witnessed:
        problem = checkpoint_signature_problem(entry, keys)
        if problem is None:
            genuine.append(entry)
        else:
            problems.append(problem)
    problems += _chain_problems(tenant=tenant, witnessed=genuine)
    latest = max(genuine, key=lambda e: (e.checkpoint.sequence, e.checkpoint.checkpointed_at), default=None)
    return CheckpointReport(checkpoints=len(genuine), latest=latest, problems=problems)


def _missing(count: int) -> str:
    return MISSING_ONE if count == 1 else MISSING_MANY.format(count=count)


def _chain_problems(*, tenant: TenantRef, witnessed: list[WitnessedCheckpoint]) -> list[str]:
    if not witnessed:
        return []
    events = AuditEvent.objects.for_tenant(tenant)
    chain_sequence = events.aggregate(head=Max("sequence"))["head"] or 0
    problems = []
    latest = max(witnessed, key=lambda e: (e.checkpoint.sequence, e.checkpoint.checkpointed_at))
    if latest.checkpoint.sequence > chain_sequence:
        problems.append(
            TAIL_MISSING.format(
                chain_sequence=chain_sequence,
                checkpointed_at=latest.checkpoint.checkpointed_at,
                source=latest.source,
                sequence=latest.checkpoint.sequence,
                head_hash=latest.checkpoint.head_hash,
                missing=_missing(latest.checkpoint.sequence - chain_sequence),
            )
        )
    # The same checkpoint is often read from two witnesses: each position is compared once.
    within: dict[tuple[int, str], WitnessedCheckpoint] = {}
    for entry in sorted(witnessed, key=lambda e: e.checkpoint.checkpointed_at):
        if entry.checkpoint.sequence <= chain_sequence:
            within.setdefault((entry.checkpoint.sequence, entry.checkpoint.head_hash), entry)
    sequences = sorted({sequence for sequence, _ in within})
    actual: dict[int, str] = {}
    for start in range(0, len(sequences), 5000):  # a bounded number of query parameters
        chunk = sequences[start : start + 5000]
        actual.update(events.filter(sequence__in=chunk).values_list("sequence", "hash"))
    wrong = sorted(
        (entry for (sequence, head_hash), entry in within.items() if actual.get(sequence) != head_hash),
        key=lambda e: e.checkpoint.sequence,
    )
    if wrong:
        first = wrong[0].checkpoint
        later = LATER_TOO.format(count=len(wrong) - 1) if len(wrong) > 1 else ""
        names = {
            "sequence": first.sequence,
            "checkpointed_at": first.checkpointed_at,
            "source": wrong[0].source,
            "head_hash": first.head_hash,
            "later": later,
        }
        found = actual.get(first.sequence)
        problems.append(HEAD_MISSING.format(**names) if found is None else HEAD_REWRITTEN.format(actual=found, **names))
    return problems
