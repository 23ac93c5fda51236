"""Failed sign-ins are limited per account and per address, at /login and /admin/login/ (issue #15).

Before: 100 wrong passwords each on both doors all answered 200, and then the right one worked.
"""

from __future__ import annotations

import io
import logging
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from tenants.http.login_throttle import LOCKOUT_ACTION, LOGIN_LOCKED_OUT
from tenants.models import Role, Tenant
from tests.factories import MembershipFactory, TenantFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory's
LOCKED = LOGIN_LOCKED_OUT.format(wait="15 minutes")  # the defaults: 5 failures, 15 minutes
WRONG = "did not match"
WEB_LOGIN = "/login"
ADMIN_LOGIN = "/admin/login/"
CSRF_TOKEN = re.compile(r"\b[A-Za-z0-9]{64}\b")  # differs per page, whoever asks


def attempt(client: Client, username: str, password: str, door: str = WEB_LOGIN) -> tuple[int, str]:
    response = client.post(door, {"username": username, "password": password})
    return response.status_code, response.content.decode()


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def outcomes(client: Client, username: str, times: int, door: str = WEB_LOGIN) -> list[str]:
    """What each of `times` wrong passwords answered: "wrong", or "locked" with the message."""
    answers = []
    for _ in range(times):
        status, page = attempt(client, username, "not-the-password", door)
        if LOCKED in page:
            assert status == (429 if door == WEB_LOGIN else 200), status
            answers.append("locked")
        else:
            assert status == 200, status
            answers.append("wrong")
    return answers


