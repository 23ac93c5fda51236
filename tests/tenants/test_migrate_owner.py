"""`manage.py migrate` as the owner role changes who connects, never which database."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection

from core.tenancy.roles import OWNER_ROLE
from tenants.management.commands.migrate import connected_as_owner


@pytest.mark.django_db(transaction=True)
def test_migrations_run_in_the_connections_own_database_whatever_the_owner_setting_names(
    settings: pytest.FixtureRequest,
) -> None:
    own_database = connection.settings_dict["NAME"]
    suite_user = connection.settings_dict["USER"]
    # The owner setting names another database (as the embedded one's names `recon` while the
    # suite migrates `test_recon`): the migration must still land in the connection's own.
    settings.DATABASE_OWNER = {**connection.settings_dict, "NAME": "recon_elsewhere", "USER": OWNER_ROLE}

    with connected_as_owner("default"), connection.cursor() as cursor:
        cursor.execute("SELECT current_database(), current_user")
        assert cursor.fetchone() == (own_database, OWNER_ROLE)

    assert connection.settings_dict["NAME"] == own_database
    assert connection.settings_dict["USER"] == suite_user


@pytest.mark.django_db
def test_the_test_database_is_migrated_by_the_role_that_migrates_the_real_one() -> None:
    owner = settings.DATABASE_OWNER
    expected = owner["USER"] if owner else settings.DATABASES["default"]["USER"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_database(), pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'tenants_tenant'"
        )
        database, table_owner = cursor.fetchone()
    assert database.startswith("test_")
    assert table_owner == expected
