"""The settings pages under /app/settings: administrators only (a clerk or an approver gets the 403
page, for a page opened by hand as for a form posted by hand), labels not codes, each refusal
next to its field, secrets shown once, and every change in the settings' audit trail."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from audit.models import AuditEvent
from review.approval_policies import RuleSpec, StepSpec, approval_rule_create
from tenants.models import ApiKey, CurrencyLimit, Membership, Role, Tenant
from tenants.selectors import tenant_settings_get
from tests.factories import TEST_ACTOR, MembershipFactory, VendorFactory
from tests.tenant_matrix import url_patterns

pytestmark = pytest.mark.django_db

SETTINGS_PAGES = sorted(
    endpoint.url_name for endpoint in url_patterns() if endpoint.url_name.startswith("web:settings")
)
MATCHING_FORM = {
    "price_tolerance_pct": "3.5",
    "quantity_tolerance_pct": "0",
    "auto_approve_min_confidence": "95",
    "reject_on": ["duplicate_invoice", "vendor_mismatch"],
    "hold_max_days": "14",
    "review_sla_days": "3",
    "bank_account_cooling_off_days": "3",
    "fuzzy_vendor_threshold": "90",
    "max_invoices_per_run": "100",
    "reconcile_auto_apply": "on",
    "reconcile_auto_apply_min_confidence": "90",
    "write_off_max_pct": "0.5",
    "unusual_amount_window": "20",
    "unusual_amount_min_history": "5",
    "unusual_amount_threshold": "3.5",
}


@pytest.fixture
def admin_membership(tenant: Tenant) -> Membership:
    return MembershipFactory(tenant=tenant, role=Role.ADMIN)


@pytest.fixture
def admin(admin_membership: Membership) -> Client:
    client = Client()
    client.force_login(admin_membership.user)
    return client


def _url(url_name: str, tenant: Tenant) -> str:
    """The page's URL, with an object of the tenant's where it takes one."""
    kwargs: dict[str, object] = {}
    if url_name == "web:settings-vendor":
        kwargs["vendor_id"] = VendorFactory(tenant=tenant).pk
    elif url_name in {"web:settings-user-role", "web:settings-user-active"}:
        kwargs["membership_id"] = MembershipFactory(tenant=tenant).pk
    elif url_name == "web:settings-api-key-revoke":
        kwargs["api_key_id"] = ApiKey.objects.for_tenant(tenant).create(tenant=tenant, key_hash="x" * 64).pk
    elif url_name == "web:settings-approval-edit":
        kwargs["rule_id"] = approval_rule_create(
            tenant=tenant, actor=TEST_ACTOR, spec=RuleSpec(name="Big", steps=[StepSpec(role=Role.APPROVER)])
        ).pk
    return reverse(url_name, kwargs=kwargs)


def test_the_settings_pages_are_found() -> None:
    assert len(SETTINGS_PAGES) == 18 and {"web:settings-audit", "web:settings-approvals"} <= set(SETTINGS_PAGES)


@pytest.mark.parametrize("url_name", SETTINGS_PAGES)
@pytest.mark.parametrize("role", [Role.CLERK, Role.APPROVER])
def test_a_clerk_or_an_approver_gets_the_403_page_and_changes_nothing(tenant: Tenant, url_name: str, role: str) -> None:
    client = Client()
    client.force_login(MembershipFactory(tenant=tenant, role=role).user)
    url = _url(url_name, tenant)
    events = AuditEvent.objects.for_tenant(tenant).count()
    for response in (client.get(url), client.post(url, {**MATCHING_FORM, "username": "mallory", "name": "k"})):
        assert response.status_code == 403
        assert b'data-testid="forbidden"' in response.content and b'class="sidenav"' in response.content
    assert AuditEvent.objects.for_tenant(tenant).count() == events


def test_only_an_administrator_sees_the_settings_link(tenant: Tenant, admin: Client) -> None:
    settings_link = f'href="{reverse("web:settings")}"'.encode()
    assert settings_link in admin.get(reverse("web:dashboard")).content
    clerk = Client()
    clerk.force_login(MembershipFactory(tenant=tenant, role=Role.CLERK).user)
    assert settings_link not in clerk.get(reverse("web:dashboard")).content


@pytest.mark.parametrize(
    "url_name",
    [
        "web:settings",
        "web:settings-limits",
        "web:settings-vendors",
        "web:settings-vendor",
        "web:settings-schedules",
        "web:settings-users",
        "web:settings-api-keys",
        "web:settings-webhooks",
        "web:settings-audit",
    ],
)
def test_an_administrator_opens_every_page(tenant: Tenant, admin: Client, url_name: str) -> None:
    response = admin.get(_url(url_name, tenant))
    assert response.status_code == 200
    assert b'class="settings-tabs"' in response.content


def test_reject_on_is_checkboxes_with_labels_and_a_change_is_saved_and_audited(tenant: Tenant, admin: Client) -> None:
    page = admin.get(reverse("web:settings")).content.decode()
    assert 'type="checkbox" name="reject_on" value="duplicate_invoice"' in page and "Duplicate invoice" in page
    assert "PO is another vendor&#x27;s" in page  # vendor_mismatch, by its label

    response = admin.post(reverse("web:settings"), MATCHING_FORM)

    assert response.status_code == 302
    stored = tenant_settings_get(tenant=tenant)
    assert (stored.price_tolerance_pct, stored.reject_on) == (Decimal("3.5"), ["duplicate_invoice", "vendor_mismatch"])
    assert stored.auto_approve_min_confidence == Decimal("0.95")  # typed as 95 %
    event = AuditEvent.objects.for_tenant(tenant).get(entity_type="tenant_settings")
    assert event.before["price_tolerance_pct"] == "2.000" and event.after["price_tolerance_pct"] == "3.500"
    assert event.actor_kind == "user"


def test_a_bad_value_is_shown_next_to_its_field_and_nothing_is_saved(tenant: Tenant, admin: Client) -> None:
    response = admin.post(
        reverse("web:settings"), {**MATCHING_FORM, "price_tolerance_pct": "-1", "reject_on": ["not_a_type"]}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert 'data-testid="error-price_tolerance_pct"' in page and 'data-testid="error-reject_on"' in page
    assert tenant_settings_get(tenant=tenant).price_tolerance_pct == Decimal("2")
    assert not AuditEvent.objects.for_tenant(tenant).filter(entity_type="tenant_settings").exists()


def test_limits_are_typed_in_each_currencys_own_units(tenant: Tenant, admin: Client) -> None:
    limits = {"auto_approve_below": "15000", "escalate_from": "1500000", "write_off_max": "500"}
    url = reverse("web:settings-limits")
    fractional_yen = admin.post(
        url, {"currency": "JPY", **limits, "auto_approve_below": "150.5", "price_tolerance_floor": "0"}
    )
    assert fractional_yen.status_code == 400
    assert "150.5 has more decimals than JPY allows (0)." in fractional_yen.content.decode()

    assert admin.post(url, {"currency": "jpy", **limits, "price_tolerance_floor": "0"}).status_code == 302
    dinar = {"auto_approve_below": "40.000", "escalate_from": "4000", "write_off_max": "2.5"}
    assert admin.post(url, {"currency": "BHD", **dinar, "price_tolerance_floor": "0.001"}).status_code == 302

    stored = {limit.currency: limit for limit in CurrencyLimit.objects.for_tenant(tenant)}
    assert (stored["JPY"].auto_approve_below, stored["BHD"].auto_approve_below) == (15_000, 40_000)
    assert (stored["BHD"].write_off_max, stored["BHD"].price_tolerance_floor) == (2_500, Decimal("0.001"))
    page = admin.get(url).content.decode()
    assert 'value="40.000"' in page and 'value="15000"' in page  # each shown in its own units

    assert admin.post(reverse("web:settings-limits-reset"), {"currency": "JPY"}).status_code == 302
    assert set(CurrencyLimit.objects.for_tenant(tenant).values_list("currency", flat=True)) == {"BHD"}


def test_a_vendors_own_tolerance_is_set_and_cleared(tenant: Tenant, admin: Client) -> None:
    vendor = VendorFactory(tenant=tenant, name="Nordic Fasteners AB")
    url = reverse("web:settings-vendor", kwargs={"vendor_id": vendor.pk})
    assert admin.post(url, {"price_tolerance_pct": "5", "quantity_tolerance_pct": ""}).status_code == 302
    vendor.refresh_from_db()
    assert (vendor.price_tolerance_pct, vendor.quantity_tolerance_pct) == (Decimal("5"), None)
    assert "5 %" in admin.get(reverse("web:settings-vendors")).content.decode()
    refused = admin.post(url, {"price_tolerance_pct": "-2", "quantity_tolerance_pct": ""})
    assert refused.status_code == 400 and b'data-testid="error-price_tolerance_pct"' in refused.content


def test_an_invited_clerk_gets_a_password_shown_once_and_can_sign_in(tenant: Tenant, admin: Client) -> None:
    response = admin.post(reverse("web:settings-user-invite"), {"username": "nora", "email": "", "role": "clerk"})
    assert response.status_code == 200
    password = response.context["invited"]["password"]
    assert password in response.content.decode()
    assert password not in admin.get(reverse("web:settings-users")).content.decode()  # once

    nora = Client()
    assert nora.post(reverse("web:login"), {"username": "nora", "password": password}).status_code == 302
    assert nora.get(reverse("web:dashboard")).status_code == 200
    assert nora.get(reverse("web:settings")).status_code == 403


def test_a_taken_user_name_is_refused_next_to_the_field(
    tenant: Tenant, admin: Client, admin_membership: Membership
) -> None:
    taken = admin_membership.user.get_username()
    response = admin.post(reverse("web:settings-user-invite"), {"username": taken, "email": "", "role": "clerk"})
    assert response.status_code == 400 and b'data-testid="error-username"' in response.content


def test_a_deactivated_member_is_shut_out_and_the_last_admin_stays(
    tenant: Tenant, admin: Client, admin_membership: Membership
) -> None:
    clerk_membership = MembershipFactory(tenant=tenant, role=Role.CLERK)
    clerk = Client()
    clerk.force_login(clerk_membership.user)
    url = reverse("web:settings-user-active", kwargs={"membership_id": clerk_membership.pk})
    assert admin.post(url, {"is_active": "0"}).status_code == 302
    assert clerk.get(reverse("web:dashboard")).status_code == 403  # "not a member of any active organisation"

    own = reverse("web:settings-user-active", kwargs={"membership_id": admin_membership.pk})
    refused = admin.post(own, {"is_active": "0"}, follow=True)
    assert "last active administrator" in refused.content.decode()
    demote = reverse("web:settings-user-role", kwargs={"membership_id": admin_membership.pk})
    admin.post(demote, {f"{admin_membership.pk}-role": "clerk"})
    admin_membership.refresh_from_db()
    assert (admin_membership.role, admin_membership.is_active) == (Role.ADMIN, True)


def test_an_api_key_is_shown_once_works_and_stops_when_revoked(tenant: Tenant, admin: Client) -> None:
    response = admin.post(reverse("web:settings-api-keys"), {"name": "ERP connector"})
    raw_key = response.context["created"]["raw_key"]
    assert (
        raw_key in response.content.decode()
        and raw_key not in admin.get(reverse("web:settings-api-keys")).content.decode()
    )
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    assert api.get("/api/vendors").status_code == 200

    api_key = ApiKey.objects.for_tenant(tenant).get(name="ERP connector")
    assert admin.post(reverse("web:settings-api-key-revoke", kwargs={"api_key_id": api_key.pk})).status_code == 302
    assert api.get("/api/vendors").status_code == 401


def test_the_webhook_secret_is_rotated_and_shown_once(tenant: Tenant, admin: Client) -> None:
    response = admin.post(reverse("web:settings-webhook-rotate"))
    secret = response.context["raw_secret"]
    assert secret.startswith("whsec_") and secret in response.content.decode()
    page = admin.get(reverse("web:settings-webhooks")).content.decode()
    assert secret not in page and "this organisation's own" in page


def test_the_audit_trail_shows_who_changed_what_from_what_to_what(
    tenant: Tenant, other_tenant: Tenant, admin: Client, admin_membership: Membership
) -> None:
    admin.post(reverse("web:settings"), MATCHING_FORM)
    other_admin = Client()
    other_admin.force_login(MembershipFactory(tenant=other_tenant, role=Role.ADMIN).user)
    other_admin.post(reverse("web:settings"), {**MATCHING_FORM, "price_tolerance_pct": "7.25"})

    page = admin.get(reverse("web:settings-audit")).content.decode()

    assert "Matching settings: Changed" in page and admin_membership.user.get_username() in page
    assert "Price tolerance (%): 2.000 → 3.500" in page
    assert "Reject invoices with: Duplicate invoice → Duplicate invoice, PO is another vendor&#x27;s" in page
    assert "7.250" not in page  # the other tenant's change
