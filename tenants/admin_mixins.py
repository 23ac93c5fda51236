"""How the Django admin reads and writes tenant-owned rows.

Tenant-owned models refuse to run a query that is not scoped to a tenant (`core.tenancy.scoping`).
The admin is the one legitimate cross-tenant view, so this module is where it says so: every
tenant-owned ModelAdmin and inline starts from `.unscoped()` here and nowhere else.

Editing is the opposite case. A row belongs to exactly one tenant, so whatever it points at
(an invoice's vendor, a receipt line's PO line) must belong to that tenant too. Choice lists of
tenant-owned rows are therefore narrowed to the edited row's tenant, and a submitted choice from
another tenant is refused, so an administrator cannot link two tenants' data by accident.
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import admin
from django.db import models
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest

from core.tenancy.scoping import TenantOwnedModel, TenantQuerySet, TenantRow, tenant_id_of
from tenants.admin_audit import AuditedAdminMixin
from tenants.models import Tenant

CROSS_TENANT_CHOICE = "This belongs to another tenant than the row being edited."
TENANT_FIXED_HELP = "The tenant this row belongs to. It cannot be changed later."


def is_tenant_owned(model: type[models.Model]) -> bool:
    return issubclass(model, TenantRow)


def scope_choice_fields(form: forms.BaseForm, tenant_id: uuid.UUID | None) -> None:
    """Narrow every choice list of tenant-owned rows to `tenant_id` (all tenants when unknown)."""
    for field in form.fields.values():
        queryset = getattr(field, "queryset", None)
        if not isinstance(queryset, TenantQuerySet):
            continue
        # Assigning the queryset also refreshes the widget's choices (the admin's related-field
        # wrapper forwards them), so the rendered <select> lists the same rows that validate.
        field.queryset = queryset.for_tenant(tenant_id) if tenant_id else queryset.unscoped()


def _unscoped_choices(
    model_admin: admin.options.BaseModelAdmin,
    db_field: models.ForeignKey,
    request: HttpRequest,
    kwargs: dict[str, Any],
) -> None:
    """Give a tenant-owned foreign key a choice queryset that can be evaluated at all.

    Django builds it from the related model's default manager, which raises when unscoped. The
    form narrows it to the edited row's tenant as soon as it knows that tenant.
    """
    related_model = db_field.remote_field.model
    if "queryset" in kwargs or not is_tenant_owned(related_model):
        return
    queryset = model_admin.get_field_queryset(None, db_field, request)
    if queryset is None:
        queryset = related_model._default_manager.all()
    kwargs["queryset"] = queryset.unscoped()


class TenantScopedForm(forms.ModelForm):
    """The admin's form for a tenant-owned row whose tenant is already known (change, inlines)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        scope_choice_fields(self, self.instance.tenant_id)

    def clean(self) -> dict[str, Any]:
        cleaned_data = super().clean()
        tenant_id = self.instance.tenant_id
        for name, value in list(cleaned_data.items()):  # add_error() removes the entry
            if isinstance(value, TenantOwnedModel) and tenant_id and value.tenant_id != tenant_id:
                self.add_error(name, CROSS_TENANT_CHOICE)
        return cleaned_data

    def _get_validation_exclusions(self) -> set[str]:
        exclusions = super()._get_validation_exclusions()
        # `tenant` is editable=False, so Django leaves it out of model validation, and with it
        # every unique constraint that leads with the tenant (all of them do). Once the tenant is
        # known those constraints can be checked, and must be: otherwise a duplicate reaches the
        # database and the administrator gets a 500 instead of a form error. The lookups then
        # pin `tenant_id`, which is what the scoped manager accepts.
        if self.instance.tenant_id is not None:
            exclusions.discard("tenant")
        return exclusions


class TenantOwnedAdminForm(TenantScopedForm):
    """A top-level admin form: on add, the administrator picks the tenant once.

    On change, `TenantOwnedAdminMixin` lists `tenant` as read-only, which makes the admin drop
    this declared field, so the tenant of an existing row cannot move.
    """

    tenant = forms.ModelChoiceField(queryset=Tenant.objects.all(), help_text=TENANT_FIXED_HELP)

    def clean(self) -> dict[str, Any]:
        tenant = self.cleaned_data.get("tenant") if "tenant" in self.fields else None
        if tenant is not None:
            # construct_instance() skips non-editable fields, so the choice is applied here,
            # before model validation and the cross-tenant check of the other choices.
            self.instance.tenant = tenant
        return super().clean()


