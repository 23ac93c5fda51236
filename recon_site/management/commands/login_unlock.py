"""`manage.py login_unlock [--username NAME] [--ip ADDRESS]`: lift a sign-in lockout at once.

A lockout (tenants.http.login_throttle) ends by itself after LOGIN_COOLOFF_MINUTES; this is for the
clerk who cannot wait, once an operator has made sure the failed attempts were theirs.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.http.login_throttle import login_unlock

NOTHING_TO_UNLOCK = "Name an account (--username) or an address (--ip), or both."


class Command(BaseCommand):
    help = "Forget the failed sign-ins of an account and/or an address, lifting their lockout."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="", help="The account's username (case does not matter).")
        parser.add_argument("--ip", default="", help="The client address, as the app saw it.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["username"] and not options["ip"]:
            raise CommandError(NOTHING_TO_UNLOCK)
        login_unlock(username=options["username"], ip_address=options["ip"])
        unlocked = []
        if options["username"]:
            unlocked.append(f"account {options['username']!r}")
        if options["ip"]:
            unlocked.append(f"address {options['ip']}")
        self.stdout.write(f"Sign-in failures forgotten for {' and '.join(unlocked)}.")
