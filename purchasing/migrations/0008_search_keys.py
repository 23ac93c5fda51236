# The web app's search (review.search): a PO number's search key (core.lookup_keys.
# document_number_key) and its reversal, stored, and the indexes of a prefix of either and of the
# newest POs.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('purchasing', '0007_lookup_keys_locale_free'),
    ]

    operations = [
        migrations.AddField(
            model_name='purchaseorder',
            name='po_number_search_key',
            field=models.GeneratedField(db_persist=True, expression=models.Func(models.Func(models.Func(models.F('po_number'), models.Value('abcdefghijklmnopqrstuvwxyz'), models.Value('ABCDEFGHIJKLMNOPQRSTUVWXYZ'), function='translate', output_field=models.TextField()), models.Value('[^0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ]'), models.Value(''), models.Value('g'), function='regexp_replace', output_field=models.TextField()), models.Value('(?<![0123456789])0+(?=[0123456789])'), models.Value(''), models.Value('g'), function='regexp_replace', output_field=models.TextField()), output_field=models.TextField()),
        ),
        migrations.AddField(
            model_name='purchaseorder',
            name='po_number_search_key_reversed',
            field=models.GeneratedField(db_persist=True, expression=models.Func(models.Func(models.Func(models.Func(models.F('po_number'), models.Value('abcdefghijklmnopqrstuvwxyz'), models.Value('ABCDEFGHIJKLMNOPQRSTUVWXYZ'), function='translate', output_field=models.TextField()), models.Value('[^0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ]'), models.Value(''), models.Value('g'), function='regexp_replace', output_field=models.TextField()), models.Value('(?<![0123456789])0+(?=[0123456789])'), models.Value(''), models.Value('g'), function='regexp_replace', output_field=models.TextField()), function='reverse', output_field=models.TextField()), output_field=models.TextField()),
        ),
        migrations.AddIndex(
            model_name='purchaseorder',
            index=models.Index(fields=['tenant', 'po_number_search_key'], name='po_tenant_search_key', opclasses=['uuid_ops', 'text_pattern_ops']),
        ),
        migrations.AddIndex(
            model_name='purchaseorder',
            index=models.Index(fields=['tenant', 'po_number_search_key_reversed'], name='po_tenant_search_key_reversed', opclasses=['uuid_ops', 'text_pattern_ops']),
        ),
        migrations.AddIndex(
            model_name='purchaseorder',
            index=models.Index(fields=['tenant', 'created_at', 'id'], include=('po_number_search_key', 'po_number_search_key_reversed'), name='po_tenant_recent_search'),
        ),
    ]
