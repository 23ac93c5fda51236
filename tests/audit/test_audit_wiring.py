"""No change without its audit event, no event without its change: the API, commands, the
admin and the audit API and export."""

from __future__ import annotations

import contextlib
import csv
import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from rest_framework.test import APIClient

from audit.models import AuditEvent
from audit.services import audit_deferred, audit_record
from audit.verify import audit_chain_verify
from core.actors import system_actor
from core.tenancy.scoping import tenant_inserts
from invoices.models import Invoice
from tenants.models import Tenant, TenantSettings
from tenants.services import tenant_settings_update
from tests.audit.sealing import seal
from tests.factories import TEST_ACTOR, TenantFactory, VendorFactory

pytestmark = pytest.mark.django_db


def _events(tenant: Tenant, **filters: Any) -> list[AuditEvent]:
    return list(AuditEvent.objects.for_tenant(tenant).filter(**filters).order_by("xid", "append_seq"))


def _documents(api: APIClient) -> dict[str, tuple[str, dict[str, Any]]]:
    vendor = api.post("/api/vendors", {"name": "Acme Supplies", "tax_id": "DE1"}, format="json").json()
    po = {
        "po_number": "PO-1",
        "vendor_id": vendor["id"],
        "currency": "EUR",
        "order_date": "2026-10-01",
        "lines": [{"line_number": 1, "description": "Bolts", "quantity": "10", "unit_price": "1.50"}],
    }
    receipt = {
        "receipt_number": "GR-1",
        "po_number": "PO-1",
        "received_date": "2026-10-02",
        "lines": [{"po_line_number": 1, "quantity": "10"}],
    }
    invoice = {"invoice_number": "INV-1", "vendor_id": vendor["id"], "po_number": "PO-1", "currency": "EUR",
               "invoice_date": "2026-10-03", "total_amount": "15.00",
               "lines": [{"description": "Bolts", "quantity": "10", "unit_price": "1.50"}]}  # fmt: skip
    return {
        "purchase_order": ("/api/purchase-orders", po),
        "goods_receipt": ("/api/goods-receipts", receipt),
        "invoice": ("/api/invoices", invoice),
    }


def test_each_api_create_writes_one_event_with_actor_and_request_id(api: APIClient, tenant: Tenant) -> None:
    for entity_type, (url, body) in _documents(api).items():
        response = api.post(url, body, format="json", HTTP_X_REQUEST_ID=f"req-{entity_type}")
        assert response.status_code == 201, response.content
        [event] = _events(tenant, entity_type=entity_type)
        assert event.entity_id == response.json()["id"]
        assert event.action == "created"
        assert event.actor_kind == "api_key"
        assert event.request_id == f"req-{entity_type}"
        assert event.after["lines"][0]["quantity"] == "10"  # the document as received, exactly


def test_vendor_creation_is_audited(api: APIClient, tenant: Tenant) -> None:
    response = api.post("/api/vendors", {"name": "Nordic Fasteners AB", "tax_id": "se 556"}, format="json")
    [event] = _events(tenant, entity_type="vendor")
    assert event.entity_id == response.json()["id"]
    assert event.after["tax_id"] == "SE556" and event.after["name"] == "Nordic Fasteners AB"


