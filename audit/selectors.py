"""Reads of the audit log, always starting from the tenant."""

from __future__ import annotations

from audit.models import CHAIN_ORDER, AuditEvent
from core.tenancy.ref import TenantRef
from core.tenancy.scoping import TenantQuerySet


def audit_event_list(*, tenant: TenantRef) -> TenantQuerySet:
    return AuditEvent.objects.for_tenant(tenant)


def audit_events_for_entity(*, tenant: TenantRef, entity_type: str, entity_id: str) -> TenantQuerySet:
    """An entity's history, oldest first (the invoice timeline), events not sealed yet included."""
    return (
        audit_event_list(tenant=tenant).filter(entity_type=entity_type, entity_id=str(entity_id)).order_by(*CHAIN_ORDER)
    )
