from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _after_migrate(sender: AppConfig, using: str, plan: Any = None, **kwargs: Any) -> None:
    # `flush` (between transactional tests) sends post_migrate without a plan: the schema did
    # not change, so neither do the policies and grants.
    if plan is None:
        return
    from audit.fields import CHAIN_FIELDS
    from audit.models import AuditEvent
    from core.tenancy.rls import rls_install

    # An audit event's chain columns are set once, when it is sealed (audit.sealer).
    rls_install(using, settable={AuditEvent._meta.db_table: CHAIN_FIELDS})


class TenantsConfig(AppConfig):
    name = "tenants"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tenants import schema  # noqa: F401  (registers the OpenAPI auth extensions)

        # Sent once per app; the tenants app's turn comes after every migration has run.
        post_migrate.connect(_after_migrate, sender=self, dispatch_uid="tenants.rls_install")