def test_a_crash_after_the_change_leaves_neither_change_nor_event(
    api: APIClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The invoice row is written, then the transaction dies before commit: nothing remains."""
    url, body = _documents(api)["invoice"]
    before = AuditEvent.objects.for_tenant(tenant).count()

    def record_then_crash(**kwargs: Any) -> None:
        tenant_inserts(**kwargs)
        assert Invoice.objects.for_tenant(tenant).count() == 1  # the change was made...
        assert AuditEvent.objects.for_tenant(tenant).count() == before + 1  # ...with its event...
        raise RuntimeError("power cut")  # ...and then the process died inside the transaction

    # The door writes an invoice, its lines and its creation event in one statement (invoices.services).
    monkeypatch.setattr("invoices.services.tenant_inserts", record_then_crash)
    api.raise_request_exception = False
    response = api.post(url, body, format="json")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert Invoice.objects.for_tenant(tenant).count() == 0
    assert AuditEvent.objects.for_tenant(tenant).count() == before


def test_settings_changes_are_audited_with_before_and_after(tenant: Tenant) -> None:
    tenant_settings_update(tenant=tenant, actor=TEST_ACTOR, price_tolerance_pct="3.5")
    [event] = _events(tenant, entity_type="tenant_settings")
    assert event.before == {"price_tolerance_pct": "2.000"}
    assert event.after == {"price_tolerance_pct": "3.500"}


def test_invalid_settings_change_nothing(tenant: Tenant) -> None:
    from core.exceptions import DocumentInvalid

    with pytest.raises(DocumentInvalid):
        tenant_settings_update(tenant=tenant, actor=TEST_ACTOR, price_tolerance_pct="-1")
    assert TenantSettings.objects.get(tenant=tenant).price_tolerance_pct == 2
    assert _events(tenant, entity_type="tenant_settings") == []


def test_create_tenant_command_audits_the_tenant_and_its_key() -> None:
    call_command("create_tenant", "Initech", stdout=StringIO())
    tenant = Tenant.objects.get(name="Initech")
    assert [(e.entity_type, e.action, e.actor_id) for e in _events(tenant)] == [
        ("tenant", "created", "create_tenant"),
        ("api_key", "created", "create_tenant"),
    ]


class TestAdmin:
    def test_an_admin_edit_is_audited_with_the_administrator(self, admin_client: Client, admin_user: Any) -> None:
        vendor = VendorFactory(name="Old Name Ltd")
        tenant = vendor.tenant
        page = admin_client.get(f"/admin/vendors/vendor/{vendor.pk}/change/")
        form = page.context["adminform"].form
        data = {key: value for key, value in form.initial.items() if value is not None}
        data["name"] = "New Name Ltd"
        for inline in page.context["inline_admin_formsets"]:  # aliases, bank accounts (read only)
            management = inline.formset.management_form
            data.update({management.add_prefix(name): value for name, value in management.initial.items()})
        response = admin_client.post(f"/admin/vendors/vendor/{vendor.pk}/change/", data)
        assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
        [event] = _events(tenant, entity_type="vendor", action="admin.updated")
        assert event.before["name"] == "Old Name Ltd" and event.after["name"] == "New Name Ltd"
        assert (event.actor_kind, event.actor_id) == ("user", str(admin_user.pk))

    def test_audit_events_have_no_add_change_or_delete_views(self, admin_client: Client, tenant: Tenant) -> None:
        from django.db import transaction

        with transaction.atomic():
            event = audit_record(
                tenant=tenant, actor=system_actor("t"), entity_type="x", entity_id="1", action="created"
            )
        assert admin_client.get("/admin/audit/auditevent/").status_code == 200
        assert admin_client.get("/admin/audit/auditevent/add/").status_code == 403
        assert admin_client.get(f"/admin/audit/auditevent/{event.pk}/delete/").status_code == 403
        view = admin_client.get(f"/admin/audit/auditevent/{event.pk}/change/")
        assert view.status_code == 200 and b'name="_save"' not in view.content  # view-only
        assert (
            admin_client.post(f"/admin/audit/auditevent/{event.pk}/change/", {"action": "tampered"}).status_code == 403
        )
        changelist = admin_client.post(
            "/admin/audit/auditevent/", {"action": "delete_selected", "_selected_action": [event.pk]}
        )
        assert changelist.status_code in (200, 302)
        assert AuditEvent.objects.for_tenant(tenant).get(pk=event.pk).action == "created"


class TestAuditApi:
    def test_filters_by_entity_and_action(self, api: APIClient, tenant: Tenant) -> None:
        vendor = api.post("/api/vendors", {"name": "Filter Me"}, format="json").json()
        response = api.get(f"/api/audit-events?entity_type=vendor&entity_id={vendor['id']}")
        [event] = response.json()["results"]
        assert event["action"] == "created" and event["actor"]["kind"] == "api_key"
        assert api.get("/api/audit-events?action=nothing-like-this").json()["results"] == []

    def test_is_read_only(self, api: APIClient) -> None:
        assert api.post("/api/audit-events", {}, format="json").status_code == 405


def test_export_writes_csv_jsonl_and_a_chain_proof(tmp_path: Path, tenant: Tenant) -> None:
    from django.db import transaction

    with transaction.atomic():
        first = audit_record(
            tenant=tenant,
            actor=TEST_ACTOR,
            entity_type="vendor",
            entity_id="=cmd|' /C calc'!A0",
            action="created",
            after={"name": '=HYPERLINK("http://evil")'},
        )
        last = audit_record(tenant=tenant, actor=TEST_ACTOR, entity_type="vendor", entity_id="v", action="renamed")
    day = first.occurred_at.date().isoformat()
    prefix = tmp_path / "report"
    call_command(
        "export_audit", "--tenant", tenant.slug, "--from", day, "--to", day, "--output", str(prefix), stdout=StringIO()
    )
    proof = json.loads(Path(f"{prefix}.proof.json").read_text())
    first, last = (AuditEvent.objects.for_tenant(tenant).get(pk=event.pk) for event in (first, last))  # sealed
    assert proof["count"] == 2 and proof["chain_intact"] is True
    assert proof["first_hash"] == first.hash and proof["last_hash"] == last.hash
    assert proof["first_prev_hash"] == "0" * 64
    lines = Path(f"{prefix}.jsonl").read_text().splitlines()
    assert [json.loads(line)["sequence"] for line in lines] == [1, 2]
    with open(f"{prefix}.csv", encoding="utf-8") as csv_file:
        rows = list(csv.DictReader(csv_file))
    assert rows[0]["entity_id"] == "'=cmd|' /C calc'!A0"  # a spreadsheet shows it as text, never runs it
    assert json.loads(lines[0])["entity_id"] == "=cmd|' /C calc'!A0"  # the JSON lines keep the data as is
    assert len(rows) == 2 and rows[1]["action"] == "renamed"


@pytest.mark.django_db
def test_events_held_back_by_audit_deferred_are_appended_in_order_at_the_end_of_the_block() -> None:
    tenant = TenantFactory()
    with transaction.atomic():
        with audit_deferred():
            for name in ("first", "second", "third"):
                audit_record(tenant=tenant, actor=TEST_ACTOR, entity_type="vendor", entity_id=name, action="created")
            assert not AuditEvent.objects.for_tenant(tenant).filter(entity_type="vendor").exists()
        seal(tenant)
        appended = list(
            AuditEvent.objects.for_tenant(tenant).filter(entity_type="vendor").order_by("xid", "append_seq")
        )
    assert [event.entity_id for event in appended] == ["first", "second", "third"]
    assert [event.prev_hash for event in appended[1:]] == [event.hash for event in appended[:-1]]


@pytest.mark.django_db
def test_events_held_back_by_a_block_that_raises_are_never_appended() -> None:
    tenant = TenantFactory()
    with transaction.atomic():
        with contextlib.suppress(ValueError), audit_deferred():
            audit_record(tenant=tenant, actor=TEST_ACTOR, entity_type="vendor", entity_id="v", action="created")
            raise ValueError("the document failed")
        assert not AuditEvent.objects.for_tenant(tenant).filter(entity_type="vendor").exists()


@pytest.mark.django_db
def test_a_held_back_block_is_appended_at_once_onto_the_head_with_each_events_actor(
    django_assert_max_num_queries: Any,
) -> None:
    # The demo seed holds some 4,000 services' events: appended call by call, each read the head
    # and sent an INSERT of its own. Now one INSERT, whatever the count (the sealer chains them).
    tenant = TenantFactory()
    clerk = system_actor("clerk_robot")
    with transaction.atomic():
        audit_record(tenant=tenant, actor=TEST_ACTOR, entity_type="vendor", entity_id="before", action="created")
        with django_assert_max_num_queries(4), audit_deferred():
            for number in range(60):
                actor = clerk if number % 2 else TEST_ACTOR
                audit_record(tenant=tenant, actor=actor, entity_type="vendor", entity_id=str(number), action="created")
    seal(tenant)
    appended = _events(tenant, entity_type="vendor")
    assert [event.entity_id for event in appended] == ["before", *map(str, range(60))]
    assert [event.sequence for event in appended] == list(range(appended[0].sequence, appended[0].sequence + 61))
    assert [event.actor_label for event in appended[1:4]] == [TEST_ACTOR.label, clerk.label, TEST_ACTOR.label]
    assert audit_chain_verify(tenant=tenant).intact
