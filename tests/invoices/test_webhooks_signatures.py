"""Webhooks in: a delivery is taken only under a valid signature, within the timestamp tolerance,
with the secret of the tenant whose URL it names; every refusal is the same 401, logged.
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from invoices.ingest import webhooks
from tenants.models import Tenant
from tests.invoices.webhook_deliveries import (
    SIGNERS,
    assert_refused,
    content_of,
    deliver,
    deliveries,
    intuit_headers,
    invoices_of,
    payload,
    refusals,
    standard_headers,
    xero_headers,
)

pytestmark = pytest.mark.usefixtures("webhooks_quiet")


# --- each scheme, invalid -----------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["standard_webhooks", "quickbooks"])
def test_a_wrong_signature_is_a_401_envelope_stores_nothing_and_is_logged(
    scheme: str,
    tenant: Tenant,
    secret: str,
    caplog: pytest.LogCaptureFixture,
    document_counts: Callable[[], dict[str, int]],
) -> None:
    body = payload("qbo_bill.json")
    before = document_counts()
    headers = SIGNERS[scheme](body, secret)
    response = deliver(tenant, body.replace(b"1421.35", b"1.35"), headers)  # tampered after signing
    assert_refused(response)
    assert document_counts() == before
    assert deliveries() == []
    assert refusals(caplog) == [webhooks.LOG_SIGNATURE_REFUSED % (tenant.pk, scheme, webhooks.REASON_MISMATCH)]


def test_a_wrong_xero_signature_is_an_empty_401_stores_nothing_and_is_logged(
    tenant: Tenant, secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Xero accepts only a body-less 401 for a mis-signed payload (its intent-to-receive checks it)."""
    body = payload("xero_accpay.json")
    response = deliver(tenant, body, xero_headers(body, "whsec_not-the-secret"))
    assert response.status_code == 401
    assert content_of(response) == b""
    assert "Set-Cookie" not in response
    assert invoices_of(tenant) == [] and deliveries() == []
    assert refusals(caplog) == [webhooks.LOG_SIGNATURE_REFUSED % (tenant.pk, "xero", webhooks.REASON_MISMATCH)]


def test_a_delivery_without_any_signature_is_refused(
    tenant: Tenant, secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert_refused(deliver(tenant, payload("qbo_bill.json"), {}))
    assert refusals(caplog) == [webhooks.LOG_SIGNATURE_REFUSED % (tenant.pk, "none", webhooks.REASON_NO_SIGNATURE)]


@pytest.mark.parametrize("seconds", [-1, +1], ids=["stale", "future"])
def test_a_timestamp_outside_the_tolerance_is_refused(
    seconds: int, settings: Any, tenant: Tenant, secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A correctly signed delivery from 6 minutes ago (or ahead) is a possible replay: refused."""
    skew = seconds * (settings.WEBHOOK_TOLERANCE_SECONDS + 60)
    body = payload("qbo_bill.json")
    response = deliver(tenant, body, standard_headers(body, secret, timestamp=int(time.time()) + skew))
    assert_refused(response)
    assert invoices_of(tenant) == []
    [line] = refusals(caplog)
    assert str(tenant.pk) in line and "standard_webhooks" in line
    logged = re.search(r"webhook-timestamp is ([+-]\d+) s from now", line)
    assert logged is not None and abs(int(logged.group(1)) - skew) <= 1  # a second may tick in between
    assert line.endswith(f"at most {settings.WEBHOOK_TOLERANCE_SECONDS} s either way")


def test_a_timestamp_inside_the_tolerance_is_accepted(settings: Any, tenant: Tenant, secret: str) -> None:
    body = payload("qbo_bill.json")
    stamp = int(time.time()) - settings.WEBHOOK_TOLERANCE_SECONDS + 30
    assert deliver(tenant, body, standard_headers(body, secret, timestamp=stamp)).status_code == 201


def test_one_valid_signature_among_several_suffices(tenant: Tenant, secret: str) -> None:
    """During the sender's own key rotation it signs with old and new keys; any one valid will do."""
    body = payload("qbo_bill.json")
    others = ("v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=", "v1a,aGVsbG8=", "v1,not-base64!")
    assert deliver(tenant, body, standard_headers(body, secret, others=others)).status_code == 201
    assert len(invoices_of(tenant)) == 1


def test_several_signatures_none_valid_are_refused(tenant: Tenant, secret: str) -> None:
    body = payload("qbo_bill.json")
    headers = standard_headers(body, "whsec_" + base64.b64encode(b"x" * 32).decode())
    headers["webhook-signature"] += " v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="
    assert_refused(deliver(tenant, body, headers))


# --- secrets and tenants ------------------------------------------------------------------------


def test_a_tenant_without_its_own_secret_is_verified_with_the_global_one(settings: Any, tenant: Tenant) -> None:
    settings.WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"g" * 32).decode()
    body = payload("qbo_bill.json")
    assert deliver(tenant, body, standard_headers(body, settings.WEBHOOK_SECRET)).status_code == 201
    assert deliver(tenant, body, intuit_headers(body, settings.WEBHOOK_SECRET)).status_code == 200  # already there


def test_the_global_secret_is_not_accepted_for_a_tenant_with_its_own(
    settings: Any, tenant: Tenant, secret: str
) -> None:
    settings.WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"g" * 32).decode()
    body = payload("qbo_bill.json")
    assert_refused(deliver(tenant, body, standard_headers(body, settings.WEBHOOK_SECRET)))


def test_with_neither_secret_every_delivery_is_refused(tenant: Tenant, caplog: pytest.LogCaptureFixture) -> None:
    body = payload("qbo_bill.json")
    assert_refused(deliver(tenant, body, intuit_headers(body, "")))
    assert refusals(caplog) == [webhooks.LOG_SIGNATURE_REFUSED % (tenant.pk, "quickbooks", webhooks.REASON_NO_SECRET)]
    assert invoices_of(tenant) == []


def test_tenant_a_secret_is_refused_on_tenant_b_url(
    tenant: Tenant,
    other_tenant: Tenant,
    secret: str,
    other_secret: str,
    caplog: pytest.LogCaptureFixture,
    document_counts: Callable[[], dict[str, int]],
) -> None:
    """A's sender cannot put invoices into B: the URL's tenant is taken only with B's own secret."""
    body = payload("qbo_bill.json")
    before = document_counts()
    for headers in (standard_headers(body, secret), intuit_headers(body, secret)):
        assert_refused(deliver(other_tenant, body, headers))
    assert document_counts() == before
    assert deliveries() == []
    assert all(str(other_tenant.pk) in line for line in refusals(caplog))
    assert deliver(other_tenant, body, intuit_headers(body, other_secret)).status_code == 201
    assert invoices_of(tenant) == [] and len(invoices_of(other_tenant)) == 1


def test_an_unknown_or_inactive_tenant_gets_the_same_401_as_a_bad_signature(
    tenant: Tenant, secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    body = payload("qbo_bill.json")
    unknown = uuid.uuid4()
    assert_refused(deliver(unknown, body, intuit_headers(body, secret)))
    Tenant.objects.filter(pk=tenant.pk).update(is_active=False)
    assert_refused(deliver(tenant, body, intuit_headers(body, secret)))
    assert refusals(caplog) == [
        webhooks.LOG_SIGNATURE_REFUSED % (unknown, "quickbooks", webhooks.REASON_UNKNOWN_TENANT),
        webhooks.LOG_SIGNATURE_REFUSED % (tenant.pk, "quickbooks", webhooks.REASON_UNKNOWN_TENANT),
    ]
    assert deliver("not-a-uuid", body, intuit_headers(body, secret)).status_code == 404
