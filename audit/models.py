"""The audit log (append-only, hash-chained per tenant) and the outbox of events for NATS."""

from __future__ import annotations

from django.db import models

from audit.fields import WRITE_ORDER_FIELDS
from core.tenancy.scoping import TenantOwnedModel

# The order of a tenant's events, sealed or not: the order the sealer chains them in
# (audit.sealer), so the sealed events are always its first ones and `sequence` follows it.
CHAIN_ORDER = WRITE_ORDER_FIELDS
NEWEST_FIRST = tuple(f"-{name}" for name in WRITE_ORDER_FIELDS)


class AuditEvent(TenantOwnedModel):
    """One change to a tenant's data, written in the same transaction as the change.

    Written *unsealed* (no `sequence`, `prev_hash` or `hash`); the sealer (audit.sealer) chains it
    after its transaction commits. PostgreSQL triggers (migrations 0002, 0005) refuse DELETE and
    TRUNCATE for every role, and every UPDATE but the one that seals an unsealed event. `hash` is
    SHA-256 over the canonical form of the event including `prev_hash`, the previous event's hash
    in the same tenant (see audit.chain).
    """

    created_at = None  # `occurred_at` is the event's time, and part of its hash
    sequence = models.BigIntegerField(
        null=True, blank=True, help_text="1, 2, 3… within the tenant; the chain's order. Empty until sealed."
    )
    # Set by the database on insert (a trigger, whatever the client sends): the writing
    # transaction's id (pg_current_xact_id) and a database sequence's next value.
    xid = models.BigIntegerField(default=0, editable=False, help_text="The transaction that wrote the event.")
    append_seq = models.BigIntegerField(default=0, editable=False, help_text="Order of writing, database-wide.")
    occurred_at = models.DateTimeField()
    actor_kind = models.CharField(max_length=16)  # user | api_key | system
    actor_id = models.CharField(max_length=64)
    actor_label = models.CharField(max_length=255, blank=True, default="")
    entity_type = models.CharField(max_length=64)
    entity_id = models.CharField(max_length=64)
    action = models.CharField(max_length=64)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    request_id = models.CharField(max_length=128, blank=True, default="")
    prev_hash = models.CharField(max_length=64, null=True, blank=True)
    hash = models.CharField(max_length=64, null=True, blank=True)

    class Meta:
        ordering = ["tenant", *CHAIN_ORDER]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "sequence"], name="auditevent_unique_tenant_sequence"),
            models.CheckConstraint(condition=models.Q(sequence__gt=0), name="auditevent_sequence_gt_0"),
            # Sealed whole or not at all: a position, its predecessor's hash and its own hash.
            models.CheckConstraint(
                condition=models.Q(sequence__isnull=True, prev_hash__isnull=True, hash__isnull=True)
                | models.Q(sequence__isnull=False, prev_hash__isnull=False, hash__isnull=False),
                name="auditevent_sealed_whole",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "entity_type", "entity_id"], name="audit_tenant_entity"),
            models.Index(fields=["tenant", "occurred_at"], name="audit_tenant_occurred"),
            models.Index(fields=["tenant", *CHAIN_ORDER], name="audit_tenant_chain_order"),
            # What the sealer reads: a tenant's unsealed events in chain order.
            models.Index(
                fields=["tenant", *CHAIN_ORDER], condition=models.Q(sequence__isnull=True), name="audit_unsealed"
            ),
        ]

    @property
    def sealed(self) -> bool:
        return self.sequence is not None

    def __str__(self) -> str:
        position = f"#{self.sequence}" if self.sealed else "unsealed"
        return f"{position} {self.entity_type}.{self.action}"


class OutboxMessage(TenantOwnedModel):
    """An event for other services, committed with the change and published later (at least once;
    the broker de-duplicates on `Nats-Msg-Id` = `id`)."""

    subject = models.CharField(max_length=200)
    payload = models.JSONField()
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(
                fields=["next_attempt_at", "created_at"],
                condition=models.Q(published_at__isnull=True),
                name="outbox_unpublished",
            )
        ]

    def __str__(self) -> str:
        return f"{self.subject} {self.id}"
