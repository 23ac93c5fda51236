"""Admin of vendors and their aliases.

Vendors may be added and corrected here. The normalized forms that resolution compares
(`normalized_name`, `normalized_alias`, the tax id) are computed the same way the services
compute them, so a vendor made in the admin resolves exactly like one made through the API.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from core.money import MoneyError, normalize_currency
from tenants.admin_mixins import (
    TenantOwnedAdminForm,
    TenantOwnedAdminMixin,
    TenantOwnedInlineFormSet,
    TenantOwnedInlineMixin,
    TenantScopedForm,
)
from vendors.models import Vendor, VendorAlias, VendorAliasKind, VendorBankAccount
from vendors.names import normalize_tax_id, normalize_vendor_name
from vendors.services import ALIAS_TAKEN, VENDOR_NAME_REQUIRED

ALIAS_REPEATED = "The alias {alias!r} is given twice."
TOLERANCE_FIELDSET = (
    "Tolerance overrides",
    {
        "description": "Empty means the tenant's setting applies.",
        "fields": ("price_tolerance_pct", "quantity_tolerance_pct"),
    },
)


class VendorAliasForm(TenantScopedForm):
    class Meta:
        model = VendorAlias
        fields = ("alias",)

    def clean_alias(self) -> str:
        alias = self.cleaned_data["alias"].strip()
        normalized = normalize_vendor_name(alias)
        if not normalized:
            raise forms.ValidationError(VENDOR_NAME_REQUIRED)
        # Unique per tenant in the database; Django's own check skips it because
        # `normalized_alias` is not a form field, so it is made here with the services' message.
        tenant_id = self.instance.tenant_id
        if (
            tenant_id
            and VendorAlias.objects.for_tenant(tenant_id)
            .filter(kind=VendorAliasKind.NAME, normalized_alias=normalized)
            .exclude(pk=self.instance.pk)
            .exists()
        ):
            raise forms.ValidationError(ALIAS_TAKEN.format(alias=alias))
        self.instance.normalized_alias = normalized
        return alias


class VendorAliasFormSet(TenantOwnedInlineFormSet):
    def clean(self) -> None:
        super().clean()
        seen: set[str] = set()
        for form in self.forms:
            if not form.has_changed() and form.instance._state.adding:
                continue
            if self.can_delete and self._should_delete_form(form):
                continue
            alias = form.cleaned_data.get("alias")
            if not alias:
                continue
            normalized = normalize_vendor_name(alias)
            if normalized in seen:
                form.add_error("alias", ALIAS_REPEATED.format(alias=alias))
            seen.add(normalized)


class VendorAliasInline(TenantOwnedInlineMixin, admin.TabularInline):
    model = VendorAlias
    form = VendorAliasForm
    formset = VendorAliasFormSet
    fields = ("alias", "normalized_alias", "created_at")
    readonly_fields = ("normalized_alias", "created_at")
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[VendorAlias]:
        # Names only: a tax id alias is learned from a person's choice and forgotten on "What Recon
        # learned"; this form would normalize it as a name.
        return super().get_queryset(request).filter(kind=VendorAliasKind.NAME)


class VendorBankAccountInline(TenantOwnedInlineMixin, admin.TabularInline):
    """The vendor's bank accounts, read only and masked: an account is added, approved and replaced
    in the app under four eyes (vendors.bank_accounts), never in the admin, and its number is shown
    nowhere in full (the encrypted column and the hash are not even listed)."""

    model = VendorBankAccount
    fields = (
        "account_mask",
        "bic",
        "bank_name",
        "country",
        "status",
        "proposed_by_label",
        "decided_by_label",
        "decided_at",
        "usable_from",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "bank accounts (changed in the app, under four eyes)"

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class VendorAdminForm(TenantOwnedAdminForm):
    class Meta:
        model = Vendor
        fields = (
            "name",
            "tax_id",
            "external_id",
            "default_currency",
            "is_active",
            "price_tolerance_pct",
            "quantity_tolerance_pct",
        )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not normalize_vendor_name(name):
            raise forms.ValidationError(VENDOR_NAME_REQUIRED)
        return name

    def clean_tax_id(self) -> str:
        # Stored normalized, as vendor_create does, so lookups by tax id find it; normalizing
        # before model validation also makes the per-tenant uniqueness check compare like with like.
        return normalize_tax_id(self.cleaned_data.get("tax_id", ""))

    def clean_default_currency(self) -> str:
        currency = self.cleaned_data.get("default_currency", "")
        if not currency:
            return ""
        try:
            return normalize_currency(currency)
        except MoneyError as exc:
            raise forms.ValidationError(str(exc)) from exc


@admin.register(Vendor)
class VendorAdmin(TenantOwnedAdminMixin, admin.ModelAdmin):
    form = VendorAdminForm
    list_display = ("name", "tenant", "tax_id", "default_currency", "external_id", "alias_count", "is_active")
    list_filter = ("tenant", "is_active", "default_currency")
    search_fields = (
        "name",
        "normalized_name",
        "tax_id",
        "external_id",
        "aliases__alias",
        "tenant__name",
        "tenant__slug",
        "id__exact",
    )
    readonly_fields = ("normalized_name",)
    fieldsets = (
        (None, {"fields": ("id", "tenant", "name", "normalized_name", "tax_id", "external_id", "default_currency")}),
        ("Status", {"fields": ("is_active", "created_at")}),
        TOLERANCE_FIELDSET,
    )
    add_fieldsets = (
        (None, {"fields": ("tenant", "name", "tax_id", "external_id", "default_currency", "is_active")}),
        TOLERANCE_FIELDSET,
    )
    inlines = (VendorAliasInline, VendorBankAccountInline)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Vendor]:
        return super().get_queryset(request).annotate(alias_count=Count("aliases", distinct=True))

    @admin.display(description="aliases", ordering="alias_count")
    def alias_count(self, vendor: Vendor) -> int:
        return vendor.alias_count  # type: ignore[attr-defined]

    def save_model(self, request: HttpRequest, obj: Vendor, form: forms.ModelForm, change: bool) -> None:
        # Resolution compares normalized names, so the stored one must follow every rename.
        obj.normalized_name = normalize_vendor_name(obj.name)
        super().save_model(request, obj, form, change)
