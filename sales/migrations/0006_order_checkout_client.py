from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("sales", "0005_staff_groups")]

    operations = [
        migrations.AddField(
            model_name="order",
            name="client_network",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.AddField(
            model_name="order",
            name="session_key",
            field=models.CharField(blank=True, default="", max_length=40),
        ),
    ]
