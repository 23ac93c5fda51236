"""The audit log (append-only, hash-chained per tenant) and the outbox of events for NATS."""

from __future__ import annotations

from django.db import models

from core.tenancy.scoping import TenantOwnedModel


class AuditEvent(TenantOwnedModel):
    """One change to a tenant's data, written in the same transaction as the change.

    PostgreSQL triggers refuse UPDATE, DELETE and TRUNCATE on this table for every role
    (migration 0002). `hash` is SHA-256 over the canonical form of the event including
    `prev_hash`, the previous event's hash in the same tenant (see audit.chain).
    """

    created_at = None  # `occurred_at` is the event's time, and part of its hash
    sequence = models.BigIntegerField(help_text="1, 2, 3… within the tenant; the chain's order.")
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
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["tenant", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "sequence"], name="auditevent_unique_tenant_sequence"),
            models.CheckConstraint(condition=models.Q(sequence__gt=0), name="auditevent_sequence_gt_0"),
        ]
        indexes = [
            models.Index(fields=["tenant", "entity_type", "entity_id"], name="audit_tenant_entity"),
            models.Index(fields=["tenant", "occurred_at"], name="audit_tenant_occurred"),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.entity_type}.{self.action}"


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
