"""Webhook secrets: rotated through the API and stored encrypted, or a key the sender issued set by
an administrator; each verifies only its own tenant.
"""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from audit.models import AuditEvent
from tenants.apis import WEBHOOK_ROTATE_ADMINS_ONLY
from tenants.models import IdempotencyRecord, Role, Tenant
from tests.factories import MembershipFactory
from tests.invoices.webhook_deliveries import (
    ROTATE,
    assert_refused,
    deliver,
    intuit_headers,
    invoices_of,
    payload,
    standard_headers,
)

pytestmark = pytest.mark.usefixtures("webhooks_quiet")


# --- the secret: rotation through the API, stored encrypted -------------------------------------


def test_rotation_returns_a_new_secret_once_and_the_old_one_stops_verifying(
    api: APIClient, tenant: Tenant, secret: str
) -> None:
    response = api.post(ROTATE)
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    new_secret = response.json()["secret"]
    assert new_secret.startswith("whsec_") and new_secret != secret
    tenant.refresh_from_db()
    assert dt.datetime.fromisoformat(response.json()["rotated_at"]) == tenant.webhook_secret_rotated_at

    body = payload("qbo_bill.json")
    assert_refused(deliver(tenant, body, standard_headers(body, secret)))
    assert deliver(tenant, body, standard_headers(body, new_secret)).status_code == 201

    events = AuditEvent.objects.for_tenant(tenant).filter(action="webhook_secret_rotated").order_by("xid", "append_seq")
    assert events.count() == 2  # the fixture's rotation and this one
    latest = events.last()
    assert (latest.actor_kind, latest.after["has_webhook_secret"]) == ("api_key", True)
    for event in events:
        stored = json.dumps([event.before, event.after, event.actor_label])
        assert new_secret not in stored and new_secret.removeprefix("whsec_") not in stored
        assert secret.removeprefix("whsec_") not in stored


def test_the_secret_is_stored_only_encrypted(api: APIClient, tenant: Tenant) -> None:
    raw_secret = api.post(ROTATE).json()["secret"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT webhook_secret_encrypted FROM tenants_tenant WHERE id = %s", [tenant.pk])
        (column,) = cursor.fetchone()
    assert column and raw_secret.removeprefix("whsec_") not in column
    assert base64.b64decode(raw_secret.removeprefix("whsec_")).hex() not in column


def test_a_retried_rotation_rotates_again_and_stores_no_secret_for_replay(api: APIClient, tenant: Tenant) -> None:
    """Idempotency-Key is not honoured here: a stored replay would keep the secret in clear."""
    first = api.post(ROTATE, headers={"Idempotency-Key": "rotate-1"}).json()["secret"]
    second = api.post(ROTATE, headers={"Idempotency-Key": "rotate-1"}).json()["secret"]
    assert first != second
    assert not IdempotencyRecord.objects.for_tenant(tenant).exists()


@pytest.mark.parametrize(("role", "status"), [(Role.CLERK, 403), (Role.APPROVER, 403), (Role.ADMIN, 200)])
def test_only_an_administrator_session_may_rotate(role: str, status: int, client: Client, tenant: Tenant) -> None:
    client.force_login(MembershipFactory(tenant=tenant, role=role).user)
    response = client.post(ROTATE)
    assert response.status_code == status, response.content
    if status == 403:
        assert response.json()["error"] == {
            "code": "permission_denied",
            "message": WEBHOOK_ROTATE_ADMINS_ONLY,
            "details": {},
        }
        tenant.refresh_from_db()
        assert tenant.webhook_secret_encrypted == ""


@pytest.mark.django_db
def test_an_anonymous_rotation_is_a_401() -> None:
    assert APIClient().post(ROTATE).status_code == 401


def test_a_rotation_changes_only_the_callers_tenant(
    foreign_api: APIClient, tenant: Tenant, other_tenant: Tenant, secret: str
) -> None:
    """Tenant B rotating its secret leaves tenant A's secret (and deliveries) untouched."""
    tenant.refresh_from_db()
    before = tenant.webhook_secret_encrypted
    b_secret = foreign_api.post(ROTATE).json()["secret"]
    tenant.refresh_from_db()
    assert tenant.webhook_secret_encrypted == before
    body = payload("qbo_bill.json")
    assert deliver(tenant, body, intuit_headers(body, secret)).status_code == 201
    assert_refused(deliver(tenant, body, standard_headers(body, b_secret, msg_id="msg_b")))
    assert invoices_of(other_tenant) == []


# --- a key the sender issued (QuickBooks verifier token, Xero webhook key) ---------------------

SET = "/api/webhook-secret"
INTUIT_VERIFIER_TOKEN = "a6b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d"


def test_a_sender_issued_key_verifies_only_its_tenant(
    api: APIClient, foreign_api: APIClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    """QuickBooks issues its verifier token; the tenant sets it, and QuickBooks deliveries verify."""
    response = api.put(SET, data=json.dumps({"secret": INTUIT_VERIFIER_TOKEN}), content_type="application/json")
    assert response.status_code == 200, response.content
    assert INTUIT_VERIFIER_TOKEN not in response.content.decode()
    tenant.refresh_from_db()
    assert INTUIT_VERIFIER_TOKEN not in tenant.webhook_secret_encrypted  # stored encrypted
    body = payload("qbo_bill.json")
    assert deliver(tenant, body, intuit_headers(body, INTUIT_VERIFIER_TOKEN)).status_code == 201
    # The same token means nothing on tenant B's URL (B has no secret of its own, nor a global one).
    assert_refused(deliver(other_tenant, body, intuit_headers(body, INTUIT_VERIFIER_TOKEN)))
    assert invoices_of(other_tenant) == []
    [event] = AuditEvent.objects.for_tenant(tenant).filter(action="webhook_secret_set")
    assert INTUIT_VERIFIER_TOKEN not in json.dumps([event.before, event.after])
    # Neither the token nor any response to it is kept for idempotent replay.
    assert not IdempotencyRecord.objects.unscoped().filter(tenant=tenant).exists()


@pytest.mark.parametrize("secret", ["", "too-short", "x" * 513])
def test_a_sender_issued_key_of_the_wrong_length_is_refused(api: APIClient, tenant: Tenant, secret: str) -> None:
    response = api.put(SET, data=json.dumps({"secret": secret}), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["secret"]
    tenant.refresh_from_db()
    assert tenant.webhook_secret_encrypted == ""


def test_only_administrators_set_a_sender_issued_key(tenant: Tenant) -> None:
    membership = MembershipFactory(tenant=tenant, role=Role.CLERK)
    client = APIClient()
    client.force_login(membership.user)
    response = client.put(SET, data=json.dumps({"secret": INTUIT_VERIFIER_TOKEN}), content_type="application/json")
    assert response.status_code == 403
    assert APIClient().put(SET, data={"secret": INTUIT_VERIFIER_TOKEN}, format="json").status_code == 401
