"""The demo's users: who works the queues and the bank, with their roles and one known password.

`clerk` works the standard review queue, `clerk2` the bank statements, `approver` the escalated
queue and disputes, `admin` the purchase orders (closes, cancels) and the settings. Each acts
through the services as the web app makes them act: with an `Actor` of kind `user`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password

from core.actors import Actor
from tenants.models import Role, Tenant
from tenants.services import membership_grant

DEMO_PASSWORD = "recon-demo"


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    first_name: str
    last_name: str


DEMO_USERS = (
    DemoUser(username="clerk", role=Role.CLERK, first_name="Lena", last_name="Fischer"),
    DemoUser(username="clerk2", role=Role.CLERK, first_name="Jonas", last_name="Weber"),
    DemoUser(username="approver", role=Role.APPROVER, first_name="Sabine", last_name="Koch"),
    DemoUser(username="admin", role=Role.ADMIN, first_name="Martin", last_name="Braun"),
)


@dataclass(frozen=True)
class DemoPeople:
    """The demo users as actors, by username, and the role each acts with."""

    actors: dict[str, Actor]
    roles: dict[str, str]


def demo_users_ensure(*, tenant: Tenant, actor: Actor) -> DemoPeople:
    """The demo users, created with the demo password if missing, each a member of `tenant`.

    A user who exists keeps the password it has (someone may have changed it). The password is
    hashed once for all of them: the hasher is slow on purpose (about a second here), and the
    demo password is printed on every `make run` anyway, so a shared salt hides nothing.
    """
    user_model = get_user_model()
    hashed = ""
    actors, roles = {}, {}
    for demo_user in DEMO_USERS:
        user = user_model.objects.filter(username=demo_user.username).first()
        if user is None:
            hashed = hashed or make_password(DEMO_PASSWORD)
            user = user_model.objects.create(
                username=demo_user.username,
                email=f"{demo_user.username}@demo.invalid",
                first_name=demo_user.first_name,
                last_name=demo_user.last_name,
                password=hashed,
                is_staff=demo_user.role == Role.ADMIN,
                is_superuser=demo_user.role == Role.ADMIN,
            )
        membership_grant(tenant=tenant, actor=actor, user=user, role=demo_user.role)
        actors[demo_user.username] = Actor(kind="user", id=str(user.pk), label=user.get_username())
        roles[demo_user.username] = demo_user.role
    return DemoPeople(actors=actors, roles=roles)
