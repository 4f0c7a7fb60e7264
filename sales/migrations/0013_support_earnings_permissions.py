"""Support also handles held orders, disputes and sellers' payouts (issue 12)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

WANTED = [
    ("sales", "order", "release_order"),
    ("sales", "dispute", "view_dispute"),
    ("sales", "dispute", "submit_dispute"),
    ("sales", "ledgerentry", "view_ledgerentry"),
    ("sales", "payout", "view_payout"),
    ("accounts", "payoutaccount", "view_payoutaccount"),
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
    dependencies = [
        ("sales", "0012_fraud_hold"),
        ("accounts", "0004_earnings"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
