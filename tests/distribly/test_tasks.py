"""distribly.tasks: tasks are queued by name; every name in use must resolve."""

from __future__ import annotations

import pytest
from celery.exceptions import NotRegistered

from distribly.celery import app
from distribly.tasks import task_named


def test_every_periodic_task_is_registered():
    for entry in app.conf.beat_schedule.values():
        assert task_named(entry["task"]).name == entry["task"]


def test_a_task_keeps_the_name_it_was_registered_under_in_another_app():
    # The API key task moved to api/tasks.py; queued messages still use the codes name.
    assert task_named("codes.tasks.email_api_key_suspended").name.startswith(
        "codes.tasks."
    )


def test_an_unknown_task_name_fails_in_the_caller():
    with pytest.raises(NotRegistered):
        task_named("sales.tasks.no_such_task")
