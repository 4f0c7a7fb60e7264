"""ApiKey now belongs to the api app (api.0001 takes over its table, `codes_apikey`).

State only: nothing in the database changes.
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("codes", "0003_api_keys_webhooks_redemption"),
        ("api", "0001_apikey_from_codes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="ApiKey")],
            database_operations=[],
        ),
    ]
