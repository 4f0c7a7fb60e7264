"""Staff groups with the permissions their work needs (issue 11, staff permissions).

Support: sees orders and what belongs to them, and refunds. Reviewers: see
listings and code batches, approve or reject them. Staff get a group in the
admin (Users → groups); a staff user with none can do nothing.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUPS = {
    "Support": [
        ("sales", "order", "view_order"),
        ("sales", "order", "refund_order"),
        ("sales", "payment", "view_payment"),
        ("sales", "refund", "view_refund"),
        ("sales", "delivery", "view_delivery"),
        ("sales", "webhookevent", "view_webhookevent"),
        ("listings", "listing", "view_listing"),
    ],
    "Reviewers": [
        ("listings", "listing", "view_listing"),
        ("listings", "listing", "review_listing"),
        ("listings", "listingrevision", "view_listingrevision"),
        ("codes", "codebatch", "view_codebatch"),
        ("codes", "codebatch", "review_codebatch"),
        ("codes", "batchissue", "view_batchissue"),
    ],
}


def create_groups(apps, schema_editor):
    # Permissions are normally created after all migrations; make them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for name, wanted in GROUPS.items():
        group, _created = group_model.objects.get_or_create(name=name)
        for app_label, model, codename in wanted:
            group.permissions.add(
                permission_model.objects.get(
                    content_type__app_label=app_label,
                    content_type__model=model,
                    codename=codename,
                )
            )


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=list(GROUPS)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("sales", "0004_order_refund_permission"),
        ("codes", "0005_codebatch_review_permission"),
        ("listings", "0005_listing_revision"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
