"""The audit log and the outbox in the admin: read-only for everyone, superusers included.

The database refuses UPDATE/DELETE/TRUNCATE on audit events anyway (migration 0002); the admin
does not even offer them, so nobody is invited to try.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from audit.models import AuditEvent, OutboxMessage


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> Any:
        # The admin is the cross-tenant view (see tenants.admin_mixins).
        return self.model.objects.unscoped().select_related("tenant")


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = [
        "sequence",  # empty until sealed (audit.sealer)
        "tenant",
        "occurred_at",
        "actor_kind",
        "actor_label",
        "entity_type",
        "action",
        "entity_id",
    ]
    list_filter = ["tenant", "entity_type", "action", "actor_kind"]
    search_fields = ["entity_id", "request_id", "actor_label", "hash"]
    date_hierarchy = "occurred_at"
    ordering = ["tenant", "-xid", "-append_seq"]
    actions = None


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "tenant", "subject", "created_at", "attempts", "published_at"]
    list_filter = ["subject", ("published_at", admin.EmptyFieldListFilter)]
    search_fields = ["id", "subject", "last_error"]
    date_hierarchy = "created_at"
    actions = None
