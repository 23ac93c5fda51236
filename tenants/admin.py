"""Admin of tenants, their settings, API keys, memberships and idempotency records."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from audit.admin_audit import AuditedAdminMixin, admin_actor
from tenants.admin_mixins import (
    ReadOnlyInlineMixin,
    TenantOwnedAdminForm,
    TenantOwnedAdminMixin,
    TenantOwnedInlineMixin,
)
from tenants.models import ApiKey, IdempotencyRecord, Membership, Tenant, TenantSettings
from tenants.services import api_key_create, api_key_revoke

REJECT_ON_NOT_A_LIST = 'A list of discrepancy types, e.g. ["duplicate_invoice"].'
API_KEY_SHOWN_ONCE = (
    "API key for {tenant} created. Copy it now, it is not stored and will not be shown again: <code>{raw_key}</code>"
)
API_KEYS_REVOKED = "Revoked {count} API key(s)."


SETTINGS_FIELDSETS = (
    ("Decision thresholds (major units of the invoice currency)", {"fields": ("auto_approve_max", "escalate_from")}),
    (
        "Tolerances",
        {
            "fields": (
                "auto_approve_min_confidence",
                "price_tolerance_pct",
                "price_tolerance_abs",
                "quantity_tolerance_pct",
            )
        },
    ),
    ("Matching", {"fields": ("reject_on", "fuzzy_vendor_threshold", "hold_max_days", "max_invoices_per_run")}),
)


class TenantSettingsForm(forms.ModelForm):
    """Model validation (the validators on each field, the check constraints) runs in
    `ModelForm._post_clean`; this adds the shape of `reject_on`, which a JSONField cannot say."""

    class Meta:
        model = TenantSettings
        fields = tuple(name for _, options in SETTINGS_FIELDSETS for name in options["fields"])

    def clean_reject_on(self) -> list[str]:
        reject_on = self.cleaned_data.get("reject_on")
        if reject_on in (None, ""):
            return []
        # Validated for shape only: the vocabulary of discrepancy types belongs to `matching`.
        if not isinstance(reject_on, list) or not all(isinstance(kind, str) and kind.strip() for kind in reject_on):
            raise forms.ValidationError(REJECT_ON_NOT_A_LIST)
        return [kind.strip() for kind in reject_on]


class TenantSettingsInline(admin.StackedInline):
    model = TenantSettings
    form = TenantSettingsForm
    fieldsets = SETTINGS_FIELDSETS
    can_delete = False
    min_num = 1
    max_num = 1
    extra = 0


class ApiKeyInline(TenantOwnedInlineMixin, ReadOnlyInlineMixin, admin.TabularInline):
    """The tenant's keys at a glance; keys are created and revoked from the API key admin."""

    model = ApiKey
    fk_name = "tenant"
    fields = ("display_prefix", "name", "is_active", "revoked_at", "created_at")
    readonly_fields = fields
    show_change_link = True


class MembershipInline(TenantOwnedInlineMixin, admin.TabularInline):
    model = Membership
    fk_name = "tenant"
    fields = ("user", "role", "created_at")
    readonly_fields = ("created_at",)
    autocomplete_fields = ("user",)
    extra = 0


@admin.register(Tenant)
class TenantAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "slug", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "slug", "id__exact")
    date_hierarchy = "created_at"
    readonly_fields = ("id", "created_at")
    fields = ("id", "name", "slug", "is_active", "created_at")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (TenantSettingsInline, MembershipInline, ApiKeyInline)

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # Matching cannot run for a tenant without settings. The inline normally creates the
        # row, but an unchanged inline form counts as "empty" and is skipped by the formset.
        TenantSettings.objects.get_or_create(tenant=form.instance)