def cooloff_over() -> None:
    """As if LOGIN_COOLOFF_MINUTES had passed: every counting window ends now. Written on a
    connection of its own, as the counters are (core.rate_counters), not in the test's."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("UPDATE recon_site_ratecounter SET window_ends = now() - interval '1 second'")
    finally:
        other.close()


@pytest.fixture
def carla(tenant: Tenant) -> str:
    return MembershipFactory(tenant=tenant, user=UserFactory(username="carla"), role=Role.CLERK).user.username


def test_five_wrong_passwords_lock_the_account_and_then_even_the_right_one_is_refused(carla: str) -> None:
    client = Client(REMOTE_ADDR="203.0.113.20")
    assert outcomes(client, carla, 6) == ["wrong"] * 4 + ["locked"] * 2

    status, page = attempt(client, carla, PASSWORD)
    assert status == 429 and LOCKED in page and WRONG not in page
    assert not signed_in(client)
    # The account is locked, not the browser: another address gets the same answer.
    status, page = attempt(Client(REMOTE_ADDR="198.51.100.20"), carla, PASSWORD)
    assert status == 429 and LOCKED in page


def test_the_admin_login_is_limited_the_same_way() -> None:
    UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client(REMOTE_ADDR="203.0.113.21")
    assert outcomes(client, "root", 6, door=ADMIN_LOGIN) == ["wrong"] * 4 + ["locked"] * 2

    page = attempt(client, "root", PASSWORD, door=ADMIN_LOGIN)[1]
    assert LOCKED in page and not signed_in(client)
    # The two doors share the count: the web app's login is refused too.
    assert attempt(client, "root", PASSWORD)[0] == 429


def test_other_accounts_from_other_addresses_are_unaffected(carla: str, tenant: Tenant) -> None:
    dora = MembershipFactory(tenant=tenant, user=UserFactory(username="dora"), role=Role.CLERK).user.username
    outcomes(Client(REMOTE_ADDR="203.0.113.22"), carla, 5)

    elsewhere = Client(REMOTE_ADDR="198.51.100.22")
    assert attempt(elsewhere, dora, PASSWORD)[0] == 302 and signed_in(elsewhere)
    # Five failures from an address are under its limit: a colleague behind it signs in too.
    same_office = Client(REMOTE_ADDR="203.0.113.22")
    assert attempt(same_office, dora, PASSWORD)[0] == 302 and signed_in(same_office)


def test_an_unknown_username_is_answered_and_locked_exactly_like_a_known_one(carla: str) -> None:
    known = [attempt(Client(REMOTE_ADDR="203.0.113.23"), carla, "guess") for _ in range(7)]
    unknown = [attempt(Client(REMOTE_ADDR="203.0.113.24"), "nobody-here", "guess") for _ in range(7)]

    # The page echoes the username typed; beyond it, not a byte differs.
    def without_name(page: str, name: str) -> str:
        return page.replace(name, "NAME")

    assert [status for status, _ in known] == [status for status, _ in unknown] == [200] * 4 + [429] * 3
    for (_, known_page), (_, unknown_page) in zip(known, unknown, strict=True):
        known_page, unknown_page = without_name(known_page, carla), without_name(unknown_page, "nobody-here")
        assert CSRF_TOKEN.sub("", known_page) == CSRF_TOKEN.sub("", unknown_page)


def test_one_address_trying_many_accounts_is_locked_out(settings: object, carla: str) -> None:
    settings.LOGIN_IP_FAILURE_LIMIT = 4  # type: ignore[attr-defined]
    sprayer = Client(REMOTE_ADDR="203.0.113.25")
    answers = [attempt(sprayer, f"user{n}", "Summer2026!")[0] for n in range(5)]
    assert answers == [200, 200, 200, 429, 429]

    status, page = attempt(sprayer, carla, PASSWORD)
    assert status == 429 and LOCKED in page and not signed_in(sprayer)
    # Carla's own account is not locked: from her address she signs in.
    assert attempt(Client(REMOTE_ADDR="198.51.100.25"), carla, PASSWORD)[0] == 302


def test_a_lockout_is_one_audit_event_in_each_tenant_of_the_user(tenant: Tenant, other_tenant: Tenant) -> None:
    user = MembershipFactory(tenant=tenant, user=UserFactory(username="Ed")).user
    MembershipFactory(tenant=other_tenant, user=user)
    bystander = TenantFactory(name="Bystander Ltd")

    outcomes(Client(REMOTE_ADDR="203.0.113.26"), "ed", 8)  # the count is case-blind, and so is the lookup

    events = AuditEvent.objects.unscoped().filter(action=LOCKOUT_ACTION)
    # One per lockout and tenant, not one per refused attempt.
    assert sorted(str(event.tenant_id) for event in events) == sorted([str(tenant.pk), str(other_tenant.pk)])
    for event in events:
        assert (event.entity_type, event.entity_id, event.actor_kind) == ("user", str(user.pk), "system")
        assert event.after["username"] == "Ed"
        assert event.after["ip_address"] == "203.0.113.26"
        assert event.after["failed_attempts"] == 5
        assert event.after["locked_until"] > event.occurred_at.isoformat()
    assert not AuditEvent.objects.for_tenant(bystander).filter(action=LOCKOUT_ACTION).exists()


def test_an_unknown_username_lockout_is_logged_and_audited_nowhere(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="tenants.http.login_throttle"):
        outcomes(Client(REMOTE_ADDR="203.0.113.27"), "ghost", 5)
    [record] = [r for r in caplog.records if r.name == "tenants.http.login_throttle"]
    assert record.username == "ghost" and record.ip_address == "203.0.113.27"  # type: ignore[attr-defined]
    assert record.lockout_scope == "account"  # type: ignore[attr-defined]
    assert not AuditEvent.objects.unscoped().filter(action=LOCKOUT_ACTION).exists()


def test_the_lockout_ends_when_the_cooloff_is_over(carla: str) -> None:
    client = Client(REMOTE_ADDR="203.0.113.28")
    outcomes(client, carla, 5)
    assert attempt(client, carla, PASSWORD)[0] == 429

    cooloff_over()

    assert attempt(client, carla, PASSWORD)[0] == 302 and signed_in(client)


def test_the_right_password_forgets_the_accounts_failures(carla: str) -> None:
    client = Client(REMOTE_ADDR="203.0.113.29")
    assert outcomes(client, carla, 4) == ["wrong"] * 4
    assert attempt(client, carla, PASSWORD)[0] == 302
    client.post(reverse("web:logout"))
    # Eight failures in the window, but four since the success: not locked.
    assert outcomes(client, carla, 4) == ["wrong"] * 4


def test_an_operator_lifts_a_lockout_at_once(carla: str) -> None:
    client = Client(REMOTE_ADDR="203.0.113.30")
    outcomes(client, carla, 5)
    assert attempt(client, carla, PASSWORD)[0] == 429

    with pytest.raises(CommandError, match="Name an account"):
        call_command("login_unlock")
    out = io.StringIO()
    call_command("login_unlock", "--username", "CARLA", stdout=out)

    assert "account 'CARLA'" in out.getvalue()
    assert attempt(client, carla, PASSWORD)[0] == 302 and signed_in(client)


@pytest.mark.django_db(transaction=True)
def test_attempts_in_flight_together_never_check_more_passwords_than_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Twelve wrong passwords for one account sent at once: each is counted before its password is
    checked, so however they interleave at most LOGIN_FAILURE_LIMIT (5) passwords are checked.
    (Checked first and counted after, all twelve passed the check before any failure was counted.)"""
    import threading
    import time

    from django.contrib.auth import forms as auth_forms

    from tests.threads import in_thread

    tenant = TenantFactory()
    username = MembershipFactory(tenant=tenant, user=UserFactory(username="dora"), role=Role.CLERK).user.username
    checked: list[str] = []
    lock = threading.Lock()
    real_authenticate = auth_forms.authenticate

    def slow_authenticate(request, **credentials):  # type: ignore[no-untyped-def]
        with lock:
            checked.append(credentials["username"])
        time.sleep(0.3)  # every attempt is in flight while the others arrive
        return real_authenticate(request, **credentials)

    monkeypatch.setattr(auth_forms, "authenticate", slow_authenticate)
    results: list[tuple[int, str]] = []
    errors: list[BaseException] = []
    threads = [
        in_thread(lambda: attempt(Client(REMOTE_ADDR="203.0.113.77"), username, "wrong"), results, errors)
        for _ in range(12)
    ]
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert len(checked) <= 5
    assert sum(LOCKED in page for _, page in results) >= 7
