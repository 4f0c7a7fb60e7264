"""The Celery application. Broker and results in Redis (`REDIS_URL`); without it, eager.

Beat runs as `LockedScheduler` (settings: CELERY_BEAT_SCHEDULER): it holds a lock in
Redis while it runs, so a second beat started by mistake refuses to start instead
of queueing every periodic task twice.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from typing import Any

import redis
from celery import Celery
from celery.beat import PersistentScheduler
from celery.schedules import crontab
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "distribly.settings")

logger = logging.getLogger(__name__)

app = Celery("distribly")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The shortest pause between two stalled-import sweeps, whatever the threshold.
STALE_SWEEP_MIN_SECONDS = 15.0


def stale_sweep_seconds() -> float:
    """How often beat looks for dead imports: a quarter of the stale threshold (at
    least 15 s), so a batch is re-queued at most STALE * 1.25 after its worker died."""
    return max(STALE_SWEEP_MIN_SECONDS, settings.CODES_IMPORT_STALE_SECONDS / 4)


def beat_schedule() -> dict[str, dict[str, Any]]:
    """The periodic tasks (run by `make beat` / the `beat` service). Each entry points
    at a real task; add one only when its task exists. Built once Django's settings
    are loaded (some intervals follow them)."""
    return {
        # Every STALE/4 s (min 15 s): re-run imports whose worker died mid-way. The
        # import's acks_late message comes back only after the broker's visibility
        # timeout; this bounds recovery by CODES_IMPORT_STALE_SECONDS instead.
        "codes-resume-stalled-imports": {
            "task": "codes.tasks.batches_resume_stalled",
            "schedule": stale_sweep_seconds(),
        },
        # Every minute: big approvals and withdrawals (run in chunks by a task) whose
        # worker died: queued again, they resume at the last chunk committed.
        "codes-resume-batch-actions": {
            "task": "codes.tasks.batches_resume_actions",
            "schedule": 60.0,
        },
        # Every minute: release codes of checkouts abandoned past their reservation.
        "sales-expire-reservations": {
            "task": "sales.tasks.orders_expire_reservations",
            "schedule": 60.0,
        },
        # Every 5 minutes: seller webhooks whose queue message was lost or whose worker died.
        "codes-webhooks-sweep": {
            "task": "codes.tasks.webhooks_sweep",
            "schedule": 300.0,
        },
        # Daily, after the ECB publishes (around 16:00 CET): display-currency rates.
        "listings-exchange-rates": {
            "task": "listings.tasks.exchange_rates_refresh",
            "schedule": crontab(hour=15, minute=30),
        },
        # Every 5 minutes: sold-out checks whose queue message was lost.
        "sales-stock-sweep": {
            "task": "sales.tasks.listings_stock_sweep",
            "schedule": 300.0,
        },
        # Every 5 minutes: automatic refunds of paid orders that found no code, whose
        # queue message was lost or whose tries all failed.
        "sales-refund-sweep": {
            "task": "sales.tasks.orders_refund_sweep",
            "schedule": 300.0,
        },
        # Every 5 minutes: refunds still pending (their provider call kept failing or
        # the process died): checked against the provider's refunds, then asked again.
        "sales-pending-refunds-sweep": {
            "task": "sales.tasks.refunds_pending_sweep",
            "schedule": 300.0,
        },
        # Every 5 minutes: deliver held orders whose hold ran out without an early fraud
        # warning, and refund fraud-warned orders whose refund task was lost.
        "sales-release-holds": {
            "task": "sales.tasks.orders_release_holds",
            "schedule": 300.0,
        },
        # Every 5 minutes: problems reported that the seller left unanswered past their
        # deadline are refunded automatically.
        "sales-claims-unanswered": {
            "task": "sales.tasks.claims_unanswered_sweep",
            "schedule": 300.0,
        },
        # Every 10 minutes: refund backorders past their limit, fill the others (an
        # approval's queue message may have been lost).
        "sales-backorders-sweep": {
            "task": "sales.tasks.backorders_sweep",
            "schedule": 600.0,
        },
        # Hourly: remind sellers to disable cancelled codes on their own system.
        "sales-disable-reminders": {
            "task": "sales.tasks.codes_disable_remind",
            "schedule": crontab(minute=17),
        },
        # Every 5 minutes: waitlists of listings on sale (stock that rose, windows that
        # passed), "back in stock" emails whose queue message was lost, and sign-ups
        # never confirmed within a week.
        "listings-waitlists-sweep": {
            "task": "listings.tasks.waitlists_sweep",
            "schedule": 300.0,
        },
        # Hourly: remind buyers EXPIRY_REMINDER_DAYS before fixed-length codes run out.
        "sales-expiry-reminders": {
            "task": "sales.tasks.orders_expiry_remind",
            "schedule": crontab(minute=23),
        },
        # Hourly: recount every listing's stock from its codes and repair any drift
        # of the counters (they are kept in the same transactions; this is the check).
        "listings-stock-reconcile": {
            "task": "listings.tasks.listings_stock_reconcile",
            "schedule": crontab(minute=41),
        },
        # Every minute: send delivery emails whose queue message was lost (outbox sweep).
        "sales-deliveries-sweep": {
            "task": "sales.tasks.deliveries_sweep",
            "schedule": 60.0,
        },
    }


@app.on_after_configure.connect
def _install_beat_schedule(sender: Celery, **kwargs: Any) -> None:
    sender.conf.beat_schedule = beat_schedule()


# --- One beat at a time ------------------------------------------------------------------
BEAT_LOCK_KEY = "distribly:celery-beat-lock"
# Renew only if the value is still ours, release only our own lock (a beat that lost
# its lock during a Redis outage must not delete its successor's).
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


class BeatLockHeld(SystemExit):
    """Another beat holds the lock (or ours was taken over): this process must stop."""


class BeatLock:
    """A Redis lock (`SET NX PX`) with a random token and a TTL, renewed while held.

    A beat that dies without releasing it (SIGKILL, a lost node) blocks its
    successor for at most `ttl` seconds.
    """

    def __init__(
        self, client: redis.Redis, *, ttl: float, key: str = BEAT_LOCK_KEY
    ) -> None:
        self.client = client
        self.key = key
        self.ttl_ms = int(ttl * 1000)
        self.token = secrets.token_hex(16)
        self.renewed_at = 0.0

    def acquire(self) -> bool:
        taken = bool(self.client.set(self.key, self.token, nx=True, px=self.ttl_ms))
        if taken:
            self.renewed_at = time.monotonic()
        return taken

    def renew(self) -> bool:
        """Extend the TTL; False when the lock is no longer ours."""
        renewed = bool(self.client.eval(_RENEW, 1, self.key, self.token, self.ttl_ms))
        if renewed:
            self.renewed_at = time.monotonic()
        return renewed

    def release(self) -> None:
        self.client.eval(_RELEASE, 1, self.key, self.token)

    def holder(self) -> str | None:
        value = self.client.get(self.key)
        return value.decode() if isinstance(value, bytes) else None


class LockedScheduler(PersistentScheduler):
    """Celery beat's file-backed scheduler, run only while holding the beat lock.

    The lock is taken before the schedule file is opened, renewed every third of
    its TTL (beat wakes up at least that often), and released on a clean stop.
    If the lock cannot be taken, or is found taken over, beat exits with a message.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.lock = BeatLock(
            redis.Redis.from_url(settings.REDIS_URL or "redis://127.0.0.1:6379/0"),
            ttl=settings.BEAT_LOCK_SECONDS,
        )
        self.lock_held = False
        super().__init__(*args, **kwargs)

    def setup_schedule(self) -> None:
        if not settings.REDIS_URL:
            raise BeatLockHeld("celery beat needs REDIS_URL (the broker and its lock)")
        if not self.lock.acquire():
            raise BeatLockHeld(
                f"Another celery beat holds the lock {self.lock.key!r} in Redis: "
                "refusing to start, so that periodic tasks are not queued twice. "
                f"If that beat is gone, its lock expires within {settings.BEAT_LOCK_SECONDS} s."
            )
        self.lock_held = True
        logger.info("beat: holding the lock %s", self.lock.key)
        super().setup_schedule()

    def tick(self, *args: Any, **kwargs: Any) -> float:
        every = settings.BEAT_LOCK_SECONDS / 3
        if time.monotonic() - self.lock.renewed_at >= every:
            self._renew()
        return min(super().tick(*args, **kwargs), every)

    def _renew(self) -> None:
        try:
            renewed = self.lock.renew()
        except redis.RedisError:
            # Redis is down: nothing can be queued anyway. If the lock expires and
            # another beat takes it meanwhile, the next renewal finds out.
            logger.warning("beat: could not renew the lock (Redis unreachable)")
            return
        if not renewed:
            self.lock_held = False
            raise BeatLockHeld(
                "celery beat lost its lock to another beat: stopping, so that "
                "periodic tasks are not queued twice"
            )

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.lock_held:
                self.lock_held = False
                try:
                    self.lock.release()
                except redis.RedisError:
                    logger.warning("beat: could not release the lock; it expires")