@admin.register(TenantSettings)
class TenantSettingsAdmin(AuditedAdminMixin, admin.ModelAdmin):
    form = TenantSettingsForm
    list_display = (
        "tenant",
        "auto_approve_max",
        "escalate_from",
        "price_tolerance_pct",
        "quantity_tolerance_pct",
        "hold_max_days",
        "updated_at",
    )
    list_filter = ("tenant",)
    list_select_related = ("tenant",)
    search_fields = ("tenant__name", "tenant__slug")
    readonly_fields = ("tenant", "updated_at")
    fieldsets = ((None, {"fields": ("tenant", "updated_at")}), *SETTINGS_FIELDSETS)

    # One row per tenant, created with the tenant (see TenantAdmin) and needed for as long as
    # the tenant exists.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: TenantSettings | None = None) -> bool:
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(TenantOwnedAdminMixin, admin.ModelAdmin):
    """Keys are made by `api_key_create`, which stores only the hash: the admin never takes one."""

    audit_additions = False  # api_key_create records the creation

    list_display = ("display_prefix", "name", "tenant", "is_active", "created_at", "revoked_at")
    list_filter = ("tenant", "is_active")
    search_fields = ("name", "display_prefix", "tenant__name", "tenant__slug", "id__exact")
    date_hierarchy = "created_at"
    readonly_fields = ("display_prefix", "is_active", "revoked_at")
    fieldsets = (
        (None, {"fields": ("id", "tenant", "name", "display_prefix", "is_active", "revoked_at", "created_at")}),
    )
    add_fieldsets = ((None, {"fields": ("tenant", "name")}),)
    actions = ("revoke_selected",)

    def save_model(self, request: HttpRequest, obj: ApiKey, form: forms.ModelForm, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        api_key, raw_key = api_key_create(tenant=obj.tenant, name=obj.name, actor=admin_actor(request))
        # The admin goes on with `obj` (change log, redirect), so it becomes the stored key.
        for field in ApiKey._meta.concrete_fields:
            setattr(obj, field.attname, getattr(api_key, field.attname))
        obj._state.adding = False
        obj._state.db = api_key._state.db
        messages.success(request, format_html(API_KEY_SHOWN_ONCE, tenant=obj.tenant, raw_key=raw_key))

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        revoked = 0
        for api_key in queryset.filter(is_active=True).select_related("tenant"):
            api_key_revoke(tenant=api_key.tenant, api_key=api_key, actor=admin_actor(request))
            revoked += 1
        messages.success(request, API_KEYS_REVOKED.format(count=revoked))


class MembershipAdminForm(TenantOwnedAdminForm):
    class Meta:
        model = Membership
        fields = ("user", "role")


@admin.register(Membership)
class MembershipAdmin(TenantOwnedAdminMixin, admin.ModelAdmin):
    form = MembershipAdminForm
    list_display = ("user", "tenant", "role", "created_at")
    list_filter = ("tenant", "role")
    search_fields = ("user__username", "user__email", "tenant__name", "tenant__slug")
    autocomplete_fields = ("user",)
    fieldsets = ((None, {"fields": ("id", "tenant", "user", "role", "created_at")}),)
    add_fieldsets = ((None, {"fields": ("tenant", "user", "role")}),)

    def get_readonly_fields(self, request: HttpRequest, obj: Membership | None = None) -> tuple[str, ...]:
        # A membership is one user in one tenant; giving it to another user is a new membership.
        readonly = super().get_readonly_fields(request, obj)
        return readonly if obj is None else (*readonly, "user")


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(TenantOwnedAdminMixin, admin.ModelAdmin):
    """Stored responses of `Idempotency-Key` requests: evidence, never edited. Deleting one lets a
    stuck `in_flight` key be retried."""

    list_display = ("key", "tenant", "state", "response_status", "created_at", "completed_at")
    list_filter = ("tenant", "state", "response_status")
    search_fields = ("key", "request_fingerprint", "tenant__name", "tenant__slug")
    date_hierarchy = "created_at"
    fields = (
        "id",
        "tenant",
        "key",
        "request_fingerprint",
        "state",
        "response_status",
        "formatted_response_body",
        "created_at",
        "completed_at",
    )
    readonly_fields = fields

    @admin.display(description="response body")
    def formatted_response_body(self, record: IdempotencyRecord) -> str:
        if record.response_body is None:
            return "-"
        return format_html("<pre>{}</pre>", json.dumps(record.response_body, indent=2, sort_keys=True))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: IdempotencyRecord | None = None) -> bool:
        return False
