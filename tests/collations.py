"""The collations the key tests compute under, and the skip for one this PostgreSQL lacks.

The stored keys must not depend on the database's locale: the tests compute them under the
database's own collation, C, and ICU root, English and Turkish (whose dotted and dotless i are
the classic trap). The embedded PostgreSQL is built without ICU, so those cases skip there and
run against the machine's PostgreSQL in CI.
"""

from __future__ import annotations

import pytest
from django.db import connection

COLLATIONS = ("default", "C", "und-x-icu", "en-x-icu", "tr-x-icu")


def collation_or_skip(collation: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_collation WHERE collname = %s", [collation])
        if not cursor.fetchone()[0]:
            pytest.skip(f"this PostgreSQL has no collation {collation}")
