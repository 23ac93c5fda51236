"""The Django admin: the one cross-tenant view, read-mostly for documents, safe for secrets.

Every tenant-owned model's manager refuses unscoped queries, so each page here would crash with
`UnscopedQueryError` if the admin forgot `.unscoped()` anywhere (changelist, search, filters,
change view, inlines, choice lists). Rows of two tenants are always present.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.admin import site as admin_site
from django.contrib.admin.models import LogEntry
from django.db import models
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from invoices.models import Invoice, InvoiceStatus
from purchasing.models import GoodsReceipt, PurchaseOrder
from tenants.admin import API_KEYS_REVOKED
from tenants.admin_mixins import CROSS_TENANT_CHOICE
from tenants.models import ApiKey, IdempotencyRecord, Membership, Tenant, TenantSettings, hash_api_key
from tenants.services import api_key_create
from tests.factories import (
    TEST_ACTOR,
    GoodsReceiptFactory,
    GoodsReceiptLineFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    MembershipFactory,
    PurchaseOrderFactory,
    PurchaseOrderLineFactory,
    UserFactory,
    VendorFactory,
)
from vendors.models import Vendor, VendorAlias
from vendors.names import normalize_vendor_name
from vendors.services import ALIAS_TAKEN

RAW_KEY = re.compile(r"rk_[A-Za-z0-9_-]{43}")


@dataclass
class TenantRows:
    """One of everything the admin shows, belonging to one tenant, labelled with `token`."""

    token: str
    tenant: Tenant
    settings: TenantSettings
    api_key: ApiKey
    membership: Membership
    idempotency_record: IdempotencyRecord
    vendor: Vendor
    purchase_order: PurchaseOrder
    goods_receipt: GoodsReceipt
    invoice: Invoice


def _rows_for(tenant: Tenant, token: str) -> TenantRows:
    api_key, _ = api_key_create(tenant=tenant, name=f"{token}-key", actor=TEST_ACTOR)
    membership = MembershipFactory(tenant=tenant, user=UserFactory(username=f"{token}-clerk"))
    record = IdempotencyRecord.objects.create(
        tenant=tenant, key=f"{token}-idem", request_fingerprint="f" * 64, response_body={"id": token}
    )
    vendor = VendorFactory(tenant=tenant, name=f"{token} Supplies Ltd")
    VendorAlias.objects.create(
        tenant=tenant,
        vendor=vendor,
        alias=f"{token} Trading",
        normalized_alias=normalize_vendor_name(f"{token} Trading"),
    )
    purchase_order = PurchaseOrderFactory(tenant=tenant, vendor=vendor, po_number=f"{token}-PO")
    po_line = PurchaseOrderLineFactory(purchase_order=purchase_order, line_number=1, sku=f"{token}-SKU")
    receipt = GoodsReceiptFactory(purchase_order=purchase_order, receipt_number=f"{token}-GR")
    GoodsReceiptLineFactory(goods_receipt=receipt, purchase_order_line=po_line, quantity=Decimal("4"))
    invoice = InvoiceFactory(
        tenant=tenant, vendor=vendor, invoice_number=f"{token}-INV", po_number=purchase_order.po_number
    )
    InvoiceLineFactory(invoice=invoice, line_number=1, description=f"{token} widgets")
    return TenantRows(
        token=token,
        tenant=tenant,
        settings=TenantSettings.objects.get(tenant=tenant),
        api_key=api_key,
        membership=membership,
        idempotency_record=record,
        vendor=vendor,
        purchase_order=purchase_order,
        goods_receipt=receipt,
        invoice=invoice,
    )


@pytest.fixture
def ours(tenant: Tenant) -> TenantRows:
    return _rows_for(tenant, "ACME")


@pytest.fixture
def theirs(other_tenant: Tenant) -> TenantRows:
    return _rows_for(other_tenant, "GLOBEX")


def admin_url(model: type[models.Model], view: str, *args: Any) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


def form_data(response: Any) -> dict[str, Any]:
    """The POST body a browser would send back for an admin add/change page, unchanged."""
    forms: list[Any] = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms.append(inline.formset.management_form)
        forms.extend(inline.formset.forms)
    data: dict[str, Any] = {}
    for form in forms:
        for bound_field in form:
            value = bound_field.value()
            if bound_field.field.show_hidden_initial:
                # Fields with callable defaults carry their initial value in a hidden input; the
                # form compares against it to tell an untouched form from a filled one.
                data[bound_field.html_initial_name] = bound_field.field.prepare_value(bound_field.initial)
            if value is None or value is False:
                continue
            data[bound_field.html_name] = "on" if value is True else str(value)
    return data


# Per registered model: the row of a tenant that its changelist lists, and a search term that
# finds exactly that row.
CASES: dict[str, tuple[type[models.Model], Callable[[TenantRows], models.Model], Callable[[TenantRows], str]]] = {
    "tenant": (Tenant, lambda rows: rows.tenant, lambda rows: rows.tenant.slug),
    "tenant_settings": (TenantSettings, lambda rows: rows.settings, lambda rows: rows.tenant.slug),
    "api_key": (ApiKey, lambda rows: rows.api_key, lambda rows: f"{rows.token}-key"),
    "membership": (Membership, lambda rows: rows.membership, lambda rows: f"{rows.token}-clerk"),
    "idempotency_record": (IdempotencyRecord, lambda rows: rows.idempotency_record, lambda rows: f"{rows.token}-idem"),
    "vendor": (Vendor, lambda rows: rows.vendor, lambda rows: f"{rows.token} Supplies"),
    "vendor_by_alias": (Vendor, lambda rows: rows.vendor, lambda rows: f"{rows.token} Trading"),
    "purchase_order": (PurchaseOrder, lambda rows: rows.purchase_order, lambda rows: f"{rows.token}-PO"),
    "goods_receipt": (GoodsReceipt, lambda rows: rows.goods_receipt, lambda rows: f"{rows.token}-GR"),
    "invoice": (Invoice, lambda rows: rows.invoice, lambda rows: f"{rows.token}-INV"),
    "invoice_by_vendor": (Invoice, lambda rows: rows.invoice, lambda rows: f"{rows.token} Supplies"),
    "invoice_by_id": (Invoice, lambda rows: rows.invoice, lambda rows: str(rows.invoice.pk)),
}


def _listed_pks(response: Any) -> set[Any]:
    return {row.pk for row in response.context["cl"].result_list}


def test_admin_index_lists_every_model(admin_client: Client) -> None:
    response = admin_client.get(reverse("admin:index"))

    assert response.status_code == 200
    for model in (
        Tenant,
        TenantSettings,
        ApiKey,
        Membership,
        IdempotencyRecord,
        Vendor,
        PurchaseOrder,
        GoodsReceipt,
        Invoice,
    ):
        assert admin_url(model, "changelist") in response.content.decode()


@pytest.mark.parametrize("case", CASES)
def test_changelist_lists_rows_of_every_tenant(
    admin_client: Client, ours: TenantRows, theirs: TenantRows, case: str
) -> None:
    model, row_of, _ = CASES[case]

    response = admin_client.get(admin_url(model, "changelist"))

    assert response.status_code == 200
    assert {row_of(ours).pk, row_of(theirs).pk} <= _listed_pks(response)


@pytest.mark.parametrize("case", CASES)
def test_search_finds_the_row_of_one_tenant(
    admin_client: Client, ours: TenantRows, theirs: TenantRows, case: str
) -> None:
    model, row_of, term_of = CASES[case]

    response = admin_client.get(admin_url(model, "changelist"), {"q": term_of(theirs)})

    assert response.status_code == 200
    assert _listed_pks(response) == {row_of(theirs).pk}


@pytest.mark.parametrize("case", ["api_key", "membership", "idempotency_record", "vendor", "purchase_order", "invoice"])
def test_tenant_filter_keeps_one_tenant(admin_client: Client, ours: TenantRows, theirs: TenantRows, case: str) -> None:
    model, row_of, _ = CASES[case]

    response = admin_client.get(admin_url(model, "changelist"), {"tenant__id__exact": str(ours.tenant.pk)})

    assert response.status_code == 200
    assert row_of(ours).pk in _listed_pks(response)
    assert row_of(theirs).pk not in _listed_pks(response)


@pytest.mark.parametrize("case", CASES)
def test_change_view_renders(admin_client: Client, ours: TenantRows, theirs: TenantRows, case: str) -> None:
    model, row_of, _ = CASES[case]

    response = admin_client.get(admin_url(model, "change", row_of(theirs).pk))

    assert response.status_code == 200
    assert str(row_of(theirs)) in response.content.decode()


@pytest.mark.parametrize("model", [Tenant, ApiKey, Membership, Vendor])
def test_add_view_renders(
    admin_client: Client, ours: TenantRows, theirs: TenantRows, model: type[models.Model]
) -> None:
    assert admin_client.get(admin_url(model, "add")).status_code == 200


@pytest.mark.parametrize("model", [TenantSettings, IdempotencyRecord, PurchaseOrder, GoodsReceipt, Invoice])
def test_documents_and_records_cannot_be_added_in_the_admin(admin_client: Client, model: type[models.Model]) -> None:
    assert admin_client.get(admin_url(model, "add")).status_code == 403


def _all_rows(model: type[models.Model]) -> models.QuerySet:
    """Every row of `model`, whichever tenant (an admin test's own check, outside any request)."""
    rows = model._default_manager.all()
    return rows.unscoped() if hasattr(rows, "unscoped") else rows


@pytest.mark.parametrize("case", ["purchase_order", "goods_receipt", "invoice", "tenant_settings"])
def test_documents_and_settings_cannot_be_deleted_in_the_admin(
    admin_client: Client, ours: TenantRows, case: str
) -> None:
    model, row_of, _ = CASES[case]

    response = admin_client.post(admin_url(model, "delete", row_of(ours).pk), {"post": "yes"})

    assert response.status_code == 403
    assert _all_rows(model).filter(pk=row_of(ours).pk).exists()


@pytest.mark.parametrize("case", ["tenant", "vendor"])
def test_delete_of_a_row_others_depend_on_is_shown_as_protected(
    admin_client: Client, ours: TenantRows, case: str
) -> None:
    model, row_of, _ = CASES[case]

    response = admin_client.post(admin_url(model, "delete", row_of(ours).pk), {"post": "yes"})

    assert response.status_code == 200
    assert response.context["protected"]
    assert _all_rows(model).filter(pk=row_of(ours).pk).exists()


def test_unused_vendor_is_deleted_with_its_aliases(admin_client: Client, ours: TenantRows) -> None:
    vendor = VendorFactory(tenant=ours.tenant, name="Unused vendor")
    VendorAlias.objects.create(tenant=ours.tenant, vendor=vendor, alias="Unused", normalized_alias="unused")

    response = admin_client.post(admin_url(Vendor, "delete", vendor.pk), {"post": "yes"})

    assert response.status_code == 302
    assert not Vendor.objects.unscoped().filter(pk=vendor.pk).exists()
    assert not VendorAlias.objects.unscoped().filter(normalized_alias="unused").exists()


@pytest.mark.parametrize(
    ("model", "drilldown"),
    [
        (Invoice, {"invoice_date__year": "2026", "invoice_date__month": "10"}),
        (PurchaseOrder, {"order_date__year": "2026"}),
        (GoodsReceipt, {"received_date__year": "2026", "received_date__month": "10", "received_date__day": "5"}),
        (IdempotencyRecord, {"created_at__year": str(timezone.now().year)}),
    ],
)
def test_date_hierarchy_drilldown_lists_both_tenants(
    admin_client: Client, ours: TenantRows, theirs: TenantRows, model: type[models.Model], drilldown: dict[str, str]
) -> None:
    response = admin_client.get(admin_url(model, "changelist"), drilldown)

    assert response.status_code == 200
    assert {row.tenant_id for row in response.context["cl"].result_list} == {ours.tenant.pk, theirs.tenant.pk}


def test_history_view_renders_for_a_tenant_owned_row(admin_client: Client, theirs: TenantRows) -> None:
    assert admin_client.get(admin_url(Invoice, "history", theirs.invoice.pk)).status_code == 200


# --- Tenant and its settings -------------------------------------------------------------------


def test_tenant_change_view_shows_its_settings_keys_and_members(admin_client: Client, ours: TenantRows) -> None:
    response = admin_client.get(admin_url(Tenant, "change", ours.tenant.pk))

    content = response.content.decode()
    assert 'name="settings-0-price_tolerance_pct"' in content
    assert ours.api_key.display_prefix in content
    assert "ACME-clerk" in content


def test_membership_is_granted_from_the_tenant_page(admin_client: Client, ours: TenantRows) -> None:
    user = UserFactory(username="inline-approver")
    url = admin_url(Tenant, "change", ours.tenant.pk)
    data = form_data(admin_client.get(url))
    data.update({"membership-TOTAL_FORMS": "2", "membership-1-user": str(user.pk), "membership-1-role": "approver"})

    response = admin_client.post(url, data)

    assert response.status_code == 302
    assert Membership.objects.for_tenant(ours.tenant).get(user=user).role == "approver"


def test_tenant_page_inlines_have_usable_prefixes(admin_client: Client, ours: TenantRows) -> None:
    """The tenant FK has no reverse accessor; Django would fall back to "-1", which its JS cannot select."""
    response = admin_client.get(admin_url(Tenant, "change", ours.tenant.pk))

    prefixes = [inline.formset.prefix for inline in response.context["inline_admin_formsets"]]
    assert prefixes == ["settings", "membership", "apikey"]


def test_user_autocomplete_of_memberships_works(admin_client: Client, ours: TenantRows) -> None:
    response = admin_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "tenants", "model_name": "membership", "field_name": "user", "term": "ACME-cl"},
    )

    assert response.status_code == 200
    assert [result["text"] for result in response.json()["results"]] == ["ACME-clerk"]


