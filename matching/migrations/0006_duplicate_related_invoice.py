# Duplicates across channels (issue #20 item 4): a duplicate finding keeps the earlier invoice it
# compares the invoice with, for the invoice page to show both documents side by side.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('invoices', '0017_number_lookalike'),
        ('matching', '0005_choice_labels'),
    ]

    operations = [
        migrations.AddField(
            model_name='discrepancy',
            name='related_invoice',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='invoices.invoice'),
        ),
    ]
