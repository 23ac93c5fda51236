# Duplicates across channels (issue #20 item 4): the invoice number once OCR and typing confusions
# are allowed for (invoices.numbers.invoice_number_lookalike), and the index matching looks earlier
# invoices of a vendor up by. PostgreSQL computes the column for every existing row while adding
# it (a generated column: one rewrite of the table, no batches of our own to get wrong).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('invoices', '0016_payment_terms_and_payee_account'),
    ]

    operations = [
        migrations.AddField(
            model_name='invoice',
            name='invoice_number_lookalike',
            field=models.GeneratedField(db_persist=True, expression=models.Func(models.Func(models.Func(models.F('invoice_number_normalized'), models.Value('^(?:(?:RECHNUNG[5S]NUMMER|RECHNUNG|[1IL]NV[0O][1IL]CE|FACTURE|FACTURA|FAKTURA|[1IL]NV|RG|RE)(?:NUMMER|NUM[8B]ER|NR|N[0O]|N)?|(?:NUMMER|NUM[8B]ER|NR|N[0O]|N))(?=[0-9OILSB])'), models.Value(''), function='regexp_replace'), models.Value('OILSB'), models.Value('01158'), function='translate'), models.Value('(?<![0-9])0+(?=[0-9])'), models.Value(''), models.Value('g'), function='regexp_replace', output_field=models.TextField()), output_field=models.TextField()),
        ),
        migrations.AddIndex(
            model_name='invoice',
            index=models.Index(fields=['tenant', 'vendor', 'invoice_number_lookalike'], name='invoice_tenant_vendor_alike'),
        ),
    ]
