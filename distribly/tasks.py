"""One way to queue a Celery task: after the transaction commits, never failing the caller.

Services name the task they queue (`"sales.tasks.order_deliver"`) instead of
importing it: tasks import services, so services importing tasks would make a
cycle. The name is resolved when the service runs, so a wrong name fails the
caller's own test at once, not a worker later.

Every queued task works on a row that records its state (an outbox row, a batch,
an order), and a periodic sweep queues again any row left waiting. So when the
broker is down at commit time the message is logged as not queued and nothing is
lost; the request that caused it still succeeds.
"""

from __future__ import annotations

import logging
from importlib import import_module
from typing import Any

from celery import Task
from django.db import transaction

from .celery import app

logger = logging.getLogger(__name__)

TaskArg = int | str


def task_named(name: str) -> Task[Any, Any]:
    """The registered task called `name`, importing its module on first use."""
    if name not in app.tasks:
        import_module(name.rpartition(".")[0])
    return app.tasks[name]


def enqueue(name: str, *args: TaskArg) -> None:
    """Queue a task now. A broker outage is logged; the task's sweep catches up."""
    task = task_named(name)
    try:
        task.delay(*args)
    except Exception as e:  # noqa: BLE001 - kombu, redis and socket errors alike; the sweep makes up for it
        logger.warning(
            "could not queue %s%s (%s); its sweep will queue it again",
            name,
            args,
            type(e).__name__,
        )


def enqueue_on_commit(name: str, *args: TaskArg) -> None:
    """Queue a task once the current transaction commits (at once outside one)."""
    task_named(name)  # fail now, in the caller, on a wrong name
    transaction.on_commit(lambda: enqueue(name, *args))
