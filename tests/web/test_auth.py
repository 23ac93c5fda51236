"""Log in, log out, tenant switching, and who may see what at all."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client
from django.urls import reverse

from tenants.authentication import SESSION_TENANT_KEY
from tenants.models import Membership, Role, Tenant
from tests.factories import MembershipFactory, TenantFactory, UserFactory
from tests.web.conftest import Scenario

pytestmark = pytest.mark.django_db

SOME_ID = uuid.uuid4()
PAGES = [
    ("web:dashboard", {}),
    ("web:queue", {"queue": "standard"}),
    ("web:queue", {"queue": "escalated"}),
    ("web:invoice-detail", {"invoice_id": SOME_ID}),
    ("web:vendors", {}),
    ("web:vendor-detail", {"vendor_id": SOME_ID}),
    ("web:purchase-orders", {}),
    ("web:purchase-order-detail", {"purchase_order_id": SOME_ID}),
    ("web:receipts", {}),
    ("web:receipt-detail", {"receipt_id": SOME_ID}),
    ("web:runs", {}),
]


@pytest.mark.parametrize(("name", "kwargs"), PAGES)
def test_anonymous_is_sent_to_the_login_page(name: str, kwargs: dict[str, object]) -> None:
    url = reverse(name, kwargs=kwargs)
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login?next=")


@pytest.mark.parametrize("name", ["web:invoice-action", "web:bulk-approve", "web:run-start", "web:tenant-switch"])
def test_anonymous_posts_change_nothing_and_redirect_to_login(name: str, scenario: Scenario) -> None:
    kwargs = {
        "web:invoice-action": {"invoice_id": scenario.price_mismatch.pk},
        "web:bulk-approve": {"queue": "standard"},
    }.get(name, {})
    response = Client().post(reverse(name, kwargs=kwargs), {"action": "approve"})
    assert response.status_code == 302
    assert response["Location"].startswith("/login")


def test_login_with_the_right_password_lands_on_the_dashboard(tenant: Tenant) -> None:
    MembershipFactory(tenant=tenant, user=UserFactory(username="carla"), role=Role.CLERK)
    client = Client()
    response = client.post(reverse("web:login"), {"username": "carla", "password": "correct horse battery staple"})
    assert response.status_code == 302 and response["Location"] == "/"
    page = client.get("/")
    assert page.status_code == 200
    assert tenant.name in page.content.decode()


def test_login_with_a_wrong_password_says_so() -> None:
    UserFactory(username="carla")
    response = Client().post(reverse("web:login"), {"username": "carla", "password": "wrong"})
    assert response.status_code == 200
    assert "did not match" in response.content.decode()


def test_logout_is_a_post_and_ends_the_session(clerk: Client) -> None:
    response = clerk.post(reverse("web:logout"))
    assert response.status_code == 302
    assert clerk.get("/").status_code == 302


def test_a_user_without_membership_gets_a_clear_refusal() -> None:
    client = Client()
    client.force_login(UserFactory())
    response = client.get("/")
    assert response.status_code == 403
    assert "not a member" in response.content.decode()


def test_the_switcher_lists_only_the_users_tenants_and_switches(tenant: Tenant, other_tenant: Tenant) -> None:
    membership = MembershipFactory(tenant=tenant, role=Role.CLERK)
    MembershipFactory(tenant=other_tenant, user=membership.user, role=Role.APPROVER)
    third = TenantFactory(name="Initech Unrelated")
    client = Client()
    client.force_login(membership.user)

    page = client.get("/").content.decode()
    assert "Globex Foreign" in page and "Initech Unrelated" not in page

    client.post(reverse("web:tenant-switch"), {"tenant_id": str(other_tenant.pk)})
    assert client.session[SESSION_TENANT_KEY] == str(other_tenant.pk)
    assert '<span class="role role-approver">' in client.get("/").content.decode()

    # A tenant the user does not belong to is refused; the session keeps the previous choice.
    response = client.post(reverse("web:tenant-switch"), {"tenant_id": str(third.pk)}, follow=True)
    assert "not a member of that organisation" in response.content.decode()
    assert client.session[SESSION_TENANT_KEY] == str(other_tenant.pk)


def test_membership_is_checked_again_on_every_request(tenant: Tenant, other_tenant: Tenant) -> None:
    membership = MembershipFactory(tenant=tenant, role=Role.CLERK)
    foreign = MembershipFactory(tenant=other_tenant, user=membership.user, role=Role.APPROVER)
    client = Client()
    client.force_login(membership.user)
    client.post(reverse("web:tenant-switch"), {"tenant_id": str(other_tenant.pk)})
    Membership.objects.for_tenant(other_tenant).filter(pk=foreign.pk).delete()
    # The session still names the other tenant, but the membership is gone: back to the own one.
    page = client.get("/").content.decode()
    assert "Acme Manufacturing" in page
    assert '<span class="role role-clerk">' in page