class TenantOwnedInlineFormSet(BaseInlineFormSet):
    """Inline rows take their parent's tenant; their choices are limited to it."""

    @classmethod
    def get_default_prefix(cls) -> str:
        # Django names an inline's fields after the reverse accessor. The `tenant` foreign key
        # has related_name="+", so there is none: the admin falls back to "-1", "-2", ..., which
        # its inline JavaScript cannot select ("#-1" is not a valid CSS id).
        return super().get_default_prefix() or cls.model._meta.model_name

    @property
    def parent_tenant_id(self) -> uuid.UUID | None:
        return tenant_id_of(self.instance)

    def _construct_form(self, i: int, **kwargs: Any) -> forms.BaseForm:
        form = super()._construct_form(i, **kwargs)
        # Forms are built lazily, after the parent form has validated, so on the parent's add
        # page the tenant chosen there is already on `self.instance`.
        if form.instance._state.adding and form.instance.tenant_id is None:
            form.instance.tenant_id = self.parent_tenant_id
        scope_choice_fields(form, self.parent_tenant_id)
        return form

    @property
    def empty_form(self) -> forms.BaseForm:
        form = super().empty_form
        scope_choice_fields(form, self.parent_tenant_id)
        return form

    def save_new(self, form: forms.BaseForm, commit: bool = True) -> models.Model:
        form.instance.tenant_id = self.parent_tenant_id
        return super().save_new(form, commit=commit)


class TenantOwnedAdminMixin(AuditedAdminMixin):
    """For every ModelAdmin of a tenant-owned model: the admin reads across tenants, and every
    change it makes is audited (AuditedAdminMixin).

    Also makes `id`, `tenant` and `created_at` read-only on change, lets the administrator pick
    the tenant on add (through `TenantOwnedAdminForm`), and shows `add_fieldsets` on the add
    page when the admin defines them.
    """

    form = TenantOwnedAdminForm
    add_fieldsets: Any = None
    tenant_readonly_fields: tuple[str, ...] = ("id", "tenant", "created_at")

    def get_queryset(self, request: HttpRequest) -> TenantQuerySet:
        return super().get_queryset(request).unscoped().select_related("tenant")

    def get_readonly_fields(self, request: HttpRequest, obj: models.Model | None = None) -> tuple[str, ...]:
        readonly = tuple(super().get_readonly_fields(request, obj))
        extra = tuple(name for name in self.tenant_readonly_fields if name not in readonly)
        fields = extra + readonly
        if obj is None:
            # On add the tenant is the declared choice field of TenantOwnedAdminForm.
            fields = tuple(name for name in fields if name != "tenant")
        return fields

    def get_exclude(self, request: HttpRequest, obj: models.Model | None = None) -> list[str]:
        # `tenant` is editable=False: naming it among a ModelForm's fields without excluding it
        # raises FieldError. The form declares its own `tenant` field for the add page instead.
        return [*(super().get_exclude(request, obj) or ()), "tenant"]

    def get_fieldsets(self, request: HttpRequest, obj: models.Model | None = None) -> Any:
        if obj is None and self.add_fieldsets:
            return self.add_fieldsets
        return super().get_fieldsets(request, obj)

    def formfield_for_foreignkey(
        self, db_field: models.ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> forms.Field | None:
        _unscoped_choices(self, db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class TenantOwnedInlineMixin:
    """For every inline of a tenant-owned model: unscoped reads, rows take the parent's tenant."""

    form = TenantScopedForm
    formset = TenantOwnedInlineFormSet

    def get_queryset(self, request: HttpRequest) -> TenantQuerySet:
        # The inline formset narrows this to the parent row, which is always of one tenant.
        return super().get_queryset(request).unscoped()

    def formfield_for_foreignkey(
        self, db_field: models.ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> forms.Field | None:
        _unscoped_choices(self, db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ReadOnlyInlineMixin:
    """An inline that shows rows and never adds, changes or deletes them.

    For document lines: documents arrive through the API and services, which validate them as
    a whole and write the audit trail; editing one line in the admin would bypass both.
    """

    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False


class DocumentAdminMixin:
    """For business documents (purchase orders, receipts, invoices): viewable, never created or
    deleted here.

    They arrive through the API and services, which validate a document as a whole, keep its
    lines consistent with its header and write the audit trail; a document made or deleted in
    the admin would skip all three, and deleting one would leave audit events and matches that
    point at nothing.
    """

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False
