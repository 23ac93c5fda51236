"""Settings → Limits re-matches the open invoices a changed limit concerns (issue #18 item 3), and
says so on the page, as the tolerance pages do (tests/web/test_rematch.py)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from audit.verify import audit_chain_verify
from recon_site.tenant_settings.views_matching import REMATCHED
from tenants.models import Role, Tenant
from tests.audit.sealing import seal
from tests.factories import MembershipFactory
from tests.matching.runs import reload, results_of, run_matching, transitions_of
from tests.web.conftest import Scenario

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_run_on_ingest")]

EUR_DEFAULTS = {
    "currency": "EUR",
    "auto_approve_below": "100.00",
    "escalate_from": "10000.00",
    "write_off_max": "5.00",
    "price_tolerance_floor": "0",
}


@pytest.fixture
def no_run_on_ingest(settings: object) -> None:
    settings.MATCH_ON_INGEST = False  # type: ignore[attr-defined]


@pytest.fixture
def admin(tenant: Tenant) -> Client:
    client = Client()
    client.force_login(MembershipFactory(tenant=tenant, role=Role.ADMIN).user)
    return client


def _saved(admin: Client, **limits: str) -> str:
    response = admin.post(reverse("web:settings-limits"), {**EUR_DEFAULTS, **limits}, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == reverse("web:settings-limits")
    return response.content.decode()


def test_a_price_floor_in_eur_rematches_the_eur_invoices_in_review_and_says_how_many(
    scenario: Scenario, foreign_scenario: Scenario, tenant: Tenant, admin: Client
) -> None:
    """Hoses at 19.00 against 18.40: 0.60 over, outside 2 %. A floor of 1.00 per unit takes
    it in (the larger of the two wins), so matched again the invoice is clean and approved."""
    page = _saved(admin, price_tolerance_floor="1.00")

    # The price mismatch and the escalated possible duplicate: both EUR, both in review.
    assert "Limits in EUR saved." in page
    assert REMATCHED.format(count=2) in page
    invoice = reload(scenario.price_mismatch)
    assert invoice.status == "received"
    rematch = transitions_of(invoice)[-1]
    assert rematch.actor_kind == "user"
    assert rematch.after["reason"] == "Amount limits in EUR changed (price tolerance floor 0 → 1): matching again."
    assert rematch.after["currency_limits"] == {"price_tolerance_floor": {"before": "0", "after": "1.000000"}}
    assert reload(scenario.original).status == "approved"  # not open: left alone
    assert reload(foreign_scenario.price_mismatch).status == "pending_review"  # another tenant's

    run_matching(tenant)
    invoice = reload(invoice)
    old, new = results_of(invoice)
    assert (old.decision, new.decision, invoice.status) == ("pending_review", "approved", "approved")

    # Saved again as it is, or with only the write-off limit (the payments'), nothing is re-matched.
    assert "are being matched again" not in _saved(admin, price_tolerance_floor="1.00")
    assert "are being matched again" not in _saved(admin, price_tolerance_floor="1.00", write_off_max="9.00")
    assert reload(scenario.duplicate).status == "pending_review"
    assert seal(tenant).unsealed == 0
    assert audit_chain_verify(tenant=tenant).intact


def test_resetting_a_currency_to_the_defaults_rematches_too(scenario: Scenario, tenant: Tenant, admin: Client) -> None:
    _saved(admin, escalate_from="500.00")  # the 1,075.00 price mismatch now escalates
    run_matching(tenant)
    assert reload(scenario.price_mismatch).review_queue == "escalated"

    response = admin.post(reverse("web:settings-limits-reset"), {"currency": "EUR"}, follow=True)

    page = response.content.decode()
    assert "EUR uses the default limits again." in page and REMATCHED.format(count=2) in page
    assert "escalate from 500.00 → 10000.00" in transitions_of(scenario.price_mismatch)[-1].after["reason"]
    run_matching(tenant)
    invoice = reload(scenario.price_mismatch)
    assert (invoice.status, invoice.review_queue) == ("pending_review", "standard")
    # A currency with no limits of its own has nothing to reset, whatever is typed.
    response = admin.post(reverse("web:settings-limits-reset"), {"currency": "XYZ"}, follow=True)
    assert response.status_code == 200 and "are being matched again" not in response.content.decode()
