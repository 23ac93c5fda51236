"""`manage.py publish_events`: drain the outbox to NATS once (the schedule does it every minute)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from audit.tasks import publish_outbox


class Command(BaseCommand):
    help = "Publish queued outbox events to NATS JetStream now."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(publish_outbox())
