"""The two database roles: the owner that migrates, and the runtime role the app runs as.

- **owner** (`recon_owner` by default) owns the schema and every table; `manage.py migrate` runs
  as it (`MIGRATE_DATABASE_URL`). It is not a superuser either.
- **runtime** (`recon_app`, the user of `DATABASE_URL`) is what the web app, the workers and the
  operator commands connect as: not superuser, not owner, `NOBYPASSRLS`, so every tenant-owned
  table's row-level security binds it (`core.tenancy.rls`). It may read and write rows, but only
  append to the history tables (no UPDATE/DELETE), TRUNCATE nothing and change no schema. It may
  set an audit event's chain columns, which is how the sealer chains it (audit.sealer); the
  table's trigger lets that UPDATE through for an unsealed event only.

`roles_ensure` creates both (it needs a superuser or a CREATEROLE connection: the embedded
database's bootstrap, `manage.py db_roles`, CI); `runtime_grants` is run by the owner after each
migrate (`tenants.apps`), so a new table gets its grants and its policy the day it is added.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from psycopg import sql

from core.tenancy.statistics import ANALYZE_FUNCTION

OWNER_ROLE = "recon_owner"
RUNTIME_ROLE = "recon_app"

# History: the runtime role may add rows, never change or remove them (triggers refuse it too,
# for every role; the missing grant makes it a permission error before any trigger runs).
APPEND_ONLY_TABLES = (
    "audit_auditevent",
    "matching_matchresult",
    "matching_discrepancy",
    "payments_paymentallocation",
)
# Schema bookkeeping the runtime role may read (Django checks for unapplied migrations) but not write.
READ_ONLY_TABLES = ("django_migrations",)

_ROLE_ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"


def roles_ensure(
    conn: Any,
    *,
    database: str,
    owner: str = OWNER_ROLE,
    runtime: str = RUNTIME_ROLE,
    passwords: dict[str, str] | None = None,
) -> None:
    """Create (or correct) both roles and hand `database` and its public schema to the owner.

    `conn` is an autocommit psycopg connection *to `database`* as a superuser or CREATEROLE role.
    Idempotent. Tables created before the owner existed (by whoever migrated then) are handed
    over too, so an existing database can move to the two-role layout.
    """
    passwords = passwords or {}
    if not passwords and roles_ready(conn, database=database, owner=owner, runtime=runtime):
        # Nothing to do, and nothing taken: every process of `make run` passes here at start, and
        # concurrent ALTERs of one role can fail with "tuple concurrently updated".
        return
    for role in (owner, runtime):
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
        verb = "ALTER" if exists else "CREATE"
        statement = sql.SQL(f"{verb} ROLE {{}} {_ROLE_ATTRIBUTES}").format(sql.Identifier(role))
        if role in passwords:
            statement += sql.SQL(" PASSWORD {}").format(sql.Literal(passwords[role]))
        conn.execute(statement)
    ident = sql.Identifier
    conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(ident(database), ident(owner)))
    conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(ident(owner)))
    conn.execute(sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
    # TEMPORARY named, not left to PUBLIC's default: a bulk write stages its rows in a temporary
    # table of its session (core.tenancy.scoping.tenant_copy_insert).
    conn.execute(sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(ident(database), ident(runtime)))
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(ident(runtime)))
    owned = conn.execute(
        """
        SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
          AND pg_get_userbyid(c.relowner) <> %s
          AND NOT (c.relkind = 'S' AND EXISTS (  -- a column's sequence follows its table
              SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))
        """,
        [owner],
    ).fetchall()
    for name, kind in owned:
        noun = {"v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE"}.get(kind, "TABLE")
        conn.execute(sql.SQL(f"ALTER {noun} {{}} OWNER TO {{}}").format(ident(name), ident(owner)))
    functions = conn.execute(
        """
        SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> %s
        """,
        [owner],
    ).fetchall()
    for (signature,) in functions:
        conn.execute(sql.SQL("ALTER FUNCTION {} OWNER TO {}").format(sql.SQL(signature), ident(owner)))


def roles_ready(conn: Any, *, database: str, owner: str, runtime: str) -> bool:
    """Both roles exist without superuser or BYPASSRLS, and the owner owns the database and schema."""
    row = conn.execute(
        """
        SELECT
          (SELECT count(*) FROM pg_roles WHERE rolname IN (%(owner)s, %(runtime)s)
             AND NOT rolsuper AND NOT rolbypassrls AND rolcanlogin) = 2,
          (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %(database)s) = %(owner)s,
          (SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'public') = %(owner)s,
          NOT EXISTS (
            SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm')
              AND pg_get_userbyid(c.relowner) <> %(owner)s)
        """,
        {"owner": owner, "runtime": runtime, "database": database},
    ).fetchone()
    return all(row)


def runtime_grants(cursor: Any, runtime: str, settable: Mapping[str, Sequence[str]] | None = None) -> None:
    """What the runtime role may do, table by table (run by the owner after each migrate).

    `settable`: columns of append-only tables the runtime role may still set, by table (an audit
    event's chain columns, set once when it is sealed; named by the app that owns them).
    """
    role = sql.Identifier(runtime)
    statements = [
        sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role),
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}").format(role),
        sql.SQL("REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public FROM {}").format(role),
        sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(role),
    ]
    for table in APPEND_ONLY_TABLES:
        statements.append(sql.SQL("REVOKE UPDATE, DELETE ON {} FROM {}").format(sql.Identifier(table), role))
    for table, columns in (settable or {}).items():
        statements.append(
            sql.SQL("GRANT UPDATE ({}) ON {} TO {}").format(
                sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(table), role
            )
        )
    for table in READ_ONLY_TABLES:
        statements.append(sql.SQL("REVOKE INSERT, UPDATE, DELETE ON {} FROM {}").format(sql.Identifier(table), role))
    # The one maintenance step it may ask for: ANALYZE of tenant tables (core.tenancy.statistics).
    statements.append(
        sql.SQL("GRANT EXECUTE ON FUNCTION {}(text[]) TO {}").format(sql.Identifier(ANALYZE_FUNCTION), role)
    )
    for statement in statements:
        cursor.execute(statement.as_string())


def role_exists(cursor: Any, role: str) -> bool:
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
    return cursor.fetchone() is not None


def database_url(settings_dict: dict[str, Any]) -> str:
    """A `DATABASE_URL` for the database of a Django connection's settings (for a child process:
    the test database under pytest, the embedded server's Unix socket without DATABASE_URL)."""
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    userinfo = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host, port = settings_dict.get("HOST") or "", str(settings_dict.get("PORT") or "")
    name = quote(settings_dict["NAME"], safe="")
    if host.startswith("/"):  # a socket directory: a URL's host part cannot hold a path
        return f"postgres://{userinfo}/{name}?host={quote(host, safe='')}"
    return f"postgres://{userinfo}{host}{':' + port if port else ''}/{name}"


def runtime_database_url(settings_dict: dict[str, Any]) -> str:
    """The same database as the runtime role (`DB_RUNTIME_ROLE`), as the app's processes connect.

    Where this process is connected as another role (the test suite's superuser), the child gets
    the runtime role without a password: local trust or peer authentication, as on a test machine.
    """
    from django.conf import settings

    runtime = settings.DB_RUNTIME_ROLE
    if runtime and runtime != settings_dict.get("USER"):
        settings_dict = {**settings_dict, "USER": runtime, "PASSWORD": ""}
    return database_url(settings_dict)
