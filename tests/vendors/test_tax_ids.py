"""Tax ids checked with python-stdnum on vendor create (#19 item 2): a number failing its
country's scheme is created with a warning the client and the clerk see; a valid one, or one of a
scheme Recon does not know, with none."""

from __future__ import annotations

from html import escape

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from tenants.models import Role, Tenant
from tests.factories import MembershipFactory, VendorFactory
from vendors.models import Vendor
from vendors.tax_ids import TAX_ID_INVALID_CODE, tax_id_warnings

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("tax_id", "warned"),
    [
        ("DE136695976", False),  # a real German VAT number
        ("DE136695977", True),  # its check digit changed
        ("de 136 695-977", True),  # written loosely: the same number
        ("EL094259216", False),  # Greece writes EL
        ("GB980780685", True),
        ("CHE116281710MWST", False),
        ("US12-3456789", False),  # no VAT scheme for the country: accepted
        ("123456789", False),  # no country prefix: unknown scheme, accepted
        ("", False),
    ],
)
def test_a_known_schemes_invalid_number_is_warned_about(tax_id: str, warned: bool) -> None:
    warnings = tax_id_warnings(tax_id)
    assert bool(warnings) is warned
    if warned:
        assert warnings[0].field == "tax_id" and warnings[0].code == TAX_ID_INVALID_CODE
        assert "check" in warnings[0].message


def test_the_api_creates_the_vendor_and_returns_the_warning(tenant: Tenant, api: APIClient) -> None:
    warned = api.post("/api/vendors", {"name": "Kaputt GmbH", "tax_id": "DE136695977"}, format="json")
    assert warned.status_code == 201
    (warning,) = warned.json()["warnings"]
    assert warning["field"] == "tax_id" and warning["code"] == TAX_ID_INVALID_CODE
    assert "DE136695977" in warning["message"]
    assert Vendor.objects.for_tenant(tenant).filter(tax_id="DE136695977").exists()
    clean = api.post("/api/vendors", {"name": "Richtig GmbH", "tax_id": "DE136695976"}, format="json")
    unknown = api.post("/api/vendors", {"name": "Acme Inc", "tax_id": "US12-3456789"}, format="json")
    assert clean.status_code == unknown.status_code == 201
    assert clean.json()["warnings"] == unknown.json()["warnings"] == []


def test_the_vendor_page_shows_the_warning_beside_the_tax_id(tenant: Tenant) -> None:
    client = Client()
    client.force_login(MembershipFactory(tenant=tenant, role=Role.CLERK).user)
    warned = VendorFactory(tenant=tenant, tax_id="DE136695977")
    clean = VendorFactory(tenant=tenant, tax_id="DE136695976")
    page = client.get(reverse("web:vendor-detail", kwargs={"vendor_id": warned.pk})).content.decode()
    assert 'data-testid="tax-id-warning"' in page
    assert escape(tax_id_warnings("DE136695977")[0].message) in page
    page = client.get(reverse("web:vendor-detail", kwargs={"vendor_id": clean.pk})).content.decode()
    assert 'data-testid="tax-id-warning"' not in page
