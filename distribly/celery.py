"""The Celery application. Broker and results in Redis (`REDIS_URL`); without it, eager."""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "distribly.settings")

app = Celery("distribly")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Periodic tasks (run by `make beat` / the `beat` service). Each entry points at
# a real task; add one only when its task exists.
app.conf.beat_schedule = {
    # Every 5 minutes: re-run imports whose worker died mid-way (acks_late covers
    # most crashes; this catches a batch stuck in `importing` with no message left).
    "codes-resume-stalled-imports": {
        "task": "codes.tasks.batches_resume_stalled",
        "schedule": 300.0,
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
    # Every minute: send delivery emails whose queue message was lost (outbox sweep).
    "sales-deliveries-sweep": {
        "task": "sales.tasks.deliveries_sweep",
        "schedule": 60.0,
    },
}
