from __future__ import annotations

from django.apps import AppConfig


class ReconSiteConfig(AppConfig):
    """The project itself as an app: start-up wiring that belongs to no domain app."""

    name = "recon_site"

    def ready(self) -> None:
        from django.contrib import admin

        from recon_site.login_throttle import ThrottledAdminAuthenticationForm
        from recon_site.tracing import tracing_setup

        tracing_setup()
        # The admin's sign-in is limited like the web app's (recon_site.login_throttle).
        admin.site.login_form = ThrottledAdminAuthenticationForm
