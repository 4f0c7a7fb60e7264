"""Support decides escalated claims ("a code didn't work", issue 13)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

WANTED = [
    ("sales", "claim", "view_claim"),
    ("sales", "claim", "decide_claim"),
]


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    group, _created = apps.get_model("auth", "Group").objects.get_or_create(
        name="Support"
    )
    permission_model = apps.get_model("auth", "Permission")
    for app_label, model, codename in WANTED:
        group.permissions.add(
            permission_model.objects.get(
                content_type__app_label=app_label,
                content_type__model=model,
                codename=codename,
            )
        )


class Migration(migrations.Migration):
    dependencies = [("sales", "0015_claims_backorders")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