def test_adding_a_tenant_creates_its_settings_from_the_inline(admin_client: Client) -> None:
    data = form_data(admin_client.get(admin_url(Tenant, "add")))
    data.update({"name": "Initech", "slug": "initech", "settings-0-price_tolerance_pct": "3.5"})

    response = admin_client.post(admin_url(Tenant, "add"), data)

    assert response.status_code == 302, response.context["errors"] if response.context else response
    tenant = Tenant.objects.get(slug="initech")
    assert TenantSettings.objects.get(tenant=tenant).price_tolerance_pct == Decimal("3.5")


def test_adding_a_tenant_with_untouched_settings_still_creates_them(admin_client: Client) -> None:
    data = form_data(admin_client.get(admin_url(Tenant, "add")))
    data.update({"name": "Umbrella", "slug": "umbrella"})

    response = admin_client.post(admin_url(Tenant, "add"), data)

    assert response.status_code == 302
    settings = TenantSettings.objects.unscoped().get(tenant__slug="umbrella")
    assert settings.price_tolerance_pct == Decimal("2.000")
    assert settings.reject_on == ["duplicate_invoice"]


def test_adding_a_tenant_with_a_negative_tolerance_is_refused(admin_client: Client) -> None:
    data = form_data(admin_client.get(admin_url(Tenant, "add")))
    data.update({"name": "Hooli", "slug": "hooli", "settings-0-price_tolerance_pct": "-1"})

    response = admin_client.post(admin_url(Tenant, "add"), data)

    assert response.status_code == 200
    settings_form = response.context["inline_admin_formsets"][0].formset.forms[0]
    assert "price_tolerance_pct" in settings_form.errors
    assert not Tenant.objects.filter(slug="hooli").exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("price_tolerance_pct", "-1"),
        ("quantity_tolerance_pct", "-0.5"),
        ("auto_approve_min_confidence", "1.5"),
        ("fuzzy_vendor_threshold", "20"),
        ("max_invoices_per_run", "0"),
        ("reject_on", '"duplicate_invoice"'),
    ],
)
def test_tenant_settings_invalid_value_is_a_form_error(
    admin_client: Client, ours: TenantRows, field: str, value: str
) -> None:
    url = admin_url(TenantSettings, "change", ours.tenant.pk)
    data = form_data(admin_client.get(url))
    data[field] = value

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    ours.settings.refresh_from_db()
    assert str(getattr(ours.settings, field)) != value


