"""POST /api/invoices/{id}/rematch: an open invoice back to matching, a run queued at once."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from invoices.models import Invoice
from matching.models import MatchRun
from tenants.models import Tenant
from tests.factories import InvoiceFactory, VendorFactory
from tests.matching.runs import reload, transitions_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_matching_tasks")]


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kwargs: calls.append((args, kwargs)))
    return calls


def _in_review(tenant: Tenant) -> Invoice:
    return InvoiceFactory(
        vendor=VendorFactory(tenant=tenant), invoice_number="INV-9", status="pending_review", review_queue="standard"
    )


def test_an_open_invoice_goes_back_to_matching_and_a_run_is_queued(
    api: APIClient, tenant: Tenant, queued: list[tuple[Any, ...]], django_capture_on_commit_callbacks: Any
) -> None:
    invoice = _in_review(tenant)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/invoices/{invoice.pk}/rematch", {"comment": "PO price corrected"}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "received"
    [event] = transitions_of(invoice)
    assert event.actor_kind == "api_key" and event.request_id == response["X-Request-Id"]
    assert event.after["reason"].endswith(": PO price corrected")
    assert event.before == {"status": "pending_review", "review_queue": "standard"}
    [(args, kwargs)] = queued
    assert args == ("matching.tasks.run_matching", str(tenant.pk)) and kwargs["trigger"] == MatchRun.Trigger.API


@pytest.mark.parametrize("status", ["approved", "rejected", "void", "reconciled"])
def test_a_closed_invoice_is_a_409_and_nothing_changes(
    api: APIClient, tenant: Tenant, queued: list[tuple[Any, ...]], status: str
) -> None:
    invoice = InvoiceFactory(vendor=VendorFactory(tenant=tenant), invoice_number="INV-8", status=status)
    response = api.post(f"/api/invoices/{invoice.pk}/rematch", {}, format="json")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "illegal_transition"
    assert "only open invoices" in error["message"] and error["details"] == {"status": status}
    assert reload(invoice).status == status and transitions_of(invoice) == [] and queued == []


def test_a_comment_too_long_is_a_400(api: APIClient, tenant: Tenant) -> None:
    invoice = _in_review(tenant)
    response = api.post(f"/api/invoices/{invoice.pk}/rematch", {"comment": "x" * 2001}, format="json")
    assert response.status_code == 400 and "comment" in response.json()["error"]["details"]
    assert reload(invoice).status == "pending_review"


def test_another_tenants_invoice_is_a_404(foreign_api: APIClient, tenant: Tenant) -> None:
    invoice = _in_review(tenant)
    response = foreign_api.post(f"/api/invoices/{invoice.pk}/rematch", {}, format="json")
    assert response.status_code == 404
    assert reload(invoice).status == "pending_review"


def test_the_action_is_in_the_schema(api: APIClient) -> None:
    schema = api.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/invoices/{id}/rematch"]["post"]
    assert set(operation["responses"]) >= {"202", "409"}
