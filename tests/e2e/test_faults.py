"""Faults the product will meet, each a test that fails if the guarantee breaks:
a worker killed mid-import, Redis down when an order commits, an SMTP server
refusing mail for a while, and an abandoned checkout."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connection
from django.utils import timezone

from codes.models import Code, CodeBatch
from codes.services.batches import batch_create_upload
from codes.services.imports import batches_resume_stalled
from distribly.celery import app
from sales.models import Delivery, Order
from sales.services.delivery import deliveries_sweep
from sales.tasks import orders_expire_reservations_task
from tests.e2e.helpers import free_port, wait_until
from tests.helpers import ROOT

pytestmark = pytest.mark.django_db(transaction=True)


def checkout(client, listing, email="fault@example.com", quantity=1, pay=True) -> Order:
    response = client.post(
        f"/items/{listing.pk}/buy/", {"quantity": quantity, "email": email}
    )
    order = Order.objects.order_by("-pk").first()
    if pay:
        client.post(response["Location"], {"decision": "pay"})
        order.refresh_from_db()
    return order


def test_smtp_refusing_mail_for_a_while_delivers_exactly_once(
    client, worker, smtp, active_listing
):
    listing = active_listing(codes=2)
    smtp.messages.clear()
    smtp.refuse, smtp.refuse_to = 2, "fault@example.com"  # "451 try again later" twice
    order = checkout(client, listing)
    assert order.status == Order.Status.FULFILLED
    code = Code.objects.get(order_id=order.pk)
    assert (
        code.reveal() in client.get(order.get_absolute_url()).content.decode()
    )  # at once
    [_] = smtp.wait_for("fault@example.com", listing.title, timeout=60)  # exactly one
    delivery = wait_until(
        lambda: Delivery.objects.filter(order=order, status="sent").first(), what="sent"
    )
    assert delivery.attempts == 3
    assert smtp.refused == 2
    time.sleep(1)
    assert len(smtp.to("fault@example.com")) == 1


def test_an_abandoned_checkout_returns_its_codes_after_expiry(
    client, worker, active_listing
):
    listing = active_listing(codes=3)
    order = checkout(client, listing, quantity=2, pay=False)
    assert Code.objects.filter(listing=listing, status="available").count() == 1
    Order.objects.filter(pk=order.pk).update(
        reserved_until=timezone.now() - timedelta(seconds=1)
    )
    orders_expire_reservations_task.delay()  # what beat does every minute
    wait_until(
        lambda: Code.objects.filter(listing=listing, status="available").count() == 3,
        what="codes back in stock",
    )
    order.refresh_from_db()
    assert order.status == Order.Status.EXPIRED


@pytest.fixture
def spare_redis(tmp_path):
    """A Redis of our own, so that it can be stopped and started mid-test."""
    port = free_port()
    binary = shutil.which("redis-server")
    assert binary, "redis-server is needed for the fault tests"

    def start():
        subprocess.run([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                        "--daemonize", "yes", "--pidfile", str(tmp_path / "redis.pid"), "--dir", str(tmp_path)], check=True)  # fmt: skip
        wait_until(
            lambda: (
                subprocess.run(
                    ["redis-cli", "-p", str(port), "ping"], capture_output=True
                ).stdout.strip()
                == b"PONG"
            ),
            what="redis",
        )

    def stop():
        subprocess.run(
            ["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True
        )
        wait_until(
            lambda: (
                subprocess.run(
                    ["redis-cli", "-p", str(port), "ping"], capture_output=True
                ).returncode
                != 0
            ),
            what="redis down",
        )

    start()
    yield type(
        "Spare",
        (),
        {
            "url": f"redis://127.0.0.1:{port}/0",
            "start": staticmethod(start),
            "stop": staticmethod(stop),
        },
    )
    stop()


def test_redis_down_when_an_order_commits_the_email_goes_out_once_it_is_back(
    client, smtp, spare_redis, active_listing, settings
):
    listing = active_listing(codes=2)  # (eager, before we switch brokers)
    smtp.messages.clear()
    previous = app.conf.broker_url
    app.conf.broker_url = spare_redis.url
    app._pool = None  # producers reconnect to the new broker
    app.amqp._producer_pool = None
    app.conf.task_always_eager = False
    app.conf.broker_connection_retry = True
    try:
        with start_worker(
            app, pool="solo", perform_ping_check=False, shutdown_timeout=20
        ):
            spare_redis.stop()
            order = checkout(client, listing)  # the delivery task can't be queued
            assert order.status == Order.Status.FULFILLED
            code = Code.objects.get(order_id=order.pk)
            assert (
                code.reveal() in client.get(order.get_absolute_url()).content.decode()
            )
            assert Delivery.objects.get(order=order).status == Delivery.Status.PENDING
            spare_redis.start()
            Delivery.objects.filter(order=order).update(
                updated_at=timezone.now() - timedelta(minutes=5)
            )
            deliveries_sweep()  # what beat does every minute
            smtp.wait_for("fault@example.com", listing.title, timeout=60)
            wait_until(
                lambda: Delivery.objects.get(order=order).status == "sent",
                what="delivery sent",
            )
            deliveries_sweep()
            time.sleep(1)
    finally:
        app.conf.broker_url = previous
        app._pool = None
        app.amqp._producer_pool = None
        app.conf.task_always_eager = True
    assert len(smtp.to("fault@example.com")) == 1


def test_worker_killed_mid_import_then_restarted_imports_every_line_once(
    seller, listing_factory, settings, tmp_path
):
    settings.PRIVATE_UPLOAD_ROOT = tmp_path / "uploads"
    settings.CODES_IMPORT_STALE_SECONDS = 3
    app.conf.task_always_eager = False
    listing = listing_factory(seller=seller)
    lines = [f"KILL-{secrets.token_hex(10).upper()}" for _ in range(300_000)]
    path = tmp_path / "big.csv"
    path.write_text("\n".join(lines + lines[:10]) + "\n")  # ten duplicates at the end

    db = connection.settings_dict
    worker_env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "PRIVATE_UPLOAD_ROOT": str(settings.PRIVATE_UPLOAD_ROOT),
        "CODES_IMPORT_STALE_SECONDS": "3",
        "DJANGO_DEBUG": "True",
        "PYTHONWARNINGS": "ignore",
    }

    def start_worker_process() -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "distribly", "worker", "--pool=solo", "--concurrency=1",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=WARNING", "-n", f"kill{time.time_ns()}@%h"],
            cwd=ROOT, env=worker_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    app.control.purge()
    first = start_worker_process()
    second = None
    try:
        with path.open("rb") as handle:
            batch = batch_create_upload(
                listing=listing, file=handle, filename="big.csv", has_header=False
            )
        # the task was queued on commit; the worker picks it up
        wait_until(
            lambda: CodeBatch.objects.get(pk=batch.pk).lines_processed > 20_000,
            timeout=60,
            what="import under way",
        )
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        batch.refresh_from_db()
        assert batch.status == CodeBatch.Status.IMPORTING
        assert Code.objects.filter(batch=batch).count() == 0  # nothing half-merged

        second = start_worker_process()
        time.sleep(3.5)  # the heartbeat goes stale
        assert batches_resume_stalled() == [batch.pk]  # what beat does
        wait_until(
            lambda: CodeBatch.objects.get(pk=batch.pk).is_finished,
            timeout=120,
            what="import finished",
        )
        batch.refresh_from_db()
        assert batch.status == CodeBatch.Status.IMPORTED
        assert (batch.accepted, batch.duplicates, batch.rejected) == (300_000, 10, 0)
        assert Code.objects.filter(batch=batch).count() == 300_000
        assert batch.import_attempts == 2
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        app.conf.task_always_eager = True
        app.control.purge()
