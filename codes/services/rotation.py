"""Key rotation: re-encrypt what the primary key did not encrypt (`rotate_code_keys`)."""

from __future__ import annotations

from django.db import transaction

from codes.crypto import get_keyring
from codes.models import BatchIssue, Code


def codes_rotate_keys(*, chunk: int = 2000) -> int:
    """Re-encrypt every code and reported line not under the primary key. Resumable."""
    keyring = get_keyring()
    total = 0
    for model in (Code, BatchIssue):
        while True:
            with transaction.atomic():
                rows = list(
                    model.objects.select_for_update(skip_locked=True)
                    .exclude(key_id=keyring.primary_id)
                    .exclude(key_id__isnull=True)
                    .select_related("batch")
                    .order_by("pk")[:chunk]
                )
                if not rows:
                    break
                for row in rows:
                    seller_id = (
                        row.seller_id if isinstance(row, Code) else row.batch.seller_id
                    )
                    value = keyring.decrypt(
                        row.ciphertext, key_id=row.key_id, seller_id=seller_id
                    )
                    row.ciphertext, row.key_id = keyring.encrypt(
                        value, seller_id=seller_id
                    )
                model.objects.bulk_update(rows, ["ciphertext", "key_id"])
                total += len(rows)
    return total
