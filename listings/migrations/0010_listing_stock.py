"""Per-listing stock counts (issue 15), filled from the codes as they are now."""

from typing import Any

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Count, Q


def fill(apps: Any, schema_editor: Any) -> None:
    code_model = apps.get_model("codes", "Code")
    stock_model = apps.get_model("listings", "ListingStock")
    rows = (
        code_model.objects.order_by()
        .values("listing_id")
        .annotate(
            available=Count("pk", filter=Q(status="available", approved=True)),
            reserved=Count("pk", filter=Q(status="reserved")),
            sold=Count("pk", filter=Q(status__in=["sold", "redeemed"])),
            redeemed=Count("pk", filter=Q(status="redeemed")),
        )
    )
    stock_model.objects.bulk_create(
        [stock_model(**row) for row in rows.iterator()], batch_size=1000
    )


class Migration(migrations.Migration):
    dependencies = [
        ("listings", "0009_search"),
        ("codes", "0008_code_seller_disabled"),
    ]

    operations = [
        migrations.CreateModel(
            name="ListingStock",
            fields=[
                (
                    "listing",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="stock",
                        serialize=False,
                        to="listings.listing",
                    ),
                ),
                ("available", models.BigIntegerField(default=0)),
                ("reserved", models.BigIntegerField(default=0)),
                ("sold", models.BigIntegerField(default=0)),
                ("redeemed", models.BigIntegerField(default=0)),
                ("reconciled_at", models.DateTimeField(blank=True, null=True)),
            ],
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
