"""Failed sign-ins are limited per account and per IP address, at both doors: the web app's
`/login` and the admin's `/admin/login/` (their forms mix in `ThrottledLoginFormMixin`).

`LOGIN_FAILURE_LIMIT` failed attempts on one account (from anywhere), or `LOGIN_IP_FAILURE_LIMIT`
from one address (on any accounts), within `LOGIN_COOLOFF_MINUTES` of the first one, and further
attempts are refused — the right password too, and without checking it — until those minutes are
over. The account limit stops guessing one password from many addresses; the address limit,
higher because an office shares one, stops trying one password on many accounts.

No user enumeration: an unknown username is counted, limited and answered exactly as a known
one with a wrong password (same message, same limit, same lockout). Only what is recorded
differs, and the caller never sees it: a lockout of an account that is a member of tenants is an
audit event in each of those tenants (`user` / `login.locked_out`); every lockout — an unknown
name, a user with no membership, an address — is a warning in the structured log.

The counts live in PostgreSQL (`core.rate_counters`' database store) even where Redis
holds the API's counters: signing in needs the database anyway, so the limit cannot fail open
while sign-in works, and a Redis restart does not lift a lockout.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
from typing import Any

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from audit.services import audit_record
from core.actors import system_actor
from core.rate_counters import (
    DATABASE,
    Count,
    rate_counter_clear,
    rate_counter_hit,
    rate_counter_take_back,
)
from tenants.authentication import memberships_of
from tenants.http.throttling import client_ip

logger = logging.getLogger(__name__)

LOGIN_LOCKED_OUT = "Too many failed sign-in attempts. Try again in {wait}."
LOCKED_OUT_CODE = "locked_out"
LOCKOUT_ACTION = "login.locked_out"
LOGIN_THROTTLE_ACTOR = system_actor("login_throttle")


class LoginLockedOut(Exception):
    def __init__(self, resets_in: float) -> None:
        self.minutes = max(1, math.ceil(resets_in / 60))
        wait = "1 minute" if self.minutes == 1 else f"{self.minutes} minutes"
        super().__init__(LOGIN_LOCKED_OUT.format(wait=wait))
        self.message = str(self)


def _account_key(username: str) -> str:
    # Case-folded, so "Carla" and "CARLA" spend the same budget as "carla"; hashed, so the key has
    # a fixed length and the table holds no text a caller typed.
    digest = hashlib.sha256(username.strip().casefold().encode()).hexdigest()
    return f"login_account_{digest}"


def _ip_key(request: HttpRequest) -> str:
    return _address_key(client_ip(request))


def _address_key(ip_address: str) -> str:
    return f"login_ip_{ip_address}"


def _limits(request: HttpRequest, username: str) -> list[tuple[str, int]]:
    return [
        (_account_key(username), settings.LOGIN_FAILURE_LIMIT),
        (_ip_key(request), settings.LOGIN_IP_FAILURE_LIMIT),
    ]


def login_attempt_count(*, request: HttpRequest, username: str) -> list[tuple[str, int, Count]]:
    """Count a sign-in attempt against the account and the address *before* its password is
    checked; raise `LoginLockedOut` if either was already at its limit. Returns this attempt's
    counts, (scope, limit, count) per key, for `login_failure_record`.

    Counted first, atomically, so requests in flight together cannot all pass a check that read
    the count before any of them failed: however many arrive at once, at most the limit's worth
    of passwords is ever checked in a window. A right password takes its count back
    (`login_success_record`); a wrong one leaves it (`login_failure_record`).
    """
    window = settings.LOGIN_COOLOFF_MINUTES * 60
    counts = [
        (scope, limit, rate_counter_hit(key=key, window_seconds=window, store=DATABASE))
        for (key, limit), scope in zip(_limits(request, username), ("account", "ip_address"), strict=True)
    ]
    if waits := [count.resets_in for _, limit, count in counts if count.hits > limit]:
        raise LoginLockedOut(max(waits))
    return counts


def login_failure_record(*, request: HttpRequest, username: str, counts: list[tuple[str, int, Count]]) -> None:
    """A counted attempt had the wrong password (or no such user): if its count was the one that
    reached a limit, record the lockout (once per lockout: only one attempt holds that count) and
    raise `LoginLockedOut`."""
    waits = []
    for scope, limit, count in counts:
        if count.hits == limit:
            _lockout_record(request=request, username=username, scope=scope, count=count)
            waits.append(count.resets_in)
    if waits:
        raise LoginLockedOut(max(waits))


def login_success_record(*, request: HttpRequest, username: str) -> None:
    """The right password: the account's failures are forgotten, and this attempt no longer
    counts against the address (its earlier failures still do)."""
    rate_counter_clear(key=_account_key(username), store=DATABASE)
    rate_counter_take_back(key=_ip_key(request), store=DATABASE)


def login_unlock(*, username: str = "", ip_address: str = "") -> None:
    """Forget the failures of an account and/or an address at once (`manage.py login_unlock`),
    for a clerk who must not wait out the lockout."""
    if username:
        rate_counter_clear(key=_account_key(username), store=DATABASE)
    if ip_address:
        rate_counter_clear(key=_address_key(ip_address), store=DATABASE)
    logger.warning(
        "Sign-in unlocked by an operator", extra={"username": username or None, "ip_address": ip_address or None}
    )


def _lockout_record(*, request: HttpRequest, username: str, scope: str, count: Count) -> None:
    ip_address = client_ip(request)
    locked_until = timezone.now() + dt.timedelta(seconds=count.resets_in)
    details: dict[str, Any] = {
        "ip_address": ip_address,
        "failed_attempts": count.hits,
        "locked_until": locked_until.isoformat(),
    }
    logger.warning(
        "Sign-in locked: too many failed attempts for this %s",
        "account" if scope == "account" else "address",
        extra={"lockout_scope": scope, "username": username, **details},
    )
    if scope != "account":
        return  # an address belongs to no tenant
    # Every user the attempts could have been aimed at (the count is case-blind, as is this).
    users = get_user_model().objects.filter(username__iexact=username.strip())
    for user in users:
        for membership in memberships_of(user):
            with transaction.atomic():
                audit_record(
                    tenant=membership.tenant,
                    actor=LOGIN_THROTTLE_ACTOR,
                    entity_type="user",
                    entity_id=user.pk,
                    action=LOCKOUT_ACTION,
                    after={"username": user.get_username(), **details},
                )


class ThrottledLoginFormMixin:
    """For a Django `AuthenticationForm`: refuse while locked out, count failures, forget them
    on success. `locked_out_message` is set when the answer is a lockout (the template shows it
    instead of the wrong-password text)."""

    request: HttpRequest | None
    cleaned_data: dict[str, Any]
    locked_out_message = ""

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if self.request is None or username is None or not password:
            return super().clean()  # type: ignore[misc]  (a field error: nothing was tried)
        try:
            counts = login_attempt_count(request=self.request, username=username)
            try:
                cleaned: dict[str, Any] = super().clean()  # type: ignore[misc]
            except ValidationError:
                if self.get_user() is None:  # type: ignore[attr-defined]  (no such user, or the wrong password)
                    login_failure_record(request=self.request, username=username, counts=counts)
                raise
        except LoginLockedOut as lockout:
            self.locked_out_message = lockout.message
            raise ValidationError(lockout.message, code=LOCKED_OUT_CODE) from None
        login_success_record(request=self.request, username=username)
        return cleaned


class ThrottledAuthenticationForm(ThrottledLoginFormMixin, AuthenticationForm):
    """The web app's sign-in form (tenants.views.LoginView)."""


class ThrottledAdminAuthenticationForm(ThrottledLoginFormMixin, AdminAuthenticationForm):
    """The admin's sign-in form (`admin.site.login_form`, set in recon_site.apps)."""
