from __future__ import annotations

from django.apps import AppConfig


class ReconSiteConfig(AppConfig):
    """The project itself as an app: start-up wiring that belongs to no domain app."""

    name = "recon_site"

    def ready(self) -> None:
        from recon_site.tracing import tracing_setup

        tracing_setup()
