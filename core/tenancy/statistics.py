"""The planner's statistics of tenant tables, refreshed from inside a long transaction.

PostgreSQL plans with what ANALYZE last saw of a table. A transaction that fills tables from
empty — the demo seed's three months, one transaction so a failure leaves nothing — plans its
later queries with no statistics at all: every `tenant_id = …` is guessed to match half a
percent of the rows, and the look-ups of matching and reconciliation walk the tenant's whole
(tenant, …) index once per probe (the demo's credit-note check: ~90 ms a run at 1,500
invoices, 5 ms with statistics). Autovacuum analyzes only what has committed, so it cannot
help; ANALYZE inside the transaction samples its own uncommitted rows too.

Only a table's owner may ANALYZE it (PostgreSQL 15 has no MAINTAIN privilege), and the runtime
role owns nothing. `ANALYZE_FUNCTION_STATEMENT` (installed by the owner after each migrate,
core.tenancy.rls.rls_install) is the one thing it may ask for: ANALYZE of named tables under
row-level security, run as the owner. Safe to grant: the statistics of a table under row-level
security are not readable by a role the policy binds (PostgreSQL's `pg_stats` leaves them out,
and the planner applies only leakproof operators to them), so another tenant's values cannot be
read through them; what it costs is the sampling, a few milliseconds a table at demo size.
"""

from __future__ import annotations

from collections.abc import Sequence

ANALYZE_FUNCTION = "recon_tenant_tables_analyze"

ANALYZE_FUNCTION_STATEMENT = f"""
CREATE OR REPLACE FUNCTION {ANALYZE_FUNCTION}(tables text[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    wanted text;
BEGIN
    FOREACH wanted IN ARRAY tables LOOP
        IF NOT EXISTS (
            SELECT FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relname = wanted AND c.relkind = 'r' AND c.relrowsecurity
        ) THEN
            RAISE EXCEPTION 'not a table under row-level security: %', wanted USING ERRCODE = '42501';
        END IF;
        EXECUTE format('ANALYZE public.%I', wanted);
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION {ANALYZE_FUNCTION}(text[]) FROM PUBLIC
"""  # noqa: S608  (constants only, no input)


def tenant_tables_analyze(tables: Sequence[str], *, using: str = "default") -> None:
    """ANALYZE `tables` (tenant-owned, under row-level security) in the current transaction, its
    own uncommitted rows included, as their owner (see the module docstring)."""
    from django.db import connections

    with connections[using].cursor() as cursor:
        cursor.execute(f"SELECT {ANALYZE_FUNCTION}(%s::text[])", [list(tables)])
