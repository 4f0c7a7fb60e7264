"""Reminders to disable cancelled codes on the seller's own system (the codes are
marked in codes.services.disabling; the email goes from a task)."""

from __future__ import annotations

from codes.services.disabling import codes_due_disable_reminder
from distribly.tasks import enqueue

REMINDER_TASK = "sales.tasks.email_disable_reminder"


def codes_disable_remind() -> dict[int, list[int]]:
    """Periodic: one reminder email per seller with codes due one."""
    due = codes_due_disable_reminder()
    for seller_id, ids in due.items():
        enqueue(REMINDER_TASK, seller_id, ",".join(map(str, ids)))
    return due
