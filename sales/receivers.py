"""Sales listens to the layers below it (they cannot import sales)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from codes.signals import codes_approved
from distribly.tasks import enqueue_on_commit

from .services.backorders import FILL_TASK


@receiver(codes_approved, dispatch_uid="sales.backorders_fill")
def fill_backorders(sender: Any, listing_id: int, **kwargs: Any) -> None:
    """New codes on sale: the listing's backorders get them first (after commit)."""
    enqueue_on_commit(FILL_TASK, listing_id)