def test_tenant_settings_valid_change_is_saved(admin_client: Client, ours: TenantRows) -> None:
    url = admin_url(TenantSettings, "change", ours.tenant.pk)
    data = form_data(admin_client.get(url))
    data["price_tolerance_pct"] = "5"

    response = admin_client.post(url, data)

    assert response.status_code == 302
    ours.settings.refresh_from_db()
    assert ours.settings.price_tolerance_pct == Decimal("5")


# --- API keys ----------------------------------------------------------------------------------


def test_adding_an_api_key_shows_the_raw_key_once_and_stores_only_its_hash(
    admin_client: Client, ours: TenantRows
) -> None:
    response = admin_client.post(
        admin_url(ApiKey, "add"),
        {"tenant": str(ours.tenant.pk), "name": "erp-connector", "key_hash": "0" * 64},
        follow=True,
    )

    assert response.status_code == 200
    shown = RAW_KEY.findall(response.content.decode())
    assert len(set(shown)) == 1
    raw_key = shown[0]
    api_key = ApiKey.objects.for_tenant(ours.tenant).get(name="erp-connector")
    assert api_key.key_hash == hash_api_key(raw_key)
    assert api_key.key_hash != "0" * 64
    assert raw_key not in {str(getattr(api_key, field.attname)) for field in ApiKey._meta.concrete_fields}
    assert raw_key not in "".join(f"{entry.object_repr}{entry.change_message}" for entry in LogEntry.objects.all())
    # Shown once: the next page no longer carries it.
    assert raw_key not in admin_client.get(admin_url(ApiKey, "changelist")).content.decode()
    assert raw_key not in admin_client.get(admin_url(ApiKey, "change", api_key.pk)).content.decode()


