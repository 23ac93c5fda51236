"""The services behind the settings pages: each change is audited with its values before and after
in the same transaction; the last active administrator keeps the role; a deactivated member no
longer works in the tenant; amount limits are per currency, in its minor units, and the old
tenant-wide limits were carried over without changing a decision."""

from __future__ import annotations

import importlib
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from audit.models import AuditEvent
from core.amount_limits import amount_limits_default
from core.exceptions import DocumentInvalid, DuplicateDocument
from tenants.authentication import memberships_of
from tenants.models import CurrencyLimit, Membership, Role, Tenant
from tenants.selectors import amount_limits_for
from tenants.services import (
    LAST_ADMIN,
    USERNAME_TAKEN,
    currency_limit_delete,
    currency_limit_save,
    membership_active_set,
    membership_grant,
    tenant_settings_update,
    user_invite,
)
from tests.factories import TEST_ACTOR, MembershipFactory, VendorFactory
from vendors.services import vendor_tolerances_update

pytestmark = pytest.mark.django_db

MIGRATION = importlib.import_module("tenants.migrations.0006_currency_limits_and_inactive_members")


def _events(tenant: Tenant, entity_type: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.for_tenant(tenant).filter(entity_type=entity_type).order_by("xid", "append_seq"))


# --- amount limits per currency --------------------------------------------------------------


def test_limits_are_saved_per_currency_in_minor_units_and_audited(tenant: Tenant) -> None:
    limits = {"auto_approve_below": 15_000, "escalate_from": 1_500_000, "write_off_max": 500}
    currency_limit_save(tenant=tenant, actor=TEST_ACTOR, currency="jpy", price_tolerance_floor=Decimal("1"), **limits)
    currency_limit_save(
        tenant=tenant,
        actor=TEST_ACTOR,
        currency="JPY",
        price_tolerance_floor=Decimal("1"),
        **{**limits, "auto_approve_below": 20_000},
    )

    created, updated = _events(tenant, "currency_limit")
    assert (created.action, created.before) == ("created", None)
    assert created.after["auto_approve_below"] == 15_000 and created.after["currency"] == "JPY"
    assert updated.action == "updated"
    assert (updated.before["auto_approve_below"], updated.after["auto_approve_below"]) == (15_000, 20_000)
    read = amount_limits_for(tenant=tenant, currencies=["JPY", "BHD"])
    assert (read["JPY"].auto_approve_below, read["JPY"].is_default) == (20_000, False)
    assert read["BHD"] == amount_limits_default(currency="BHD")  # 100.000 dinar: 100000 fils


def test_saving_the_same_limits_again_records_nothing(tenant: Tenant) -> None:
    values = {"auto_approve_below": 1, "escalate_from": 2, "write_off_max": 3, "price_tolerance_floor": Decimal("0")}
    currency_limit_save(tenant=tenant, actor=TEST_ACTOR, currency="EUR", **values)
    currency_limit_save(tenant=tenant, actor=TEST_ACTOR, currency="EUR", **values)
    assert len(_events(tenant, "currency_limit")) == 1


def test_a_negative_limit_or_an_unknown_currency_is_refused_beside_its_field(tenant: Tenant) -> None:
    values = {"auto_approve_below": -1, "escalate_from": 2, "write_off_max": 3, "price_tolerance_floor": Decimal("0")}
    with pytest.raises(DocumentInvalid) as refused:
        currency_limit_save(tenant=tenant, actor=TEST_ACTOR, currency="EUR", **values)
    assert set(refused.value.details) == {"auto_approve_below"}
    with pytest.raises(DocumentInvalid) as unknown:
        currency_limit_save(tenant=tenant, actor=TEST_ACTOR, currency="XXQ", **{**values, "auto_approve_below": 1})
    assert set(unknown.value.details) == {"currency"}
    assert not CurrencyLimit.objects.for_tenant(tenant).exists()


def test_the_database_refuses_a_negative_limit_whoever_writes_it(tenant: Tenant) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        CurrencyLimit.objects.create(
            tenant=tenant, currency="EUR", auto_approve_below=-5, escalate_from=0, write_off_max=0
        )


