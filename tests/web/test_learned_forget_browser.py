"""In Chromium, what Recon learned is reversible: an approver forgets a learned item wording and a
vendor name; an administrator declines one vendor's tolerance suggestion and undoes another's
accepted rule (the vendor's tolerance goes back); each leaves the page saying so."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from core.actors import Actor
from learning.models import DecisionExample, ItemAlias, ToleranceSuggestion
from learning.services import tolerance_suggestion_accept
from tenants.models import Role
from tests.factories import MembershipFactory, TenantFactory, UserFactory, VendorAliasFactory, VendorFactory
from tests.web.browser import chromium_page, log_in

pytestmark = pytest.mark.django_db(transaction=True)


def suggestion(tenant: Any, vendor: Any) -> ToleranceSuggestion:
    return ToleranceSuggestion.objects.create(
        tenant=tenant, vendor=vendor, low_pct=Decimal("2.5"), high_pct=Decimal("2.9"), proposed_pct=Decimal("2.9"),
        approvals=5, window_days=60,
        evidence=[{"invoice_number": "INV-1", "pct": "2.5", "by": "bea", "on": "2026-12-01"}],
    )  # fmt: skip


def test_an_approver_forgets_and_an_admin_declines_and_undoes(
    live_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    tenant = TenantFactory(name="Acme Manufacturing")
    admin = MembershipFactory(tenant=tenant, user=UserFactory(username="ada-admin"), role=Role.ADMIN).user
    MembershipFactory(tenant=tenant, user=UserFactory(username="bea-approver"), role=Role.APPROVER)
    acme = VendorFactory(tenant=tenant, name="Acme Supplies Ltd")
    nordic = VendorFactory(tenant=tenant, name="Nordic Freight AB", price_tolerance_pct=Decimal("1"))
    example = DecisionExample.objects.create(
        tenant=tenant, kind="approve", vendor=acme, actor_kind="user", actor_id="1", actor_label="bea-approver"
    )
    ItemAlias.objects.create(
        tenant=tenant, vendor=acme, invoice_text="Box of 100 nitrile gloves (M)", invoice_key="text:box",
        po_item_text="Nitrile gloves size M, box of 100", po_item_key="text:nitrile", example=example,
        learned_by_label="bea-approver",
    )  # fmt: skip
    VendorAliasFactory(tenant=tenant, vendor=acme, alias="ACME TRADING")
    suggestion(tenant, acme)
    accepted = tolerance_suggestion_accept(
        tenant=tenant, suggestion=suggestion(tenant, nordic), actor=Actor("user", str(admin.pk), "ada-admin")
    )
    assert accepted.vendor.price_tolerance_pct == Decimal("2.9")

    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "bea-approver")
        page.get_by_role("link", name="What Recon learned").click()
        page.wait_for_url(re.compile(r"/app/learned$"))
        page.get_by_text("An administrator accepts or declines it.").wait_for()
        page.get_by_test_id("item-alias").get_by_role("button", name="Forget").click()
        page.get_by_text("Forgotten: Box of 100 nitrile gloves (M) → Nitrile gloves size M, box of 100.").wait_for()
        page.get_by_test_id("item-alias").get_by_text("forgotten by bea-approver").wait_for()
        page.get_by_test_id("vendor-alias").get_by_role("button", name="Forget").click()
        page.get_by_text("Forgotten: ACME TRADING as a name of Acme Supplies Ltd.").wait_for()
        assert page.console_errors == []

    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "ada-admin")
        page.goto("/app/learned")
        page.get_by_test_id("suggestion").get_by_role("button", name="Decline").click()
        page.get_by_text("Declined: Acme Supplies Ltd's tolerance stays as it is").wait_for()
        page.get_by_test_id("decided-suggestion").filter(has_text="Nordic Freight AB").get_by_role(
            "button", name="Undo"
        ).click()
        page.get_by_text("Undone: Nordic Freight AB's price tolerance is back to 1 %.").wait_for()
        assert page.console_errors == []

    nordic.refresh_from_db()
    assert nordic.price_tolerance_pct == Decimal("1")
    assert sorted(ToleranceSuggestion.objects.for_tenant(tenant).values_list("status", flat=True)) == [
        "declined", "undone"
    ]  # fmt: skip
