"""Audit events for changes made in the Django admin.

The admin writes models directly (it is the administrators' tool), so it records what it does
through the same audit log as the services, in the same transaction: Django runs the add,
change and delete views in `transaction.atomic()`, and the bulk-delete action is wrapped here.
Every ModelAdmin of tenant data mixes this in.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.db import models, transaction
from django.forms.models import BaseModelFormSet
from django.http import HttpRequest

from audit.services import audit_record, model_snapshot
from core.actors import Actor
from tenants.models import Tenant


def admin_actor(request: HttpRequest) -> Actor:
    user = request.user
    return Actor(kind="user", id=str(user.pk), label=user.get_username())


def _tenant_of(instance: models.Model) -> Tenant | None:
    if isinstance(instance, Tenant):
        return instance
    return getattr(instance, "tenant", None)


def _changed(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    keys = [key for key in after if before.get(key) != after.get(key)]
    return {key: before.get(key) for key in keys}, {key: after[key] for key in keys}


def audit_admin_change(
    request: HttpRequest, instance: models.Model, action: str, before: dict[str, Any] | None
) -> None:
    """Record one admin change of `instance` (inside the admin's transaction)."""
    tenant = _tenant_of(instance)
    if tenant is None:
        return
    after = model_snapshot(instance) if action != "deleted" else None
    if action == "updated" and before is not None and after is not None:
        before, after = _changed(before, after)
        if not after:
            return  # saved without a change: nothing happened
    with transaction.atomic():
        audit_record(
            tenant=tenant,
            actor=admin_actor(request),
            entity_type=instance._meta.model_name or "",
            entity_id=instance.pk,
            action=f"admin.{action}",
            before=before,
            after=after,
        )


@transaction.atomic
def _atomic_delete_selected(modeladmin: Any, request: HttpRequest, queryset: Any) -> Any:
    # Django logs deletions and then deletes, outside a transaction; together, or neither.
    return django_delete_selected(modeladmin, request, queryset)


class AuditedAdminMixin:
    """Writes an audit event for every add, change and delete made through this ModelAdmin and
    its inlines. Set `audit_additions = False` where a service already records the creation."""

    audit_additions = True

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        obj = super().get_object(request, object_id, from_field)  # type: ignore[misc]
        if obj is not None:
            obj._audit_before = model_snapshot(obj)
        return obj

    def log_addition(self, request: HttpRequest, obj: models.Model, message: Any) -> Any:
        if self.audit_additions:
            audit_admin_change(request, obj, "created", None)
        return super().log_addition(request, obj, message)  # type: ignore[misc]

    def log_change(self, request: HttpRequest, obj: models.Model, message: Any) -> Any:
        audit_admin_change(request, obj, "updated", getattr(obj, "_audit_before", None))
        return super().log_change(request, obj, message)  # type: ignore[misc]

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        for obj in queryset:
            audit_admin_change(request, obj, "deleted", model_snapshot(obj))
        return super().log_deletions(request, queryset)  # type: ignore[misc]

    def save_formset(self, request: HttpRequest, form: Any, formset: BaseModelFormSet, change: bool) -> None:
        before = {
            inline_form.instance.pk: model_snapshot(inline_form.instance)
            for inline_form in formset.initial_forms
            if inline_form.instance.pk is not None
        }
        super().save_formset(request, form, formset, change)  # type: ignore[misc]
        for obj in formset.new_objects:
            audit_admin_change(request, obj, "created", None)
        for obj, _fields in formset.changed_objects:
            audit_admin_change(request, obj, "updated", before.get(obj.pk))
        for obj in formset.deleted_objects:
            audit_admin_change(request, obj, "deleted", before.get(obj.pk))

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)  # type: ignore[misc]
        if "delete_selected" in actions:
            _, name, description = actions["delete_selected"]
            actions["delete_selected"] = (_atomic_delete_selected, name, description)
        return actions
