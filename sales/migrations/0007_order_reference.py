from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("sales", "0006_order_checkout_client")]

    operations = [
        migrations.AddField(
            model_name="order",
            name="reference",
            field=models.CharField(editable=False, max_length=11, null=True),
        ),
    ]
