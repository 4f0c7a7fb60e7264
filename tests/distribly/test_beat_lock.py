"""One beat at a time: the lock in the real Redis (REDIS_URL). A second beat cannot
take it while the first holds it, takes it once its TTL has run out, and a second
`celery beat` process refuses to start with a clear message."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import redis
from django.conf import settings

from distribly.celery import BeatLock, BeatLockHeld, LockedScheduler, app
from tests.helpers import ROOT

pytestmark = pytest.mark.skipif(
    not settings.REDIS_URL, reason="needs Redis (set REDIS_URL)"
)

KEY = "distribly:test-beat-lock"


@pytest.fixture
def client():
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(KEY)
    yield client
    client.delete(KEY)


def test_a_second_beat_cannot_take_the_lock_until_its_ttl_runs_out(client):
    first = BeatLock(client, ttl=1, key=KEY)
    second = BeatLock(client, ttl=1, key=KEY)
    assert first.acquire()
    assert not second.acquire()
    time.sleep(0.6)
    assert first.renew()  # the first beat is alive: its lock lasts another second
    time.sleep(0.6)
    assert not second.acquire()
    time.sleep(1.1)  # the first beat died: no renewal
    assert second.acquire()
    assert second.holder() == second.token
    # the first one finds out at its next renewal, and cannot release the new lock
    assert not first.renew()
    first.release()
    assert second.holder() == second.token
    second.release()
    assert client.get(KEY) is None


def test_the_scheduler_refuses_to_start_while_another_beat_holds_the_lock(
    client, settings, tmp_path
):
    settings.BEAT_LOCK_SECONDS = 30
    holder = BeatLock(client, ttl=30)
    client.delete(holder.key)
    assert holder.acquire()
    try:
        with pytest.raises(BeatLockHeld, match="Another celery beat holds the lock"):
            LockedScheduler(app=app, schedule_filename=str(tmp_path / "schedule"))
        assert not list(tmp_path.iterdir())  # the schedule file was never opened
    finally:
        holder.release()
    scheduler = LockedScheduler(app=app, schedule_filename=str(tmp_path / "schedule"))
    try:
        assert scheduler.lock.holder() == scheduler.lock.token
        scheduler.lock.renewed_at -= 11  # a third of the TTL has passed: tick renews
        assert scheduler.tick() <= 10
        assert client.pttl(holder.key) > 29_000
        client.set(holder.key, "someone-else")  # taken over during an outage
        scheduler.lock.renewed_at -= 11
        with pytest.raises(BeatLockHeld, match="lost its lock"):
            scheduler.tick()
    finally:
        scheduler.close()
    assert client.get(holder.key) == b"someone-else"  # not ours to delete
    client.delete(holder.key)


def test_a_second_beat_process_exits_with_a_message(client, tmp_path):
    holder = BeatLock(client, ttl=30)
    client.delete(holder.key)
    assert holder.acquire()
    env = {
        **os.environ,
        "DJANGO_DEBUG": "True",
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BEAT_SCHEDULE_FILENAME": str(tmp_path / "schedule"),
        "PYTHONWARNINGS": "ignore",
    }
    env.pop("DATABASE_URL", None)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "celery", "-A", "distribly", "beat"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        holder.release()
    assert result.returncode != 0
    assert "Another celery beat holds the lock" in result.stderr + result.stdout
    assert not list(tmp_path.iterdir())
