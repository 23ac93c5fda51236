"""The invoice page's side-by-side of a duplicate finding (review.duplicate_evidence): both
documents' number, dates, total, channel and status, and a link to the earlier one; nothing for
an invoice without such a finding, and never another tenant's invoice."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from matching.models import Discrepancy
from review.duplicate_evidence import duplicate_evidence_read
from tests.web.conftest import Scenario

pytestmark = pytest.mark.django_db


def page(client: Client, invoice_id: object) -> str:
    return client.get(reverse("web:invoice-detail", kwargs={"invoice_id": invoice_id})).content.decode()


def test_a_possible_duplicate_shows_both_documents_and_links_the_earlier(clerk: Client, scenario: Scenario) -> None:
    finding = Discrepancy.objects.for_tenant(scenario.tenant).get(invoice=scenario.duplicate, type="possible_duplicate")
    assert (finding.type, finding.related_invoice_id) == ("possible_duplicate", scenario.original.pk)
    html = page(clerk, scenario.duplicate.pk)
    start = html.index('data-testid="duplicate-evidence"')
    evidence = html[start : html.index("</section>", start)]
    assert "Possible duplicate: the two documents side by side" in evidence
    assert "<code>INV-200-B</code>" in evidence and "<code>INV-200</code>" in evidence
    link = reverse("web:invoice-detail", kwargs={"invoice_id": scenario.original.pk})
    assert f'<a href="{link}" data-testid="evidence-link">' in evidence
    assert evidence.count("1,045.00 EUR") == 2 and "differs" not in evidence  # same total, same date
    assert "Pending review" in evidence and "Approved" in evidence


def test_an_invoice_without_a_duplicate_finding_shows_no_side_by_side(clerk: Client, scenario: Scenario) -> None:
    assert 'data-testid="duplicate-evidence"' not in page(clerk, scenario.price_mismatch.pk)


def test_a_finding_naming_another_tenants_invoice_shows_nothing_of_it(
    scenario: Scenario, foreign_scenario: Scenario
) -> None:
    """Defence in depth: matching only compares within a tenant, and the page reads the other
    invoice through the tenant's scope too."""
    stray = Discrepancy(type="possible_duplicate", related_invoice_id=foreign_scenario.original.pk)
    own = Discrepancy(type="possible_duplicate", related_invoice_id=scenario.original.pk)
    shown = duplicate_evidence_read(tenant=scenario.tenant, invoice=scenario.duplicate, discrepancies=[stray, own])
    assert [evidence.other.pk for evidence in shown] == [scenario.original.pk]