def test_deleting_a_currencys_limits_restores_the_defaults_and_is_audited(tenant: Tenant) -> None:
    values = {"auto_approve_below": 1, "escalate_from": 2, "write_off_max": 3, "price_tolerance_floor": Decimal("0")}
    currency_limit_save(tenant=tenant, actor=TEST_ACTOR, currency="USD", **values)
    currency_limit_delete(tenant=tenant, actor=TEST_ACTOR, currency="USD")
    assert amount_limits_for(tenant=tenant, currencies=["USD"])["USD"].is_default
    deleted = _events(tenant, "currency_limit")[-1]
    assert (deleted.action, deleted.before["auto_approve_below"], deleted.after) == ("deleted", 1, None)


def test_a_tenants_limits_are_its_own(tenant: Tenant, other_tenant: Tenant) -> None:
    values = {"auto_approve_below": 1, "escalate_from": 2, "write_off_max": 3, "price_tolerance_floor": Decimal("0")}
    currency_limit_save(tenant=tenant, actor=TEST_ACTOR, currency="EUR", **values)
    assert amount_limits_for(tenant=other_tenant, currencies=["EUR"])["EUR"].is_default


@pytest.mark.parametrize(
    ("old", "currency", "carried"),
    [
        # The defaults: 100 meant EUR 100.00, JPY 100 and BHD 100.000 alike; each keeps its meaning.
        ((Decimal("100.000"), Decimal("10000.000"), Decimal("5.000")), "EUR", (100_00, 10_000_00, 5_00)),
        ((Decimal("100.000"), Decimal("10000.000"), Decimal("5.000")), "JPY", (100, 10_000, 5)),
        ((Decimal("100.000"), Decimal("10000.000"), Decimal("5.000")), "BHD", (100_000, 10_000_000, 5_000)),
        # Rounded as the engine rounded them (half up) and the write-off as reconciliation did (down).
        ((Decimal("250.500"), Decimal("999.995"), Decimal("5.009")), "JPY", (251, 1_000, 5)),
        ((Decimal("250.500"), Decimal("999.995"), Decimal("5.009")), "EUR", (250_50, 1_000_00, 5_00)),
    ],
)
def test_the_migration_carries_each_old_limit_into_each_currency_unchanged(
    old: tuple[Decimal, Decimal, Decimal], currency: str, carried: tuple[int, int, int]
) -> None:
    stored = SimpleNamespace(
        auto_approve_max=old[0], escalate_from=old[1], write_off_max_abs=old[2], price_tolerance_abs=Decimal("0.05")
    )
    limits = MIGRATION.carried_limits(stored=stored, currency=currency)
    assert (limits["auto_approve_below"], limits["escalate_from"], limits["write_off_max"]) == carried
    assert limits["price_tolerance_floor"] == Decimal("0.05")


# --- users and roles -------------------------------------------------------------------------


def test_an_invited_user_has_a_role_a_password_shown_once_and_an_audit_event(tenant: Tenant) -> None:
    membership, password = user_invite(
        tenant=tenant, actor=TEST_ACTOR, username="nora", email="nora@example.com", role=Role.CLERK
    )
    user = get_user_model().objects.get(username="nora")
    assert user.check_password(password) and user.password != password  # stored hashed
    assert (membership.role, membership.is_active, memberships_of(user)) == (Role.CLERK, True, [membership])
    [event] = _events(tenant, "membership")
    assert (event.action, event.after["username"], event.after["role"]) == ("invited", "nora", "clerk")
    assert password not in str(event.after)


def test_an_invitation_refuses_a_taken_or_malformed_user_name(tenant: Tenant) -> None:
    taken = MembershipFactory(tenant=tenant).user.get_username()
    with pytest.raises(DuplicateDocument) as refused:
        user_invite(tenant=tenant, actor=TEST_ACTOR, username=taken.upper(), email="", role=Role.CLERK)
    assert refused.value.details == {"username": [USERNAME_TAKEN.format(username=taken.upper())]}
    with pytest.raises(DocumentInvalid) as malformed:
        user_invite(tenant=tenant, actor=TEST_ACTOR, username="no spaces", email="not-an-email", role=Role.CLERK)
    assert set(malformed.value.details) == {"username", "email"}
    with pytest.raises(DocumentInvalid) as role:
        user_invite(tenant=tenant, actor=TEST_ACTOR, username="valid", email="", role="owner")
    assert set(role.value.details) == {"role"}
    assert not get_user_model().objects.filter(username="valid").exists()


