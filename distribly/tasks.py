"""One way to queue a Celery task: after the transaction commits, never failing the caller.

Services name the task they queue (`"sales.tasks.order_deliver"`) instead of
importing it: tasks import services, so services importing tasks would make a
cycle. The name is resolved when the service runs, so a wrong name fails the
caller's own test at once, not a worker later.

When the broker cannot take the message, the request that caused it still
succeeds and a warning is logged. What then happens depends on the task:
- work that must happen has its state in a row and a periodic sweep that queues
  it again: imports (`batches_resume_stalled`), delivery emails and seller
  webhooks (outbox rows), sold-out checks (`listings_stock_sweep`) and automatic
  refunds of paid orders that found no code (`orders_refund_sweep`);
- notices (review results, stock alerts, refund notices, key suspension) are
  best effort: the state they report is always visible on the seller's pages.
Without a broker (eager mode) the task runs here; its own failure is logged the
same way, because the transaction it follows has committed already.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from django.db import InterfaceError, OperationalError, transaction

from .celery import app

logger = logging.getLogger(__name__)

TaskArg = int | str
# Database errors a task retries (the connection dropped, a failover).
DB_ERRORS = (OperationalError, InterfaceError)


def task_named(name: str) -> Task[Any, Any]:
    """The registered task called `name`; the first miss imports every app's tasks module."""
    if name not in app.tasks:
        app.loader.import_default_modules()  # runs Celery's autodiscovery now
    return app.tasks[name]


def enqueue(name: str, *args: TaskArg) -> None:
    """Queue a task now. A broker outage is logged, never raised (see the module docstring)."""
    task = task_named(name)
    try:
        task.delay(*args)
    except Exception as e:  # noqa: BLE001 - kombu, redis and socket errors alike; the caller has committed
        logger.warning(
            "could not %s %s%s (%s)",
            "run" if app.conf.task_always_eager else "queue",
            name,
            args,
            type(e).__name__,
        )


def enqueue_on_commit(name: str, *args: TaskArg) -> None:
    """Queue a task once the current transaction commits (at once outside one)."""
    task_named(name)  # fail now, in the caller, on a wrong name
    # robust: a failing callback must not stop the other callbacks of this commit
    transaction.on_commit(lambda: enqueue(name, *args), robust=True)