def test_api_key_change_view_never_shows_the_hash(admin_client: Client, ours: TenantRows) -> None:
    response = admin_client.get(admin_url(ApiKey, "change", ours.api_key.pk))

    content = response.content.decode()
    assert ours.api_key.key_hash not in content
    assert "key_hash" not in content
    assert "name" in response.context["adminform"].form.fields
    assert "key_hash" not in response.context["adminform"].form.fields


def test_api_key_can_be_renamed_but_its_hash_stays(admin_client: Client, ours: TenantRows) -> None:
    url = admin_url(ApiKey, "change", ours.api_key.pk)
    data = form_data(admin_client.get(url))
    data.update({"name": "renamed", "key_hash": "0" * 64})

    response = admin_client.post(url, data)

    assert response.status_code == 302
    key_hash = ours.api_key.key_hash
    ours.api_key.refresh_from_db()
    assert (ours.api_key.name, ours.api_key.key_hash) == ("renamed", key_hash)


def test_revoke_action_deactivates_selected_keys_only(
    admin_client: Client, ours: TenantRows, theirs: TenantRows
) -> None:
    response = admin_client.post(
        admin_url(ApiKey, "changelist"),
        {"action": "revoke_selected", "_selected_action": [str(ours.api_key.pk)]},
        follow=True,
    )

    assert API_KEYS_REVOKED.format(count=1) in response.content.decode()
    ours.api_key.refresh_from_db()
    theirs.api_key.refresh_from_db()
    assert not ours.api_key.is_active
    assert ours.api_key.revoked_at is not None
    assert theirs.api_key.is_active


