"""Tenants: creation from the command line, self-registration, API keys."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from tenants.models import ApiKey, Tenant, TenantSettings, hash_api_key
from tenants.services import api_key_revoke
from tests.factories import TEST_ACTOR

pytestmark = pytest.mark.django_db


def test_create_tenant_prints_the_key_alone_on_the_last_line_and_stores_only_its_hash() -> None:
    out = StringIO()
    call_command("create_tenant", "Initech Europe", stdout=out)
    raw_key = out.getvalue().strip().splitlines()[-1]
    tenant = Tenant.objects.get(name="Initech Europe")
    key = ApiKey.objects.for_tenant(tenant).get()
    assert raw_key.startswith("rk_") and " " not in raw_key
    assert key.key_hash == hash_api_key(raw_key)
    assert raw_key not in {key.key_hash, key.display_prefix, key.name}
    assert TenantSettings.objects.filter(tenant=tenant).exists()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    assert client.get("/api/invoices").status_code == 200


def test_two_tenants_with_one_name_get_distinct_slugs() -> None:
    call_command("create_tenant", "Acme", stdout=StringIO())
    call_command("create_tenant", "Acme", stdout=StringIO())
    assert Tenant.objects.filter(name="Acme").values("slug").distinct().count() == 2


def test_revoked_key_is_refused() -> None:
    out = StringIO()
    call_command("create_tenant", "Revoked Co", stdout=out)
    raw_key = out.getvalue().strip().splitlines()[-1]
    tenant = Tenant.objects.get(name="Revoked Co")
    api_key_revoke(tenant=tenant, api_key=ApiKey.objects.for_tenant(tenant).get(), actor=TEST_ACTOR)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    response = client.get("/api/invoices")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_self_registration_is_off_by_default() -> None:
    response = APIClient().post("/api/tenants/register", {"name": "Anyone"}, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert not Tenant.objects.filter(name="Anyone").exists()


def test_self_registration_when_enabled_returns_a_working_key(settings) -> None:
    settings.SELF_REGISTRATION_ENABLED = True
    response = APIClient().post("/api/tenants/register", {"name": "Hooli Finance"}, format="json")
    assert response.status_code == 201
    body = response.json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['api_key']}")
    assert client.get("/api/vendors").status_code == 200
    assert Tenant.objects.get(pk=body["tenant_id"]).name == "Hooli Finance"
    refused = APIClient().post("/api/tenants/register", {"name": ""}, format="json")
    assert refused.status_code == 400
    assert "name" in refused.json()["error"]["details"]
