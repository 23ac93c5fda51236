"""The invoice list's sort keys, stored so that its sorts by status, amount and vendor walk an
index instead of sorting every invoice (invoices.sort_keys): two generated columns, one kept by
triggers (filled once here for the invoices there already are), and an index for each; and an
index for its "Discount available" filter (review.invoice_list.discount_open_condition) and one
for its discrepancy-type filter."""

import django.db.models.expressions
from decimal import Decimal
from django.db import migrations, models

from core.tenancy.rls import ALL_TENANTS, orm_scope

# The vendor key's triggers (invoices.sort_keys). SECURITY INVOKER (the default): they read and write
# under the row-level security of whoever writes the invoice or renames the vendor, whose tenant
# is the row's own; the vendor is looked up by its tenant too, so a vendor id of another tenant
# can never lend its name.
VENDOR_SORT_SQL = r"""
CREATE OR REPLACE FUNCTION invoices_invoice_sort_vendor() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    vendor_name text;
BEGIN
    IF NEW.vendor_id IS NOT NULL THEN
        SELECT name INTO vendor_name FROM vendors_vendor WHERE tenant_id = NEW.tenant_id AND id = NEW.vendor_id;
    END IF;
    NEW.sort_vendor := COALESCE(vendor_name, NEW.vendor_name_raw, '');
    RETURN NEW;
END;
$$;
DROP TRIGGER IF EXISTS invoices_invoice_sort_vendor ON invoices_invoice;
CREATE TRIGGER invoices_invoice_sort_vendor
    BEFORE INSERT OR UPDATE OF vendor_id, vendor_name_raw, sort_vendor ON invoices_invoice
    FOR EACH ROW EXECUTE FUNCTION invoices_invoice_sort_vendor();

CREATE OR REPLACE FUNCTION vendors_vendor_sort_invoices() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE invoices_invoice SET sort_vendor = NEW.name
        WHERE tenant_id = NEW.tenant_id AND vendor_id = NEW.id AND sort_vendor IS DISTINCT FROM NEW.name;
    RETURN NULL;
END;
$$;
DROP TRIGGER IF EXISTS vendors_vendor_sort_invoices ON vendors_vendor;
CREATE TRIGGER vendors_vendor_sort_invoices
    AFTER UPDATE OF name ON vendors_vendor
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION vendors_vendor_sort_invoices();
"""

VENDOR_SORT_DROP_SQL = r"""
DROP TRIGGER IF EXISTS vendors_vendor_sort_invoices ON vendors_vendor;
DROP FUNCTION IF EXISTS vendors_vendor_sort_invoices();
DROP TRIGGER IF EXISTS invoices_invoice_sort_vendor ON invoices_invoice;
DROP FUNCTION IF EXISTS invoices_invoice_sort_vendor();
"""

# The keys of the invoices there already are, once (the triggers keep them from then on), in
# every tenant's scope (core.tenancy.rls.ALL_TENANTS).
VENDOR_SORT_FILL_SQL = r"""
UPDATE invoices_invoice SET sort_vendor = COALESCE(
    (SELECT name FROM vendors_vendor WHERE vendors_vendor.tenant_id = invoices_invoice.tenant_id
        AND vendors_vendor.id = invoices_invoice.vendor_id),
    vendor_name_raw, '')
"""


def sort_vendor_fill(apps, schema_editor):
    # Rewriting every invoice queues the deferred foreign-key checks of each row until commit, and
    # PostgreSQL then refuses the indexes below ("pending trigger events"): checked at once instead.
    with orm_scope(ALL_TENANTS), schema_editor.connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(VENDOR_SORT_FILL_SQL)
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


class Migration(migrations.Migration):

    dependencies = [
        ('invoices', '0018_payee_account_index'),
        ('vendors', '0006_payment_terms'),
    ]

    operations = [
        migrations.AddField(
            model_name='invoice',
            name='sort_amount',
            field=models.GeneratedField(db_persist=True, expression=django.db.models.expressions.CombinedExpression(models.F('total_amount'), '*', models.Case(models.When(currency__in=['BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'UYI', 'VND', 'VUV', 'XAF', 'XOF', 'XPF'], then=models.Value(Decimal('1'))), models.When(currency__in=['BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND'], then=models.Value(Decimal('0.001'))), models.When(currency__in=['CLF', 'UYW'], then=models.Value(Decimal('0.0001'))), default=models.Value(Decimal('0.01')), output_field=models.DecimalField(decimal_places=4, max_digits=23))), output_field=models.DecimalField(decimal_places=4, max_digits=23)),
        ),
        migrations.AddField(
            model_name='invoice',
            name='sort_status',
            field=models.GeneratedField(db_persist=True, expression=models.Case(models.When(status='draft', then=models.Value(0)), models.When(status='received', then=models.Value(1)), models.When(status='on_hold', then=models.Value(2)), models.When(status='pending_review', then=models.Value(3)), models.When(status='approved', then=models.Value(4)), models.When(status='payment_scheduled', then=models.Value(5)), models.When(status='rejected', then=models.Value(6)), models.When(status='disputed', then=models.Value(7)), models.When(status='partially_paid', then=models.Value(8)), models.When(status='reconciled', then=models.Value(9)), models.When(status='void', then=models.Value(10)), default=models.Value(11), output_field=models.IntegerField()), output_field=models.SmallIntegerField()),
        ),
        migrations.AddField(
            model_name='invoice',
            name='sort_vendor',
            field=models.CharField(blank=True, db_default='', default='', editable=False, max_length=255),
        ),
        migrations.RunSQL(VENDOR_SORT_SQL, VENDOR_SORT_DROP_SQL),
        migrations.RunPython(sort_vendor_fill, migrations.RunPython.noop, elidable=False),
        migrations.AddIndex(
            model_name='invoice',
            index=models.Index(fields=['tenant', 'sort_status', 'id'], name='invoice_tenant_sort_status'),
        ),
        migrations.AddIndex(
            model_name='invoice',
            index=models.Index(fields=['tenant', 'sort_amount', 'id'], name='invoice_tenant_sort_amount'),
        ),
        migrations.AddIndex(
            model_name='invoice',
            index=models.Index(fields=['tenant', 'sort_vendor', 'id'], name='invoice_tenant_sort_vendor'),
        ),
        migrations.AddIndex(
            model_name='invoice',
            index=models.Index(condition=models.Q(('discount_amount__gt', 0)), fields=['tenant', 'discount_due_date'], name='invoice_tenant_discount_due'),
        ),
        migrations.AddIndex(
            model_name='invoice',
            index=models.Index(fields=['tenant', 'latest_match'], name='invoice_tenant_latest_match'),
        ),
    ]
