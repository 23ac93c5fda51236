"""The five form addresses that name an object whose page is not the way back (#18 item 7): a
saved view's rename and delete, a user's role and active switch, an API key's revoke. Opened by
GET (a reload, a bookmark, the history) each takes its owner to the page the form is on, saying
that nothing was changed; anyone who may not see the object gets the answer a missing one gets
(a colleague's saved view, another tenant's user or key: the 404 page; a clerk on the settings:
the 403 page, for a missing id too), so the redirect never tells that the object exists."""

from __future__ import annotations

import uuid
from html import escape

import pytest
from django.test import Client
from django.urls import reverse

from review.saved_views import saved_view_create
from tenants.http.error_pages import NOTHING_CHANGED
from tenants.models import Membership, Role, Tenant
from tenants.services import api_key_create
from tests.factories import TEST_ACTOR, MembershipFactory

pytestmark = pytest.mark.django_db


def _signed_in(membership: Membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    return client


def _settings_forms(membership: Membership, api_key_id: uuid.UUID) -> list[tuple[str, str]]:
    """(a form's address, the settings page it lives on) for a member's user row and a key."""
    users = reverse("web:settings-users")
    return [
        (reverse("web:settings-user-role", kwargs={"membership_id": membership.pk}), users),
        (reverse("web:settings-user-active", kwargs={"membership_id": membership.pk}), users),
        (reverse("web:settings-api-key-revoke", kwargs={"api_key_id": api_key_id}), reverse("web:settings-api-keys")),
    ]


def _missing(url: str, object_id: uuid.UUID) -> str:
    return url.replace(str(object_id), str(uuid.uuid4()))


def test_a_saved_views_rename_or_delete_opened_by_get_is_the_list_for_its_owner_only(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    owner = MembershipFactory(tenant=tenant, role=Role.CLERK)
    view = saved_view_create(tenant=tenant, user=owner.user, actor=TEST_ACTOR, name="Disputed", query="status=disputed")
    owner_client = _signed_in(owner)
    colleague = _signed_in(MembershipFactory(tenant=tenant, role=Role.ADMIN))
    foreigner = _signed_in(MembershipFactory(tenant=other_tenant, role=Role.ADMIN))
    for action in ("rename", "delete"):
        url = reverse(f"web:invoice-view-{action}", kwargs={"saved_view_id": view.pk})
        response = owner_client.get(url)
        assert (response.status_code, response["Location"]) == (302, reverse("web:invoices")), action
        page = owner_client.get(response["Location"])
        assert escape(NOTHING_CHANGED) in page.content.decode()
        assert "Disputed" in page.content.decode(), "the view is still there, under its name"
        # A colleague (an administrator even), another tenant and a missing id: the same 404 page.
        for client, address in ((colleague, url), (foreigner, url), (owner_client, _missing(url, view.pk))):
            refused = client.get(address)
            assert refused.status_code == 404 and b"<h1>Not found</h1>" in refused.content, address
    view.refresh_from_db()
    assert view.name == "Disputed"


def test_a_settings_form_opened_by_get_is_its_settings_page_for_an_administrator_of_the_tenant(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    admin = _signed_in(MembershipFactory(tenant=tenant, role=Role.ADMIN))
    clerk_membership = MembershipFactory(tenant=tenant, role=Role.CLERK)
    api_key, _raw = api_key_create(tenant=tenant, name="ERP sync", actor=TEST_ACTOR)
    forms = _settings_forms(clerk_membership, api_key.pk)
    for url, page_url in forms:
        response = admin.get(url)
        assert (response.status_code, response["Location"]) == (302, page_url), url
        page = admin.get(page_url)
        assert page.status_code == 200 and escape(NOTHING_CHANGED) in page.content.decode()
    clerk_membership.refresh_from_db()
    api_key.refresh_from_db()
    assert (clerk_membership.role, clerk_membership.is_active, api_key.is_active) == (Role.CLERK, True, True)

    # Another tenant's administrator: tenant A's user and key are the 404 page, as missing ones.
    foreigner = _signed_in(MembershipFactory(tenant=other_tenant, role=Role.ADMIN))
    for url, _page in forms:
        object_id = api_key.pk if "api-keys" in url else clerk_membership.pk
        for address in (url, _missing(url, object_id)):
            refused = foreigner.get(address)
            assert refused.status_code == 404 and b"<h1>Not found</h1>" in refused.content, address

    # A clerk of the tenant may not open the settings at all: the 403 page, for a missing id too.
    clerk = _signed_in(MembershipFactory(tenant=tenant, role=Role.CLERK))
    for url, _page in forms:
        object_id = api_key.pk if "api-keys" in url else clerk_membership.pk
        for address in (url, _missing(url, object_id)):
            assert clerk.get(address).status_code == 403, address
