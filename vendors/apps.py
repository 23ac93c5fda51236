from __future__ import annotations

from django.apps import AppConfig


class VendorsConfig(AppConfig):
    name = "vendors"
    default_auto_field = "django.db.models.BigAutoField"
