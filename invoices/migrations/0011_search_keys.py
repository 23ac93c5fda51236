# The web app's search (review.search): the normalized number read backwards, for the ends of
# numbers, and the indexes of a number's prefix, its end, an exact total and the newest invoices.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('invoices', '0010_choice_labels'),
    ]

    operations = [
        migrations.AddField(
            model_name='invoice',
            name='invoice_number_reversed',
            field=models.GeneratedField(db_persist=True, expression=models.Func(models.F('invoice_number_normalized'), function='reverse', output_field=models.TextField()), output_field=models.TextField()),
        ),
        migrations.AddIndex(
            model_name='invoice',
            index=models.Index(fields=['tenant', 'invoice_number_normalized'], name='invoice_tenant_search_number', opclasses=['uuid_ops', 'text_pattern_ops']),
        ),
        migrations.AddIndex(
            model_name='invoice',
            index=models.Index(fields=['tenant', 'invoice_number_reversed'], name='invoice_tenant_search_reversed', opclasses=['uuid_ops', 'text_pattern_ops']),
        ),
        migrations.AddIndex(
            model_name='invoice',
            index=models.Index(fields=['tenant', 'total_amount'], name='invoice_tenant_total'),
        ),
        migrations.AddIndex(
            model_name='invoice',
            index=models.Index(fields=['tenant', 'created_at', 'id'], include=('invoice_number_normalized', 'invoice_number_reversed'), name='invoice_tenant_recent_search'),
        ),
    ]
