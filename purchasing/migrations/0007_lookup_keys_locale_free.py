# Written by hand: makemigrations proposes AlterField, which Django refuses for a GeneratedField
# whose expression changes. The stored lookup keys (core.lookup_keys) are re-created with
# expressions that no longer depend on the database's locale: whitespace is the explicit set
# core.lookup_keys.SPACES (translate and btrim instead of the regex \s and TRIM), and case is folded
# for the ASCII letters only (translate instead of UPPER and LOWER). Each column is dropped with
# its index and added again, which computes it anew for every row; then the indexes are rebuilt.

import django.db.models.functions.comparison
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('purchasing', '0006_time_ordered_ids'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='purchaseorder',
            name='po_tenant_lookup_key',
        ),
        migrations.RemoveIndex(
            model_name='purchaseorderline',
            name='poline_tenant_sku_key',
        ),
        migrations.RemoveIndex(
            model_name='purchaseorderline',
            name='poline_tenant_description_key',
        ),
        migrations.RemoveIndex(
            model_name='purchaseorderline',
            name='poline_tenant_sku_billing',
        ),
        migrations.RemoveIndex(
            model_name='purchaseorderline',
            name='poline_tenant_desc_billing',
        ),
        migrations.RemoveField(
            model_name='purchaseorder',
            name='po_number_key',
        ),
        migrations.RemoveField(
            model_name='purchaseorderline',
            name='sku_key',
        ),
        migrations.RemoveField(
            model_name='purchaseorderline',
            name='description_key',
        ),
        migrations.RemoveField(
            model_name='purchaseorderline',
            name='sku_billing_key',
        ),
        migrations.RemoveField(
            model_name='purchaseorderline',
            name='description_billing_key',
        ),
        migrations.AddField(
            model_name='purchaseorder',
            name='po_number_key',
            field=models.GeneratedField(db_persist=True, expression=models.Func(models.Func(models.F('po_number'), models.Value('\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000'), models.Value(''), function='translate', output_field=models.TextField()), models.Value('abcdefghijklmnopqrstuvwxyz'), models.Value('ABCDEFGHIJKLMNOPQRSTUVWXYZ'), function='translate', output_field=models.TextField()), output_field=models.CharField(max_length=64)),
        ),
        migrations.AddField(
            model_name='purchaseorderline',
            name='sku_key',
            field=models.GeneratedField(db_persist=True, expression=models.Func(models.Func(models.F('sku'), models.Value('\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000'), function='btrim', output_field=models.TextField()), models.Value('abcdefghijklmnopqrstuvwxyz'), models.Value('ABCDEFGHIJKLMNOPQRSTUVWXYZ'), function='translate', output_field=models.TextField()), output_field=models.CharField(max_length=64)),
        ),
        migrations.AddField(
            model_name='purchaseorderline',
            name='description_key',
            field=models.GeneratedField(db_persist=True, expression=models.Func(models.F('description'), models.Value('ABCDEFGHIJKLMNOPQRSTUVWXYZ'), models.Value('abcdefghijklmnopqrstuvwxyz'), function='translate', output_field=models.TextField()), output_field=models.CharField(max_length=500)),
        ),
        migrations.AddField(
            model_name='purchaseorderline',
            name='sku_billing_key',
            field=models.GeneratedField(db_persist=True, expression=models.Func(models.Func(models.Func(models.F('sku'), models.Value('\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000'), function='btrim', output_field=models.TextField()), models.Value('abcdefghijklmnopqrstuvwxyz'), models.Value('ABCDEFGHIJKLMNOPQRSTUVWXYZ'), function='translate', output_field=models.TextField()), models.Value('|'), django.db.models.functions.comparison.Cast(models.F('quantity'), models.TextField()), models.Value('|'), django.db.models.functions.comparison.Cast(models.F('unit_price'), models.TextField()), arg_joiner=' || ', output_field=models.TextField(), template='(%(expressions)s)'), output_field=models.TextField()),
        ),
        migrations.AddField(
            model_name='purchaseorderline',
            name='description_billing_key',
            field=models.GeneratedField(db_persist=True, expression=models.Func(models.Func(models.F('description'), models.Value('ABCDEFGHIJKLMNOPQRSTUVWXYZ'), models.Value('abcdefghijklmnopqrstuvwxyz'), function='translate', output_field=models.TextField()), models.Value('|'), django.db.models.functions.comparison.Cast(models.F('quantity'), models.TextField()), models.Value('|'), django.db.models.functions.comparison.Cast(models.F('unit_price'), models.TextField()), arg_joiner=' || ', output_field=models.TextField(), template='(%(expressions)s)'), output_field=models.TextField()),
        ),
        migrations.AddIndex(
            model_name='purchaseorder',
            index=models.Index(fields=['tenant', 'po_number_key'], name='po_tenant_lookup_key'),
        ),
        migrations.AddIndex(
            model_name='purchaseorderline',
            index=models.Index(fields=['tenant', 'sku_key'], name='poline_tenant_sku_key'),
        ),
        migrations.AddIndex(
            model_name='purchaseorderline',
            index=models.Index(fields=['tenant', 'description_key'], name='poline_tenant_description_key'),
        ),
        migrations.AddIndex(
            model_name='purchaseorderline',
            index=models.Index(fields=['tenant', 'sku_billing_key'], name='poline_tenant_sku_billing'),
        ),
        migrations.AddIndex(
            model_name='purchaseorderline',
            index=models.Index(fields=['tenant', 'description_billing_key'], name='poline_tenant_desc_billing'),
        ),
    ]
