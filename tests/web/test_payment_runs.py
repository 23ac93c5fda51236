"""The Payment runs pages and API: a clerk proposes (bad input beside its field), removes a line,
an approver who did not propose approves, the file downloads; the proposer is refused; another
tenant's run is a 404 on every page and endpoint."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from invoices.models import Invoice, InvoiceStatus
from payments.models import PaymentRun, PaymentRunStatus
from payments.runs import files
from tenants.models import Role, Tenant
from tests.factories import MembershipFactory
from tests.payments.run_books import DEBTOR_IBAN, approved_invoice, paying_vendor, people
from tests.tenant_matrix import member_client

pytestmark = pytest.mark.django_db

FORM = {
    "due_by": "2026-11-30",
    "currency": "EUR",
    "max_total": "",
    "execution_date": "",
    "debtor_name": "Acme Manufacturing",
    "debtor_iban": DEBTOR_IBAN,
    "debtor_bic": "",
    "file_format": "pain.001.001.09",
}


def _web(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def books(tenant: Tenant) -> dict[str, Any]:
    clerk, approver = people(tenant)
    north = paying_vendor(tenant, "Northwind Traders", 1, clerk=clerk, approver=approver)
    return {
        "clerk": clerk,
        "approver": approver,
        "n1": approved_invoice(north, "N-1", 1000_00),
        "n2": approved_invoice(north, "N-2", 250_50),
    }


def test_a_clerk_proposes_removes_a_line_and_an_approver_approves_and_downloads(
    tenant: Tenant, books: dict[str, Any]
) -> None:
    clerk = _web(books["clerk"])
    page = clerk.get(reverse("web:payment-runs"))
    assert page.status_code == 200 and b"Propose a run" in page.content
    proposed = clerk.post(reverse("web:payment-runs"), FORM)
    assert proposed.status_code == 302
    run = PaymentRun.objects.for_tenant(tenant).get()
    detail = clerk.get(proposed["Location"])
    assert b"N-1" in detail.content and b"N-2" in detail.content and b"1,250.50" in detail.content
    assert b"Approve run" not in detail.content  # a clerk does not approve
    removed = clerk.post(reverse("web:payment-run-remove", args=[run.pk]), {"invoice_id": str(books["n2"].pk)})
    assert removed.status_code == 302
    detail = clerk.get(reverse("web:payment-run", args=[run.pk]))
    assert b"Removed from the proposal by" in detail.content

    refused = clerk.post(reverse("web:payment-run-approve", args=[run.pk]))
    assert refused.status_code == 403 and b"Only an approver" in refused.content

    approver = _web(books["approver"])
    approved = approver.post(reverse("web:payment-run-approve", args=[run.pk]))
    assert approved.status_code == 302
    download = approver.get(reverse("web:payment-run-file", args=[run.pk]))
    assert download.status_code == 200 and download["Content-Disposition"].startswith("attachment;")
    assert files.pain001_errors(download.content, version="pain.001.001.09") == []
    assert Invoice.objects.for_tenant(tenant).get(pk=books["n1"].pk).status == InvoiceStatus.PAYMENT_SCHEDULED
    assert Invoice.objects.for_tenant(tenant).get(pk=books["n2"].pk).status == InvoiceStatus.APPROVED


def test_an_approver_who_proposed_is_refused_by_the_four_eyes(tenant: Tenant, books: dict[str, Any]) -> None:
    approver = _web(books["approver"])
    approver.post(reverse("web:payment-runs"), FORM)
    run = PaymentRun.objects.for_tenant(tenant).get()
    assert b"another approver must approve it" in approver.get(reverse("web:payment-run", args=[run.pk])).content
    refused = approver.post(reverse("web:payment-run-approve", args=[run.pk]))
    assert refused.status_code == 403 and b"another person must approve it" in refused.content
    run.refresh_from_db()
    assert run.status == PaymentRunStatus.PROPOSED
    assert reverse("web:payment-run-file", args=[run.pk]) not in refused.content.decode()
    assert approver.get(reverse("web:payment-run-file", args=[run.pk])).status_code == 404


def test_bad_input_is_shown_beside_its_field_and_nothing_is_proposed(tenant: Tenant, books: dict[str, Any]) -> None:
    clerk = _web(books["clerk"])
    answer = clerk.post(
        reverse("web:payment-runs"), FORM | {"debtor_iban": "DE00 1234", "max_total": "12.345", "currency": "XX"}
    )
    assert answer.status_code == 400
    body = answer.content.decode()
    assert 'data-testid="error-currency"' in body and 'data-testid="error-max_total"' not in body  # currency first
    answer = clerk.post(reverse("web:payment-runs"), FORM | {"debtor_iban": "DE00 1234", "max_total": "12.345"})
    assert answer.status_code == 400 and 'data-testid="error-max_total"' in answer.content.decode()
    answer = clerk.post(reverse("web:payment-runs"), FORM | {"debtor_iban": "DE00 1234"})
    assert answer.status_code == 400 and 'data-testid="error-debtor_iban"' in answer.content.decode()
    assert not PaymentRun.objects.for_tenant(tenant).exists()


def test_the_api_proposes_refuses_the_proposer_and_approves_for_another_key(
    tenant: Tenant, books: dict[str, Any]
) -> None:
    proposer = member_client(tenant, Role.CLERK)
    body = {"currency": "EUR", "due_by": "2026-11-30", "debtor_name": "Acme", "debtor_iban": DEBTOR_IBAN}
    created = proposer.post("/api/payment-runs", body, format="json")
    assert created.status_code == 201, created.content
    run = created.json()
    assert run["status"] == "proposed" and run["total"] == "1250.50" and run["debtor_account"].endswith("3000")
    assert {item["invoice_number"]: item["amount"] for item in run["items"]} == {"N-1": "1000.00", "N-2": "250.50"}
    bad = proposer.post("/api/payment-runs", body | {"debtor_iban": "DE00"}, format="json")
    assert bad.status_code == 400 and "debtor_iban" in bad.json()["error"]["details"]

    refused = proposer.post(f"/api/payment-runs/{run['id']}/approve", format="json")
    assert refused.status_code == 403
    approver = member_client(tenant, Role.APPROVER)
    approved = approver.post(f"/api/payment-runs/{run['id']}/approve", format="json")
    assert approved.status_code == 200, approved.content
    assert approved.json()["status"] == "approved" and approved.json()["file_available"] is True
    download = approver.get(f"/api/payment-runs/{run['id']}/file")
    assert download.status_code == 200 and download.json()["content_type"] == "application/xml"
    assert files.pain001_errors(download.json()["content"].encode(), version="pain.001.001.09") == []
    cancelled = approver.post(f"/api/payment-runs/{run['id']}/cancel", {"reason": "wrong date"}, format="json")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


def test_an_api_key_proposes_a_run_but_only_a_person_approves_it(
    tenant: Tenant, books: dict[str, Any], api: Any
) -> None:
    """A key is whoever holds it: it may propose (an ERP's nightly run), never be the second pair of eyes."""
    body = {"currency": "EUR", "due_by": "2026-11-30", "debtor_name": "Acme", "debtor_iban": DEBTOR_IBAN}
    created = api.post("/api/payment-runs", body, format="json")
    assert created.status_code == 201, created.content
    run_id = created.json()["id"]
    by_key = api.post(f"/api/payment-runs/{run_id}/approve", format="json")
    assert by_key.status_code == 403
    assert by_key.json()["error"]["message"] == "A payment run is approved by a person signed in, not by an API key."
    assert PaymentRun.objects.for_tenant(tenant).get(pk=run_id).status == PaymentRunStatus.PROPOSED
    assert not Invoice.objects.for_tenant(tenant).filter(status=InvoiceStatus.PAYMENT_SCHEDULED).exists()
    approved = member_client(tenant, Role.APPROVER).post(f"/api/payment-runs/{run_id}/approve", format="json")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"


def test_another_tenants_run_is_a_404_on_every_page_and_endpoint(
    tenant: Tenant, other_tenant: Tenant, books: dict[str, Any]
) -> None:
    _web(books["clerk"]).post(reverse("web:payment-runs"), FORM)
    run = PaymentRun.objects.for_tenant(tenant).get()
    foreign = _web(MembershipFactory(tenant=other_tenant, role=Role.ADMIN).user)
    for name in ("web:payment-run", "web:payment-run-file"):
        assert foreign.get(reverse(name, args=[run.pk])).status_code == 404
    for name in ("web:payment-run-approve", "web:payment-run-cancel", "web:payment-run-remove"):
        assert foreign.post(reverse(name, args=[run.pk]), {"invoice_id": str(uuid.uuid4())}).status_code == 404
    assert str(run.pk) not in foreign.get(reverse("web:payment-runs")).content.decode()
    api = member_client(other_tenant, Role.ADMIN)
    assert api.get(f"/api/payment-runs/{run.pk}").status_code == 404
    assert api.post(f"/api/payment-runs/{run.pk}/approve", format="json").status_code == 404
    assert api.get("/api/payment-runs").json()["results"] == []
    run.refresh_from_db()
    assert run.status == PaymentRunStatus.PROPOSED