# --- Memberships -------------------------------------------------------------------------------


def test_membership_is_added_for_the_chosen_tenant(admin_client: Client, ours: TenantRows, theirs: TenantRows) -> None:
    user = UserFactory(username="new-approver")

    response = admin_client.post(
        admin_url(Membership, "add"), {"tenant": str(theirs.tenant.pk), "user": str(user.pk), "role": "approver"}
    )

    assert response.status_code == 302
    membership = Membership.objects.for_tenant(theirs.tenant).get(user=user)
    assert membership.role == "approver"


def test_duplicate_membership_is_a_form_error_not_a_crash(admin_client: Client, ours: TenantRows) -> None:
    response = admin_client.post(
        admin_url(Membership, "add"),
        {"tenant": str(ours.tenant.pk), "user": str(ours.membership.user.pk), "role": "admin"},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert Membership.objects.for_tenant(ours.tenant).filter(user=ours.membership.user).count() == 1


# --- Idempotency records -----------------------------------------------------------------------


def test_idempotency_record_is_read_only(admin_client: Client, ours: TenantRows) -> None:
    url = admin_url(IdempotencyRecord, "change", ours.idempotency_record.pk)

    page = admin_client.get(url)
    response = admin_client.post(url, {"key": "changed", "state": "done"})

    assert page.status_code == 200
    assert not page.context["adminform"].form.fields
    assert response.status_code == 403
    ours.idempotency_record.refresh_from_db()
    assert ours.idempotency_record.key == "ACME-idem"


def test_idempotency_record_can_be_deleted(admin_client: Client, ours: TenantRows, theirs: TenantRows) -> None:
    response = admin_client.post(admin_url(IdempotencyRecord, "delete", ours.idempotency_record.pk), {"post": "yes"})

    assert response.status_code == 302
    assert not IdempotencyRecord.objects.unscoped().filter(pk=ours.idempotency_record.pk).exists()
    assert IdempotencyRecord.objects.unscoped().filter(pk=theirs.idempotency_record.pk).exists()


# --- Vendors -----------------------------------------------------------------------------------


def test_vendor_added_in_the_admin_is_normalized_like_the_services_do(admin_client: Client, ours: TenantRows) -> None:
    data = form_data(admin_client.get(admin_url(Vendor, "add")))
    data.update(
        {
            "tenant": str(ours.tenant.pk),
            "name": "Initrode Supplies, Ltd.",
            "tax_id": "fr 12 345-678",
            "default_currency": "eur",
            "aliases-TOTAL_FORMS": "1",
            "aliases-0-alias": "Initrode Trading",
        }
    )

    response = admin_client.post(admin_url(Vendor, "add"), data)

    assert response.status_code == 302, response.context["errors"] if response.context else response
    vendor = Vendor.objects.for_tenant(ours.tenant).get(name="Initrode Supplies, Ltd.")
    assert (vendor.normalized_name, vendor.tax_id, vendor.default_currency) == (
        "initrode supplies",
        "FR12345678",
        "EUR",
    )
    alias = vendor.aliases.get()
    assert (alias.tenant_id, alias.normalized_alias) == (ours.tenant.pk, "initrode trading")


def test_vendor_rename_recomputes_normalized_name(admin_client: Client, ours: TenantRows) -> None:
    url = admin_url(Vendor, "change", ours.vendor.pk)
    data = form_data(admin_client.get(url))
    data["name"] = "Acme Renamed GmbH"

    response = admin_client.post(url, data)

    assert response.status_code == 302
    ours.vendor.refresh_from_db()
    assert ours.vendor.normalized_name == "acme renamed"


def test_vendor_tax_id_taken_in_the_same_tenant_is_a_form_error(
    admin_client: Client, ours: TenantRows, theirs: TenantRows
) -> None:
    other = VendorFactory(tenant=ours.tenant, name="Second vendor")
    url = admin_url(Vendor, "change", other.pk)
    data = form_data(admin_client.get(url))
    data["tax_id"] = ours.vendor.tax_id

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors


def test_vendor_tax_id_of_another_tenant_is_not_a_conflict(
    admin_client: Client, ours: TenantRows, theirs: TenantRows
) -> None:
    url = admin_url(Vendor, "change", ours.vendor.pk)
    data = form_data(admin_client.get(url))
    data["tax_id"] = theirs.vendor.tax_id

    response = admin_client.post(url, data)

    assert response.status_code == 302
    ours.vendor.refresh_from_db()
    assert ours.vendor.tax_id == theirs.vendor.tax_id


def test_vendor_alias_taken_in_the_tenant_is_refused(admin_client: Client, ours: TenantRows) -> None:
    other = VendorFactory(tenant=ours.tenant, name="Second vendor")
    url = admin_url(Vendor, "change", other.pk)
    data = form_data(admin_client.get(url))
    data.update({"aliases-TOTAL_FORMS": "1", "aliases-0-alias": "acme trading!"})

    response = admin_client.post(url, data)

    assert response.status_code == 200
    alias_form = response.context["inline_admin_formsets"][0].formset.forms[0]
    assert alias_form.errors["alias"] == [ALIAS_TAKEN.format(alias="acme trading!")]
    assert not other.aliases.exists()


def test_vendor_alias_given_twice_in_one_save_is_refused(admin_client: Client, ours: TenantRows) -> None:
    url = admin_url(Vendor, "change", ours.vendor.pk)
    data = form_data(admin_client.get(url))
    data.update({"aliases-TOTAL_FORMS": "3", "aliases-1-alias": "Wile E. Trading", "aliases-2-alias": "wile e trading"})

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert ours.vendor.aliases.count() == 1


def test_vendor_with_an_unknown_currency_is_refused(admin_client: Client, ours: TenantRows) -> None:
    url = admin_url(Vendor, "change", ours.vendor.pk)
    data = form_data(admin_client.get(url))
    data["default_currency"] = "XYZ"

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert "default_currency" in response.context["adminform"].form.errors


def test_vendor_alias_of_another_tenant_is_not_a_conflict(
    admin_client: Client, ours: TenantRows, theirs: TenantRows
) -> None:
    url = admin_url(Vendor, "change", ours.vendor.pk)
    data = form_data(admin_client.get(url))
    data.update({"aliases-TOTAL_FORMS": "2", "aliases-1-alias": "GLOBEX Trading"})

    response = admin_client.post(url, data)

    assert response.status_code == 302
    assert ours.vendor.aliases.filter(normalized_alias="globex trading").exists()


# --- Purchase orders and receipts --------------------------------------------------------------


@pytest.mark.parametrize("case", ["purchase_order", "goods_receipt"])
def test_purchasing_documents_are_view_only(admin_client: Client, ours: TenantRows, case: str) -> None:
    model, row_of, _ = CASES[case]
    url = admin_url(model, "change", row_of(ours).pk)

    page = admin_client.get(url)
    response = admin_client.post(url, form_data(page))

    assert page.status_code == 200
    assert not page.context["adminform"].form.fields
    assert response.status_code == 403


def test_purchase_order_view_shows_lines_received_quantity_and_receipts(admin_client: Client, ours: TenantRows) -> None:
    response = admin_client.get(admin_url(PurchaseOrder, "change", ours.purchase_order.pk))

    content = response.content.decode()
    assert "ACME-SKU" in content
    assert "ACME-GR" in content
    po_lines = response.context["inline_admin_formsets"][0].formset.queryset
    assert [line.received for line in po_lines] == [Decimal("4")]


# --- Invoices ----------------------------------------------------------------------------------


def test_invoice_changelist_shows_amounts_with_their_currency(admin_client: Client, ours: TenantRows) -> None:
    InvoiceFactory(tenant=ours.tenant, invoice_number="JPY-1", currency="JPY", subtotal_amount=1500, total_amount=1500)

    content = admin_client.get(admin_url(Invoice, "changelist")).content.decode()

    assert "125.00 EUR" in content
    assert "1500 JPY" in content


def test_invoice_change_view_shows_amounts_formatted_and_read_only(admin_client: Client, ours: TenantRows) -> None:
    response = admin_client.get(admin_url(Invoice, "change", ours.invoice.pk))

    form = response.context["adminform"].form
    assert set(form.fields) == {"vendor", "po_number", "due_date", "external_id"}
    assert "125.00 EUR" in response.content.decode()
    line_formset = response.context["inline_admin_formsets"][0]
    assert not line_formset.has_change_permission
    assert not line_formset.has_add_permission


def test_invoice_status_and_amounts_cannot_be_changed_in_the_admin(admin_client: Client, ours: TenantRows) -> None:
    url = admin_url(Invoice, "change", ours.invoice.pk)
    data = form_data(admin_client.get(url))
    data.update(
        {
            "status": InvoiceStatus.APPROVED,
            "review_queue": "escalated",
            "total_amount": "1",
            "subtotal_amount": "1",
            "due_date": "2026-11-30",
            "lines-0-amount": "1",
        }
    )

    response = admin_client.post(url, data)

    assert response.status_code == 302
    ours.invoice.refresh_from_db()
    assert ours.invoice.status == InvoiceStatus.RECEIVED
    assert ours.invoice.review_queue is None
    assert (ours.invoice.subtotal_amount, ours.invoice.total_amount) == (12500, 12500)
    assert ours.invoice.lines.get().amount == 12500
    # The post itself was accepted: the editable field changed.
    assert ours.invoice.due_date == dt.date(2026, 11, 30)


def test_invoice_vendor_choices_are_limited_to_its_tenant(
    admin_client: Client, ours: TenantRows, theirs: TenantRows
) -> None:
    response = admin_client.get(admin_url(Invoice, "change", ours.invoice.pk))

    choices = set(response.context["adminform"].form.fields["vendor"].queryset)
    assert ours.vendor in choices
    assert theirs.vendor not in choices
    assert "GLOBEX Supplies Ltd" not in response.content.decode()


def test_invoice_cannot_be_given_another_tenants_vendor(
    admin_client: Client, ours: TenantRows, theirs: TenantRows
) -> None:
    url = admin_url(Invoice, "change", ours.invoice.pk)
    data = form_data(admin_client.get(url))
    data["vendor"] = str(theirs.vendor.pk)

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert "vendor" in response.context["adminform"].form.errors
    ours.invoice.refresh_from_db()
    assert ours.invoice.vendor_id == ours.vendor.pk


@pytest.mark.parametrize(
    ("model", "field_name"),
    [(Invoice, "vendor"), (PurchaseOrder, "vendor"), (GoodsReceipt, "purchase_order")],
)
def test_foreign_key_choices_of_tenant_owned_rows_can_be_evaluated(
    rf: Any, admin_user: Any, ours: TenantRows, theirs: TenantRows, model: type[models.Model], field_name: str
) -> None:
    """Django builds them from the related default manager, which refuses unscoped queries."""
    request = rf.get("/admin/")
    request.user = admin_user
    model_admin = admin_site._registry[model]

    formfield = model_admin.formfield_for_foreignkey(model._meta.get_field(field_name), request)

    assert len(list(formfield.queryset)) == 2


def test_cross_tenant_choice_is_refused_even_if_the_choice_list_is_wider(ours: TenantRows, theirs: TenantRows) -> None:
    """Defence in depth: the form's own check, should a choice queryset ever be left unscoped."""
    from invoices.admin import InvoiceAdminForm

    form = InvoiceAdminForm(
        data={"vendor": str(theirs.vendor.pk), "po_number": "", "due_date": "", "external_id": ""},
        instance=ours.invoice,
    )
    form.fields["vendor"].queryset = Vendor.objects.unscoped()
    form.fields.pop("tenant")

    assert not form.is_valid()
    assert form.errors["vendor"] == [CROSS_TENANT_CHOICE]
