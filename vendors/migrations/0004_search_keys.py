# The web app's search (review.search): the start of a vendor's normalized name, by index.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('vendors', '0003_time_ordered_ids'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='vendor',
            index=models.Index(fields=['tenant', 'normalized_name'], name='vendor_tenant_name_prefix', opclasses=['uuid_ops', 'text_pattern_ops']),
        ),
    ]
