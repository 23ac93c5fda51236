# Risk signals (issue #19): earlier invoices of any vendor that named a payee account are looked
# up by its keyed hash (`shared_bank_account`); a partial index, as most invoices name none.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('invoices', '0017_number_lookalike'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='invoice',
            index=models.Index(condition=models.Q(('payee_account_hash', ''), _negated=True), fields=['tenant', 'payee_account_hash'], name='invoice_tenant_payee_hash'),
        ),
    ]
