"""The invoice's sort_vendor trigger fires on an UPDATE only when one of its inputs changed.

`BEFORE UPDATE OF vendor_id, …` fires whenever the column is in the SET list, changed or not,
and a matching batch's UPDATE sets `vendor_id` on every invoice it moves (the vendor the engine
resolved, nearly always the one it already had): a vendor look-up per invoice, a tenth of that
statement's time in PostgreSQL. Unchanged inputs give the value the row already holds — the
INSERT trigger and the vendor-rename trigger (0019) keep it — so skipping them changes no row.
Inserts still always compute it.
"""

from django.db import migrations

SQL = r"""
DROP TRIGGER IF EXISTS invoices_invoice_sort_vendor ON invoices_invoice;
CREATE TRIGGER invoices_invoice_sort_vendor
    BEFORE INSERT ON invoices_invoice
    FOR EACH ROW EXECUTE FUNCTION invoices_invoice_sort_vendor();
CREATE TRIGGER invoices_invoice_sort_vendor_update
    BEFORE UPDATE OF vendor_id, vendor_name_raw, sort_vendor ON invoices_invoice
    FOR EACH ROW WHEN (
        OLD.vendor_id IS DISTINCT FROM NEW.vendor_id
        OR OLD.vendor_name_raw IS DISTINCT FROM NEW.vendor_name_raw
        OR OLD.sort_vendor IS DISTINCT FROM NEW.sort_vendor
    )
    EXECUTE FUNCTION invoices_invoice_sort_vendor();
"""

REVERSE_SQL = r"""
DROP TRIGGER IF EXISTS invoices_invoice_sort_vendor_update ON invoices_invoice;
DROP TRIGGER IF EXISTS invoices_invoice_sort_vendor ON invoices_invoice;
CREATE TRIGGER invoices_invoice_sort_vendor
    BEFORE INSERT OR UPDATE OF vendor_id, vendor_name_raw, sort_vendor ON invoices_invoice
    FOR EACH ROW EXECUTE FUNCTION invoices_invoice_sort_vendor();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("invoices", "0019_list_sort_keys"),
    ]

    operations = [migrations.RunSQL(SQL, REVERSE_SQL)]
