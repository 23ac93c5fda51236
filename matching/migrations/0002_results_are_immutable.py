"""Match results and their discrepancies are history: the database refuses UPDATE and DELETE.

A re-match adds a new result; nothing rewrites what an earlier run concluded, so what a
reviewer or auditor saw at the time can always be shown again. (TRUNCATE is left to operators:
it cannot be aimed at one tenant's rows, and the invoices' PROTECT keys refuse it anyway.)
"""

from django.db import migrations

TABLES = ("matching_matchresult", "matching_discrepancy")

FORWARD = """
CREATE FUNCTION matching_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is immutable history: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
""" + "".join(
    f"""
CREATE TRIGGER {table}_no_update_delete
    BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION matching_refuse_change();
"""
    for table in TABLES
)

BACKWARD = "".join(f"DROP TRIGGER {table}_no_update_delete ON {table};\n" for table in TABLES) + (
    "DROP FUNCTION matching_refuse_change();\n"
)


class Migration(migrations.Migration):
    dependencies = [("matching", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
