"""404, 403 and 405 as pages in the app's layout (tenants.http.error_pages); the API keeps its
JSON envelope. A clerk who opens a form's address by GET (a reload after a refused form, a
bookmark) is taken to the page the form is on, told that nothing was changed (#18 item 7), in
Chromium too; another tenant's object is the 404 page, as a missing one."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path, reverse

from recon_site.urls import urlpatterns as site_urlpatterns
from review.models import SavedInvoiceView
from tenants.http.error_pages import NOTHING_CHANGED, permission_denied, post_only
from tenants.http.web import tenant_view
from tenants.models import Role, Tenant
from tests.factories import MembershipFactory, PaymentFactory, TenantFactory, UserFactory
from tests.matching.runs import reload
from tests.web.browser import chromium_page, log_in
from tests.web.conftest import Scenario, build_scenario


@tenant_view
@post_only(back="web:invoices", back_label="the invoices", owned=("saved_view_id", SavedInvoiceView))
def _owned_form(request: HttpRequest, saved_view_id: uuid.UUID) -> HttpResponse:
    return HttpResponse("posted")


@tenant_view
@post_only(back="web:invoices", back_label="the invoices")
def _unchecked_form(request: HttpRequest, saved_view_id: uuid.UUID) -> HttpResponse:
    return HttpResponse("posted")


# The site's URLs and two form addresses naming an object the way back does not (pytest.mark.urls).
urlpatterns = [
    path("app/test-owned/<uuid:saved_view_id>", _owned_form),
    path("app/test-unchecked/<uuid:saved_view_id>", _unchecked_form),
    *site_urlpatterns,
]


def _post_only_urls(scenario: Scenario, payment_id: uuid.UUID) -> list[tuple[str, str, str]]:
    """(the form's address, where its page links back to, the link's words) for every POST-only page."""
    invoice = reverse("web:invoice-detail", kwargs={"invoice_id": scenario.price_mismatch.pk})
    queue = reverse("web:queue", kwargs={"queue": "standard"})
    payment = reverse("web:payment-detail", kwargs={"payment_id": payment_id})
    dashboard = reverse("web:dashboard")
    return [
        (reverse("web:invoice-action", kwargs={"invoice_id": scenario.price_mismatch.pk}), invoice, "the invoice"),
        (reverse("web:bulk-approve", kwargs={"queue": "standard"}), queue, "the queue"),
        (reverse("web:run-start"), reverse("web:runs"), "the matching runs"),
        (reverse("web:tenant-switch"), dashboard, "the dashboard"),
        (reverse("web:logout"), dashboard, "the dashboard"),
        *[
            (reverse(f"web:payment-{action}", kwargs={"payment_id": payment_id}), payment, "the payment")
            for action in ("accept", "ignore", "split")
        ],
        (
            reverse("web:payment-allocation-reverse", kwargs={"payment_id": payment_id, "allocation_id": uuid.uuid4()}),
            payment,
            "the payment",
        ),
    ]


@pytest.mark.django_db
def test_a_form_address_opened_by_get_redirects_to_its_page_with_nothing_changed(
    clerk: Client, scenario: Scenario
) -> None:
    payment = PaymentFactory(tenant=scenario.tenant)
    for url, back, _words in _post_only_urls(scenario, payment.pk):
        response = clerk.get(url)
        assert (response.status_code, response["Location"]) == (302, back), url
        page = clerk.get(back)
        assert page.status_code == 200, back
        assert NOTHING_CHANGED in page.content.decode(), url
    # Nothing happened on the way: the invoice still waits, the payment is as it was.
    assert reload(scenario.price_mismatch).status == "pending_review"
    assert clerk.get(reverse("web:dashboard")).status_code == 200, "still signed in after GET /logout"


@pytest.mark.django_db
def test_another_method_on_a_form_address_is_the_405_page_with_the_way_back(clerk: Client, scenario: Scenario) -> None:
    payment = PaymentFactory(tenant=scenario.tenant)
    for url, back, words in _post_only_urls(scenario, payment.pk):
        response = clerk.put(url)
        assert response.status_code == 405, url
        assert "POST" in response["Allow"].split(", ")
        html = response.content.decode()
        assert 'aria-label="Main"' in html, "in the app's layout, with its navigation"
        assert "This address only takes a form" in html and "nothing was changed" in html
        assert f'<a href="{back}" data-testid="back-link">Back to {words}</a>' in html
        assert response["Content-Security-Policy"].startswith("default-src 'self'")


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_an_object_named_in_the_url_is_checked_before_the_redirect(
    clerk: Client, foreign_clerk: Client, scenario: Scenario
) -> None:
    view = SavedInvoiceView.objects.create(tenant=scenario.tenant, user=UserFactory(), name="Mine", query="")
    owned = f"/app/test-owned/{view.pk}"
    assert (clerk.get(owned).status_code, clerk.get(owned)["Location"]) == (302, "/app/invoices")
    assert clerk.post(owned).content == b"posted"
    # Another tenant's object and a missing one: the same 404, whatever the method.
    for response in (foreign_clerk.get(owned), clerk.get(f"/app/test-owned/{uuid.uuid4()}"), foreign_clerk.put(owned)):
        assert response.status_code == 404 and b"<h1>Not found</h1>" in response.content
    # An id nothing checks: the 405 page for everyone, which tells nothing about the object.
    unchecked = f"/app/test-unchecked/{view.pk}"
    for client in (clerk, foreign_clerk):
        response = client.get(unchecked)
        assert response.status_code == 405 and response["Allow"] == "POST"


@pytest.mark.django_db
def test_a_signed_out_get_on_a_form_address_asks_to_sign_in_first(scenario: Scenario) -> None:
    url = reverse("web:invoice-action", kwargs={"invoice_id": scenario.price_mismatch.pk})
    response = Client().get(url)
    assert response.status_code == 302 and response["Location"].startswith("/login")


@pytest.mark.django_db
def test_an_unknown_web_address_is_the_not_found_page_and_an_api_one_the_envelope(
    clerk: Client, scenario: Scenario
) -> None:
    for url in ("/app/nothing-here", f"/app/invoices/{scenario.price_mismatch.pk}/nothing", "/app/invoices/not-a-uuid"):
        response = clerk.get(url)
        assert response.status_code == 404, url
        html = response.content.decode()
        assert "<h1>Not found</h1>" in html and 'aria-label="Main"' in html
    # Signed out: the same page, without the navigation.
    signed_out = Client().get("/app/nothing-here")
    assert signed_out.status_code == 404 and "<h1>Not found</h1>" in signed_out.content.decode()
    assert 'aria-label="Main"' not in signed_out.content.decode()
    api = clerk.get("/api/nothing-here")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_a_web_403_is_a_page_and_an_api_403_the_envelope(rf: Any, scenario: Scenario) -> None:
    # A page's form sent without its CSRF token (an expired form): the 403 page, in the layout.
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(MembershipFactory(tenant=scenario.tenant, role=Role.CLERK).user)
    url = reverse("web:invoice-action", kwargs={"invoice_id": scenario.price_mismatch.pk})
    response = strict.post(url, {"action": "approve"})
    assert response.status_code == 403
    html = response.content.decode()
    assert "<h1>Not allowed</h1>" in html and "The form you sent had expired" in html and 'aria-label="Main"' in html

    # PermissionDenied raised anywhere: the page for a web path, the envelope under /api/.
    request = rf.get("/app/queues/standard")
    request.user = AnonymousUser()
    page = permission_denied(request)
    assert page.status_code == 403 and b"<h1>Not allowed</h1>" in page.content
    envelope = permission_denied(rf.get("/api/invoices"))
    assert envelope.status_code == 403 and b'"permission_denied"' in envelope.content


# --- in the browser ---------------------------------------------------------------------------


@pytest.fixture
def clerk_with_a_payment(settings: Any) -> tuple[Scenario, uuid.UUID]:
    settings.MATCH_ON_INGEST = False
    tenant: Tenant = TenantFactory(name="Acme Manufacturing")
    MembershipFactory(tenant=tenant, user=UserFactory(username="clerk-errors"), role=Role.CLERK)
    return build_scenario(tenant), PaymentFactory(tenant=tenant).pk


@pytest.mark.django_db(transaction=True)
def test_the_clerk_opens_each_form_address_and_lands_on_its_page(
    live_server: Any, clerk_with_a_payment: tuple[Scenario, uuid.UUID], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    scenario, payment_id = clerk_with_a_payment
    urls = _post_only_urls(scenario, payment_id)
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "clerk-errors")
        for url, back, _words in urls:
            response = page.goto(url)
            assert response.status == 200 and page.url == f"{live_server.url}{back}", url
            page.get_by_text(NOTHING_CHANGED).wait_for()
            assert page.get_by_role("navigation", name="Main").is_visible()
        # The invoice's form address leads to the invoice, whose decision form is there to use.
        page.goto(urls[0][0])
        page.get_by_role("heading", name=re.compile(scenario.price_mismatch.invoice_number)).wait_for()
        assert page.get_by_test_id("review-form").is_visible()

        response = page.goto("/app/no-such-page")
        assert response.status == 404
        page.get_by_role("heading", name="Not found").wait_for()
        assert page.get_by_role("navigation", name="Main").is_visible()

        # Opening the log-out address signs nobody out: the dashboard, still signed in.
        page.goto(reverse("web:logout"))
        page.get_by_role("heading", name="Dashboard").wait_for()
        assert page.get_by_role("navigation", name="Main").is_visible()
        # Chromium logs each 4xx document as "Failed to load resource"; nothing else may show.
        assert [error for error in page.console_errors if "Failed to load resource" not in error] == []


@pytest.mark.django_db
def test_another_tenants_form_address_is_the_404_page_as_a_missing_one(
    foreign_clerk: Client, scenario: Scenario
) -> None:
    payment = PaymentFactory(tenant=scenario.tenant)
    for url, _back, _words in _post_only_urls(scenario, payment.pk):
        if str(scenario.price_mismatch.pk) not in url and str(payment.pk) not in url:
            continue  # no object in it: the foreign clerk's own page
        response = foreign_clerk.get(url)
        assert response.status_code == 404, url
        html = response.content.decode()
        assert "<h1>Not found</h1>" in html
        assert str(scenario.price_mismatch.pk) not in html and "INV-100" not in html
        missing = url
        for known in (scenario.price_mismatch.pk, payment.pk):
            missing = missing.replace(str(known), str(uuid.uuid4()))
        assert foreign_clerk.get(missing).status_code == 404, missing
