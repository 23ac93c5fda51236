"""The matching runs page, and who may start a run."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from matching.models import MatchRun
from tests.web.conftest import Scenario

pytestmark = pytest.mark.django_db


def test_runs_page_lists_the_tenants_runs(clerk: Client, scenario: Scenario, foreign_scenario: Scenario) -> None:
    response = clerk.get(reverse("web:runs"))
    runs = list(response.context["page"].object_list)
    assert len(runs) == 2 and {run.tenant_id for run in runs} == {scenario.tenant.pk}
    html = response.content.decode()
    assert "finished" in html and " ms" in html
    assert 'data-testid="start-run"' not in html  # a clerk has no button


def test_htmx_refresh_gets_the_table_alone(clerk: Client, scenario: Scenario) -> None:
    html = clerk.get(reverse("web:runs"), HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in html and 'data-testid="runs"' in html


def test_an_approver_starts_a_run(approver: Client, scenario: Scenario) -> None:
    before = MatchRun.objects.for_tenant(scenario.tenant).count()
    response = approver.post(reverse("web:run-start"))
    assert response.status_code == 302
    run = MatchRun.objects.for_tenant(scenario.tenant).latest("created_at")
    assert MatchRun.objects.for_tenant(scenario.tenant).count() == before + 1
    assert (run.status, run.trigger, run.requested_by_kind) == ("queued", "api", "user")
    event = AuditEvent.objects.for_tenant(scenario.tenant).filter(entity_type="match_run").latest("xid", "append_seq")
    assert event.actor_kind == "user" and event.action == "requested"
    assert 'data-testid="start-run"' in approver.get(reverse("web:runs")).content.decode()


def test_a_clerk_cannot_start_a_run(clerk: Client, scenario: Scenario) -> None:
    before = MatchRun.objects.for_tenant(scenario.tenant).count()
    response = clerk.post(reverse("web:run-start"))
    assert response.status_code == 403
    assert "Only an approver or an administrator can start a matching run." in response.content.decode()
    assert MatchRun.objects.for_tenant(scenario.tenant).count() == before


def test_the_table_polls_only_while_a_run_is_pending(approver: Client, scenario: Scenario) -> None:
    assert "every 3s" not in approver.get(reverse("web:runs")).content.decode()
    approver.post(reverse("web:run-start"))  # queued: its task starts only after commit
    assert 'hx-trigger="every 3s"' in approver.get(reverse("web:runs")).content.decode()
