"""`--tenant` for operator commands: an id or a slug, or a clear error."""

from __future__ import annotations

from django.core.management.base import CommandError

from core.exceptions import NotFoundError
from tenants.models import Tenant
from tenants.selectors import tenant_by_reference


def tenant_option(reference: str) -> Tenant:
    try:
        return tenant_by_reference(reference)
    except NotFoundError as exc:
        raise CommandError(exc.message) from exc
