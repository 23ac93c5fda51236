"""Saved views of the invoice list: each write through its service with its audit event in the same
transaction, names a user keeps apart, and nobody but their user reaching them."""

from __future__ import annotations

from typing import Any

import pytest

from audit.models import AuditEvent
from core.actors import Actor
from core.exceptions import DocumentInvalid, DuplicateDocument, NotFoundError
from review import saved_views
from review.models import SavedInvoiceView
from review.saved_views import (
    NAME_REQUIRED,
    NAME_TOO_LONG,
    SAVED_VIEW_ENTITY,
    saved_view_create,
    saved_view_delete,
    saved_view_get,
    saved_view_list,
    saved_view_rename,
)
from tenants.models import Tenant
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

QUERY = "status=disputed&sort=-amount"


def _actor(user: Any) -> Actor:
    return Actor(kind="user", id=str(user.pk), label=user.get_username())


def _events(tenant: Tenant) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.for_tenant(tenant).filter(entity_type=SAVED_VIEW_ENTITY).order_by("xid", "append_seq")
    )


@pytest.fixture
def anna(tenant: Tenant) -> Any:
    return MembershipFactory(tenant=tenant, user=UserFactory(username="anna")).user


@pytest.fixture
def ben(tenant: Tenant) -> Any:
    return MembershipFactory(tenant=tenant, user=UserFactory(username="ben")).user


def _save(tenant: Tenant, user: Any, name: str = "Disputed by amount", query: str = QUERY) -> SavedInvoiceView:
    return saved_view_create(tenant=tenant, user=user, actor=_actor(user), name=name, query=query)


def test_saving_a_view_records_who_saved_what(tenant: Tenant, anna: Any) -> None:
    saved = _save(tenant, anna, name="  Disputed   by amount ")
    assert (saved.name, saved.query, saved.user_id) == ("Disputed by amount", QUERY, anna.pk)
    [event] = _events(tenant)
    assert (event.action, event.entity_id, event.actor_label) == ("created", str(saved.pk), "anna")
    assert event.after == {"name": "Disputed by amount", "query": QUERY, "user_id": anna.pk}


def test_the_view_and_its_event_commit_together(tenant: Tenant, anna: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(**kwargs: Any) -> None:
        raise RuntimeError("the audit chain is unavailable")

    monkeypatch.setattr(saved_views, "audit_record", refuse)
    with pytest.raises(RuntimeError):
        _save(tenant, anna)
    assert not saved_view_list(tenant=tenant, user=anna).exists()


def test_renaming_records_before_and_after(tenant: Tenant, anna: Any) -> None:
    saved = _save(tenant, anna)
    renamed = saved_view_rename(
        tenant=tenant, user=anna, actor=_actor(anna), saved_view_id=saved.pk, name="Disputed, largest first"
    )
    assert renamed.name == "Disputed, largest first" and renamed.query == QUERY
    event = _events(tenant)[-1]
    assert (event.action, event.before, event.after) == (
        "updated",
        {"name": "Disputed by amount"},
        {"name": "Disputed, largest first"},
    )
    # The same name again changes nothing and records nothing.
    saved_view_rename(tenant=tenant, user=anna, actor=_actor(anna), saved_view_id=saved.pk, name=renamed.name)
    assert len(_events(tenant)) == 2


def test_deleting_keeps_what_it_was_in_the_audit_trail(tenant: Tenant, anna: Any) -> None:
    saved = _save(tenant, anna)
    saved_view_delete(tenant=tenant, user=anna, actor=_actor(anna), saved_view_id=saved.pk)
    assert not saved_view_list(tenant=tenant, user=anna).exists()
    event = _events(tenant)[-1]
    assert (event.action, event.entity_id) == ("deleted", str(saved.pk))
    assert event.before == {"name": "Disputed by amount", "query": QUERY, "user_id": anna.pk}


@pytest.mark.parametrize(("name", "message"), [("", NAME_REQUIRED), ("   ", NAME_REQUIRED), ("x" * 81, NAME_TOO_LONG)])
def test_a_view_needs_a_name_of_at_most_80_characters(tenant: Tenant, anna: Any, name: str, message: str) -> None:
    with pytest.raises(DocumentInvalid, match=message):
        _save(tenant, anna, name=name)
    saved = _save(tenant, anna)
    with pytest.raises(DocumentInvalid, match=message):
        saved_view_rename(tenant=tenant, user=anna, actor=_actor(anna), saved_view_id=saved.pk, name=name)
    assert len(_events(tenant)) == 1


def test_names_are_one_users_own(tenant: Tenant, anna: Any, ben: Any) -> None:
    first = _save(tenant, anna)
    with pytest.raises(DuplicateDocument, match="already have a view named"):
        _save(tenant, anna)
    other = _save(tenant, anna, name="Escalated")
    with pytest.raises(DuplicateDocument):
        saved_view_rename(tenant=tenant, user=anna, actor=_actor(anna), saved_view_id=other.pk, name=first.name)
    _save(tenant, ben)  # a colleague may use the same name
    assert [view.name for view in saved_view_list(tenant=tenant, user=anna)] == ["Disputed by amount", "Escalated"]
    assert [view.name for view in saved_view_list(tenant=tenant, user=ben)] == ["Disputed by amount"]
    assert len(_events(tenant)) == 3


def test_nobody_else_reaches_a_view(tenant: Tenant, other_tenant: Tenant, anna: Any, ben: Any) -> None:
    saved = _save(tenant, anna)
    stranger = MembershipFactory(tenant=other_tenant).user
    # anna herself, as a member of another tenant, does not see it there either.
    MembershipFactory(tenant=other_tenant, user=anna)
    for owner_tenant, user in ((tenant, ben), (other_tenant, stranger), (other_tenant, anna)):
        with pytest.raises(NotFoundError):
            saved_view_get(tenant=owner_tenant, user=user, saved_view_id=saved.pk)
        with pytest.raises(NotFoundError):
            saved_view_rename(tenant=owner_tenant, user=user, actor=_actor(user), saved_view_id=saved.pk, name="Mine")
        with pytest.raises(NotFoundError):
            saved_view_delete(tenant=owner_tenant, user=user, actor=_actor(user), saved_view_id=saved.pk)
    assert saved_view_get(tenant=tenant, user=anna, saved_view_id=saved.pk).name == "Disputed by amount"
    assert len(_events(tenant)) == 1 and _events(other_tenant) == []
