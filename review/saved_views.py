"""A clerk's saved views of the invoice list: reads and writes, each write audited in its own
transaction. A view belongs to one user in one tenant; anyone else asking for it — a colleague,
another tenant's user — is told it does not exist (`NotFoundError`, a 404)."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import IntegrityError, transaction

from audit.services import audit_record
from core.actors import Actor
from core.exceptions import DocumentInvalid, DuplicateDocument, NotFoundError
from core.tenancy.scoping import TenantQuerySet
from review.models import SAVED_VIEW_NAME_MAX, SAVED_VIEW_QUERY_MAX, SavedInvoiceView
from tenants.models import Tenant

SAVED_VIEW_ENTITY = "saved_invoice_view"
NAME_REQUIRED = "Give the view a name."
NAME_TOO_LONG = f"A view's name is at most {SAVED_VIEW_NAME_MAX} characters."
NAME_TAKEN = "You already have a view named {name!r}: choose another name, or rename or delete that one."
QUERY_TOO_LONG = "These filters are too many to save as one view."
NOT_FOUND = "No such saved view."


def _clean_name(name: str) -> str:
    cleaned = " ".join((name or "").split())
    if not cleaned:
        raise DocumentInvalid(NAME_REQUIRED, details={"name": [NAME_REQUIRED]})
    if len(cleaned) > SAVED_VIEW_NAME_MAX:
        raise DocumentInvalid(NAME_TOO_LONG, details={"name": [NAME_TOO_LONG]})
    return cleaned


def saved_view_list(*, tenant: Tenant, user: Any) -> TenantQuerySet:
    """The user's own views in the tenant, by name."""
    return SavedInvoiceView.objects.for_tenant(tenant).filter(user=user).order_by("name", "id")


def saved_view_get(*, tenant: Tenant, user: Any, saved_view_id: uuid.UUID) -> SavedInvoiceView:
    """The user's view, or `NotFoundError` for anyone else's (as for one that never existed)."""
    found = saved_view_list(tenant=tenant, user=user).filter(pk=saved_view_id).first()
    if found is None:
        raise NotFoundError(NOT_FOUND)
    return found


def saved_view_create(*, tenant: Tenant, user: Any, actor: Actor, name: str, query: str) -> SavedInvoiceView:
    """Save the list's canonical query (review.invoice_list.invoice_list_query) under a name the
    user does not use yet."""
    name = _clean_name(name)
    if len(query) > SAVED_VIEW_QUERY_MAX:
        raise DocumentInvalid(QUERY_TOO_LONG)
    try:
        with transaction.atomic():
            saved_view = SavedInvoiceView.objects.create(tenant=tenant, user=user, name=name, query=query)
            audit_record(
                tenant=tenant,
                actor=actor,
                entity_type=SAVED_VIEW_ENTITY,
                entity_id=saved_view.pk,
                action="created",
                after={"name": name, "query": query, "user_id": user.pk},
            )
    except IntegrityError as exc:
        # The unique (tenant, user, name) constraint: checked by the database, so two tabs saving
        # the same name at once cannot both succeed.
        raise DuplicateDocument(NAME_TAKEN.format(name=name), details={"name": [NAME_TAKEN.format(name=name)]}) from exc
    return saved_view


def saved_view_rename(
    *, tenant: Tenant, user: Any, actor: Actor, saved_view_id: uuid.UUID, name: str
) -> SavedInvoiceView:
    """Give the user's view another name (its filters stay). Someone else's view is not found,
    whatever the name sent."""
    try:
        with transaction.atomic():
            saved_view = (
                saved_view_list(tenant=tenant, user=user)
                .select_for_update(no_key=True)
                .filter(pk=saved_view_id)
                .first()
            )
            if saved_view is None:
                raise NotFoundError(NOT_FOUND)
            name = _clean_name(name)
            before = saved_view.name
            if before == name:
                return saved_view
            saved_view.name = name
            saved_view.save(update_fields=["name", "updated_at"])
            audit_record(
                tenant=tenant,
                actor=actor,
                entity_type=SAVED_VIEW_ENTITY,
                entity_id=saved_view.pk,
                action="updated",
                before={"name": before},
                after={"name": name},
            )
    except IntegrityError as exc:
        raise DuplicateDocument(NAME_TAKEN.format(name=name), details={"name": [NAME_TAKEN.format(name=name)]}) from exc
    return saved_view


def saved_view_delete(*, tenant: Tenant, user: Any, actor: Actor, saved_view_id: uuid.UUID) -> SavedInvoiceView:
    """Remove the user's view; the audit event keeps what it was. Returns the view as it was."""
    with transaction.atomic():
        saved_view = saved_view_list(tenant=tenant, user=user).select_for_update().filter(pk=saved_view_id).first()
        if saved_view is None:
            raise NotFoundError(NOT_FOUND)
        before = {"name": saved_view.name, "query": saved_view.query, "user_id": user.pk}
        saved_view.delete()
        audit_record(
            tenant=tenant,
            actor=actor,
            entity_type=SAVED_VIEW_ENTITY,
            entity_id=saved_view_id,
            action="deleted",
            before=before,
        )
    return saved_view
