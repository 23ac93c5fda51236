"""Reads of tenants."""

from __future__ import annotations

import uuid

from core.exceptions import NotFoundError
from tenants.models import Tenant

UNKNOWN_TENANT = "No tenant with id or slug {reference!r}."


def tenant_by_reference(reference: str) -> Tenant:
    """A tenant by UUID or slug (operator commands' `--tenant`)."""
    try:
        found = Tenant.objects.filter(pk=uuid.UUID(reference)).first()
    except ValueError:
        found = Tenant.objects.filter(slug=reference).first()
    if found is None:
        raise NotFoundError(UNKNOWN_TENANT.format(reference=reference))
    return found
