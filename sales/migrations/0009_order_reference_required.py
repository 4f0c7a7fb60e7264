import django.db.models
from django.db import migrations

import sales.models


class Migration(migrations.Migration):
    dependencies = [("sales", "0008_fill_order_reference")]

    operations = [
        migrations.AlterField(
            model_name="order",
            name="reference",
            field=django.db.models.CharField(
                default=sales.models.new_reference, editable=False, max_length=11, unique=True
            ),
        ),
    ]
