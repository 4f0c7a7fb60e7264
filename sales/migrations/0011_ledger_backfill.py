"""Every movement in the ledger: orders paid and refunds made before it existed get
their entries (no platform fee was charged then)."""

from __future__ import annotations

from typing import Any

from django.db import migrations

PAID = ["paid", "fulfilled", "refunded"]


def backfill(apps: Any, schema_editor: Any) -> None:
    Order = apps.get_model("sales", "Order")
    Refund = apps.get_model("sales", "Refund")
    LedgerEntry = apps.get_model("sales", "LedgerEntry")
    with_sale = LedgerEntry.objects.filter(kind="sale").values("order_id")
    LedgerEntry.objects.bulk_create(
        (
            LedgerEntry(
                order_id=o.pk,
                seller_id=o.seller_id,
                kind="sale",
                currency=o.currency,
                gross=o.amount,
                platform_fee=0,
                seller_net=o.amount,
            )
            for o in Order.objects.filter(status__in=PAID)
            .exclude(pk__in=with_sale)
            .iterator(chunk_size=2000)
        ),
        batch_size=2000,
    )
    LedgerEntry.objects.bulk_create(
        (
            LedgerEntry(
                order_id=r.order_id,
                seller_id=r.order.seller_id,
                kind="refund",
                refund_id=r.pk,
                currency=r.order.currency,
                gross=-r.amount,
                platform_fee=0,
                seller_net=-r.amount,
            )
            for r in Refund.objects.filter(status="succeeded", ledger__isnull=True)
            .select_related("order")
            .iterator(chunk_size=2000)
        ),
        batch_size=2000,
    )


class Migration(migrations.Migration):
    dependencies = [("sales", "0010_earnings")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
