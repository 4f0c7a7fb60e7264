"""Give every existing order a random public reference (see Order.reference)."""

import secrets

from django.db import migrations

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _reference():
    chars = "".join(secrets.choice(ALPHABET) for _ in range(10))
    return f"{chars[:5]}-{chars[5:]}"


def fill(apps, schema_editor):
    order_model = apps.get_model("sales", "Order")
    used = set()
    for order in order_model.objects.filter(reference__isnull=True).only("pk").iterator():
        reference = _reference()
        while reference in used:
            reference = _reference()
        used.add(reference)
        order_model.objects.filter(pk=order.pk).update(reference=reference)


class Migration(migrations.Migration):
    dependencies = [("sales", "0007_order_reference")]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
