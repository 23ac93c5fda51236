"""The people work is handed to: the tenant's active members, and the notes the app leaves them.

One place for "is this user someone work can be given to here?" (a dispute's owner, an invoice's
assignee) and for the in-app notification that tells them, so both kinds of hand-over refuse and
notify alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from core.exceptions import DocumentInvalid
from invoices.models import Invoice
from review.models import Notification
from tenants.models import Membership, Tenant

NOT_A_MEMBER = "Not a member of this organisation."
NOTIFICATION_MAX = 300  # Notification.text's length


def active_members(tenant: Tenant) -> QuerySet:
    """The tenant's active memberships with their users, by username (the pickers' order)."""
    username = get_user_model().USERNAME_FIELD
    return Membership.objects.filter(tenant=tenant, is_active=True).select_related("user").order_by(f"user__{username}")


def member_choices(members: Iterable[Membership]) -> list[tuple[str, str]]:
    """(user id, username) of each membership: the choices of every member picker (a dispute's
    owner, an invoice's assignee, a delegate)."""
    return [(str(membership.user_id), membership.user.get_username()) for membership in members]


def active_membership(tenant: Tenant, user_id: Any, *, field: str) -> Membership:
    """The active membership of `user_id` in the tenant, or a refusal by `field`.

    A user of another tenant, a deactivated member or an id that is no id at all read the same:
    "not a member", never a 500 and never a hint that the user exists elsewhere."""
    membership = None
    if user_id not in (None, ""):
        try:
            membership = active_members(tenant).filter(user_id=int(str(user_id))).first()
        except ValueError:
            membership = None
    if membership is None:
        raise DocumentInvalid(NOT_A_MEMBER, details={field: [NOT_A_MEMBER]})
    return membership


def notify(tenant: Tenant, user: Any, invoice: Invoice, text: str) -> Notification:
    """Leave `user` a note about `invoice` (the header's count, the Notifications page)."""
    return Notification.objects.create(tenant=tenant, user=user, invoice=invoice, text=text[:NOTIFICATION_MAX])
