from __future__ import annotations

from django.apps import AppConfig


class ReconSiteConfig(AppConfig):
    """The project itself as an app: start-up wiring that belongs to no domain app."""

    name = "recon_site"

    def ready(self) -> None:
        from django.contrib import admin

        from core.tracing import tracing_setup
        from tenants.http.login_throttle import ThrottledAdminAuthenticationForm

        tracing_setup()
        # The admin's sign-in is limited like the web app's (tenants.http.login_throttle).
        admin.site.login_form = ThrottledAdminAuthenticationForm