def test_a_role_change_is_audited_with_before_and_after(tenant: Tenant) -> None:
    MembershipFactory(tenant=tenant, role=Role.ADMIN)
    clerk = MembershipFactory(tenant=tenant, role=Role.CLERK)
    membership_grant(tenant=tenant, user=clerk.user, actor=TEST_ACTOR, role=Role.APPROVER)
    [event] = _events(tenant, "membership")
    assert (event.action, event.before, event.after["role"]) == ("role_changed", {"role": "clerk"}, "approver")


def test_the_last_active_admin_can_neither_be_demoted_nor_deactivated(tenant: Tenant) -> None:
    admin = MembershipFactory(tenant=tenant, role=Role.ADMIN)
    MembershipFactory(tenant=tenant, role=Role.ADMIN, is_active=False)  # a deactivated admin does not count
    message = LAST_ADMIN.format(username=admin.user.get_username())
    with pytest.raises(DocumentInvalid, match=message):
        membership_grant(tenant=tenant, user=admin.user, actor=TEST_ACTOR, role=Role.CLERK)
    with pytest.raises(DocumentInvalid, match=message):
        membership_active_set(tenant=tenant, actor=TEST_ACTOR, membership=admin, is_active=False)
    admin.refresh_from_db()
    assert (admin.role, admin.is_active) == (Role.ADMIN, True)
    assert not _events(tenant, "membership")


def test_with_a_second_admin_one_may_step_down(tenant: Tenant, other_tenant: Tenant) -> None:
    admin = MembershipFactory(tenant=tenant, role=Role.ADMIN)
    MembershipFactory(tenant=tenant, role=Role.ADMIN)
    MembershipFactory(tenant=other_tenant, role=Role.ADMIN)  # another tenant's admin is not ours
    membership_grant(tenant=tenant, user=admin.user, actor=TEST_ACTOR, role=Role.APPROVER)
    assert Membership.objects.for_tenant(tenant).get(pk=admin.pk).role == Role.APPROVER


def test_a_deactivated_member_no_longer_works_in_the_tenant_and_can_come_back(tenant: Tenant) -> None:
    MembershipFactory(tenant=tenant, role=Role.ADMIN)
    clerk = MembershipFactory(tenant=tenant, role=Role.CLERK)

    membership_active_set(tenant=tenant, actor=TEST_ACTOR, membership=clerk, is_active=False)
    assert memberships_of(clerk.user) == []
    membership_active_set(tenant=tenant, actor=TEST_ACTOR, membership=clerk, is_active=True)
    assert memberships_of(clerk.user) == [clerk]

    deactivated, reactivated = _events(tenant, "membership")
    assert (deactivated.action, deactivated.before["is_active"], deactivated.after["is_active"]) == (
        "deactivated",
        True,
        False,
    )
    assert reactivated.action == "reactivated"


# --- matching settings and vendor overrides --------------------------------------------------


def test_a_settings_change_records_only_what_changed(tenant: Tenant) -> None:
    tenant_settings_update(
        tenant=tenant, actor=TEST_ACTOR, price_tolerance_pct=Decimal("3"), reject_on=["duplicate_invoice"]
    )
    [event] = _events(tenant, "tenant_settings")
    assert (event.before, event.after) == ({"price_tolerance_pct": "2.000"}, {"price_tolerance_pct": "3.000"})


def test_a_vendor_override_is_audited_and_cleared_by_none(tenant: Tenant) -> None:
    vendor = VendorFactory(tenant=tenant)
    vendor_tolerances_update(
        tenant=tenant, vendor=vendor, actor=TEST_ACTOR, price_tolerance_pct=Decimal("5"), quantity_tolerance_pct=None
    )
    vendor_tolerances_update(
        tenant=tenant, vendor=vendor, actor=TEST_ACTOR, price_tolerance_pct=None, quantity_tolerance_pct=None
    )
    set_event, cleared_event = _events(tenant, "vendor")
    assert (set_event.action, set_event.before["price_tolerance_pct"], set_event.after["price_tolerance_pct"]) == (
        "tolerance_changed",
        None,
        "5.000",
    )
    assert (cleared_event.before["price_tolerance_pct"], cleared_event.after["price_tolerance_pct"]) == ("5.000", None)
    with pytest.raises(DocumentInvalid):
        vendor_tolerances_update(
            tenant=tenant,
            vendor=vendor,
            actor=TEST_ACTOR,
            price_tolerance_pct=Decimal("-1"),
            quantity_tolerance_pct=None,
        )
