from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AuditConfig(AppConfig):
    name = "audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core.schedules import schedules_ensure

        post_migrate.connect(schedules_ensure, sender=self, dispatch_uid="recon-schedules")
