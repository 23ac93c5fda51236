"""CSP and the other headers, CSRF, and no inline script anywhere in our pages."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import MembershipFactory
from tests.web.conftest import Scenario

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle=", re.IGNORECASE)


def _pages(scenario: Scenario) -> list[str]:
    invoice = scenario.price_mismatch
    return [
        "/",
        reverse("web:queue", kwargs={"queue": "standard"}),
        reverse("web:queue", kwargs={"queue": "escalated"}),
        reverse("web:invoice-detail", kwargs={"invoice_id": invoice.pk}),
        reverse("web:vendor-detail", kwargs={"vendor_id": invoice.vendor_id}),
        reverse("web:purchase-order-detail", kwargs={"purchase_order_id": invoice.purchase_order_id}),
        reverse("web:vendors"),
        reverse("web:purchase-orders"),
        reverse("web:receipts"),
        reverse("web:runs"),
    ]


def test_every_page_has_a_strict_csp_and_no_inline_script_or_style(approver: Client, scenario: Scenario) -> None:
    for url in _pages(scenario):
        response = approver.get(url)
        assert response.status_code == 200, url
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "style-src 'self'" in policy, url
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        html = response.content.decode()
        assert not INLINE_SCRIPT.search(html), url
        assert not INLINE_STYLE.search(html), url
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"


def test_login_page_carries_the_csp_too() -> None:
    response = Client().get(reverse("web:login"))
    assert "default-src 'self'" in response["Content-Security-Policy"]


def test_scripts_are_vendored_static_files_not_a_cdn(approver: Client) -> None:
    html = approver.get("/").content.decode()
    sources = re.findall(r'<script[^>]*src="([^"]+)"', html)
    assert sources and all(src.startswith("/static/") for src in sources)
    assert any("htmx" in src for src in sources)


def test_a_post_without_csrf_token_is_refused(tenant: object, scenario: Scenario) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(MembershipFactory(tenant=scenario.tenant, role="approver").user)
    url = reverse("web:invoice-action", kwargs={"invoice_id": scenario.price_mismatch.pk})
    response = client.post(url, {"action": "approve", "comment": "ok"})
    assert response.status_code == 403
    scenario.price_mismatch.refresh_from_db()
    assert scenario.price_mismatch.status == "pending_review"
