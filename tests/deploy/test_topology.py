"""Many machines on one box (`make smoke`): two gunicorn web servers and two Celery
workers on one PostgreSQL and one Redis. 64 buyers at once, through both servers, for
a listing with 50 codes: exactly 50 sales, no code sold twice, every sale delivered
by the workers.

DEBUG is on only so that the local `dev` payment page can take the payments (no
payment provider to fake); the processes, database and broker are the production ones.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from tests.e2e.helpers import free_port, wait_until
from tests.helpers import ROOT

pytestmark = pytest.mark.deploy

DB_NAME = "distribly_topology"
DATABASE = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
REDIS = os.getenv("TOPOLOGY_REDIS_URL", "redis://127.0.0.1:6379/10")
CODES = 50
BUYERS = 64


def _psql(sql: str) -> None:
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c", sql], check=True
    )


def _env(tmp: Path) -> dict[str, str]:
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "CODES_", "STRIPE_", "PAYMENT_", "GUNICORN_"))
        and k not in ("DATABASE_URL", "REDIS_URL", "PYTEST_CURRENT_TEST")
    }
    return {
        **inherited,
        "DJANGO_DEBUG": "True",
        "PYTHONWARNINGS": "ignore",
        "DATABASE_URL": DATABASE,
        "REDIS_URL": REDIS,
        "PRIVATE_UPLOAD_ROOT": str(tmp / "uploads"),
        "MEDIA_ROOT": str(tmp / "media"),
        # Every buyer comes from 127.0.0.1: lift the per-network caps.
        "CHECKOUT_STARTS_PER_MINUTE": "10000",
        "CHECKOUT_MAX_OPEN_CODES": "10000",
        "FRAUD_VELOCITY_MAX_ORDERS": "100000",
        "FRAUD_VELOCITY_MAX_CODES": "100000",
    }


@pytest.fixture(scope="module")
def topology(tmp_path_factory) -> Iterator[tuple[list[int], int, psycopg.Connection]]:
    tmp = tmp_path_factory.mktemp("topology")
    _psql(f"DROP DATABASE IF EXISTS {DB_NAME}")
    _psql(f"CREATE DATABASE {DB_NAME}")
    redis.Redis.from_url(REDIS).flushdb()
    env = _env(tmp)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput"], cwd=ROOT, env=env, check=True, capture_output=True)  # fmt: skip
    seeded = subprocess.run(
        [*manage, "seed_demo", "--codes", str(CODES), "--json"],
        cwd=ROOT,
        env={**env, "CELERY_TASK_ALWAYS_EAGER": "True"},  # codes imported right here
        check=True,
        capture_output=True,
        text=True,
    )
    listing_id = json.loads(seeded.stdout)["listing"]["id"]
    ports = [free_port(), free_port()]
    processes = [
        subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py"],
            cwd=ROOT,
            env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "2"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ] + [
        subprocess.Popen(
            [
                *manage[:1],
                "-m",
                "celery",
                "-A",
                "distribly",
                "worker",
                "--pool=threads",
                "--concurrency=2",
                "--loglevel=WARNING",
                "-n",
                f"topology{n}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for n in (1, 2)
    ]
    db = psycopg.connect(
        f"host=127.0.0.1 user=postgres dbname={DB_NAME}", autocommit=True
    )
    try:
        for port in ports:
            wait_until(
                lambda port=port: _healthy(port), timeout=30, what=f"gunicorn on {port}"
            )
        yield ports, listing_id, db
    finally:
        db.close()
        for proc in processes:
            proc.send_signal(signal.SIGTERM)
        for proc in processes:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
            return bool(r.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _buyer(port: int, listing_id: int, n: int) -> str:
    """One buyer with their own browser session; where they ended up."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(jar), _NoRedirect()
    )
    base = f"http://127.0.0.1:{port}"

    def post(path: str, data: dict[str, str]) -> str:
        token = next(c.value for c in jar if c.name == "csrftoken")
        body = urllib.parse.urlencode({**data, "csrfmiddlewaretoken": token}).encode()
        try:
            opener.open(base + path, body, timeout=60)
        except urllib.error.HTTPError as e:
            return e.headers.get("Location") or f"status {e.code}"
        return "no redirect"

    opener.open(f"{base}/items/{listing_id}/", timeout=60).read()
    pay = post(
        f"/items/{listing_id}/buy/",
        {"quantity": "1", "email": f"buyer{n}@example.com"},
    )
    if "/pay/test/" not in pay:
        return "no stock"
    return post(urllib.parse.urlsplit(pay).path, {"decision": "pay"})


def _one(db: psycopg.Connection, sql: str, *args: Any) -> Any:
    row = db.execute(sql, args).fetchone()
    assert row is not None
    return row[0]


def test_sixty_four_buyers_on_two_servers_and_two_workers_buy_fifty_codes(topology):
    ports, listing_id, db = topology
    stock = _one(
        db,
        "SELECT count(*) FROM codes_code WHERE listing_id = %s AND status = 'available' AND approved",
        listing_id,
    )
    assert stock == CODES
    results: list[str] = []
    lock = threading.Lock()

    def run(n: int) -> None:
        outcome = _buyer(ports[n % 2], listing_id, n)
        with lock:
            results.append(outcome)

    start = threading.Barrier(BUYERS)
    threads = [
        threading.Thread(target=lambda n=n: (start.wait(), run(n)))
        for n in range(BUYERS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    paid = [r for r in results if "/orders/" in r]
    assert len(results) == BUYERS
    assert len(paid) == CODES, sorted(set(results))
    assert results.count("no stock") == BUYERS - CODES

    # Exactly 50 codes sold, each to a different paid order, each order one code.
    sold = db.execute(
        "SELECT order_id, count(*) FROM codes_code WHERE listing_id = %s "
        "AND status = 'sold' GROUP BY order_id",
        (listing_id,),
    ).fetchall()
    assert len(sold) == CODES
    assert {count for _order, count in sold} == {1}
    orders = {order for order, _count in sold}
    assert len(orders) == CODES
    assert (
        _one(
            db,
            "SELECT count(*) FROM sales_order WHERE listing_id = %s AND paid_at IS NOT NULL",
            listing_id,
        )
        == CODES
    )
    assert not _one(
        db,
        "SELECT count(*) FROM codes_code WHERE listing_id = %s AND status = 'available'",
        listing_id,
    )
    # The two workers send every delivery email.
    wait_until(
        lambda: (
            _one(
                db,
                "SELECT count(*) FROM sales_delivery WHERE order_id = ANY(%s) AND status = 'sent'",
                list(orders),
            )
            == CODES
        ),
        timeout=90,
        what="every delivery sent by the workers",
    )
