"""ApiKey moves from the codes app to the api app; its table `codes_apikey` stays.

State only: the table, its rows and its constraints are untouched.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("codes", "0003_api_keys_webhooks_redemption"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ApiKey",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("name", models.CharField(max_length=80)),
                        ("prefix", models.CharField(max_length=16, unique=True)),
                        ("key_hash", models.CharField(max_length=64)),
                        ("scopes", models.JSONField(default=list)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("last_used_at", models.DateTimeField(blank=True, null=True)),
                        ("revoked_at", models.DateTimeField(blank=True, null=True)),
                        ("suspended_at", models.DateTimeField(blank=True, null=True)),
                        ("consecutive_failures", models.PositiveIntegerField(default=0)),
                        ("seller", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="api_keys", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        "verbose_name": "API key",
                        "ordering": ["-created_at"],
                        "db_table": "codes_apikey",
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
