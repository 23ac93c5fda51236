from __future__ import annotations

from django.apps import AppConfig


class SourceFilesConfig(AppConfig):
    name = "source_files"
    verbose_name = "Imported files"
    default_auto_field = "django.db.models.BigAutoField"
