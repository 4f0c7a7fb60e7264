"""Cancelled codes on the seller's side: a sold code cancelled here (refund,
replacement, dispute) may still work in the seller's own system until they
disable it there. They confirm it (`code_mark_disabled`); codes still
unconfirmed after DISABLE_REMINDER_DAYS are due a reminder, once."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from codes.models import Code

# Only cancellations this recent are chased (not every code cancelled before).
REMIND_WITHIN = timedelta(days=30)


def code_mark_disabled(*, seller_id: int, code_id: int) -> Code | None:
    """The seller says they disabled a cancelled code of theirs. Idempotent; None if
    it is not one of their cancelled, sold codes."""
    code = Code.objects.filter(
        pk=code_id,
        seller_id=seller_id,
        status=Code.Status.CANCELLED,
        order_id__isnull=False,
    ).first()
    if code is not None and code.seller_disabled_at is None:
        code.seller_disabled_at = timezone.now()
        Code.objects.filter(pk=code.pk, seller_disabled_at__isnull=True).update(
            seller_disabled_at=code.seller_disabled_at
        )
    return code


def codes_due_disable_reminder() -> dict[int, list[int]]:
    """Per seller, the cancelled codes still not confirmed disabled after
    DISABLE_REMINDER_DAYS, each marked reminded now (so once). Returns
    {seller_id: [code ids]} for the caller to email."""
    now = timezone.now()
    due = Code.objects.filter(
        status=Code.Status.CANCELLED,
        order_id__isnull=False,
        seller_disabled_at__isnull=True,
        disable_reminded_at__isnull=True,
        status_changed_at__lt=now - timedelta(days=settings.DISABLE_REMINDER_DAYS),
        status_changed_at__gte=now - REMIND_WITHIN,
    ).values_list("seller_id", "pk")[:2000]
    per_seller: dict[int, list[int]] = defaultdict(list)
    for seller_id, code_id in due:
        per_seller[seller_id].append(code_id)
    marked = {}
    for seller_id, ids in per_seller.items():
        # The conditional update decides who reminds, should two sweeps overlap.
        if Code.objects.filter(pk__in=ids, disable_reminded_at__isnull=True).update(
            disable_reminded_at=now
        ):
            marked[seller_id] = ids
    return marked
