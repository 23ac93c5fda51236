from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ReconSiteConfig(AppConfig):
    """The project itself as an app: start-up wiring that belongs to no domain app."""

    name = "recon_site"

    def ready(self) -> None:
        from django.contrib import admin

        from core.tracing import tracing_setup
        from recon_site.schedules import schedules_ensure
        from tenants.http.login_throttle import ThrottledAdminAuthenticationForm

        tracing_setup()
        # The admin's sign-in is limited like the web app's (tenants.http.login_throttle).
        admin.site.login_form = ThrottledAdminAuthenticationForm
        # The periodic jobs of every app, (re)declared after each migrate (recon_site.schedules).
        post_migrate.connect(schedules_ensure, sender=self, dispatch_uid="recon-schedules")
