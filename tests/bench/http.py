"""Purchases through the real pages: product page -> Buy -> the dev provider's Pay ->
the order page, against gunicorn (the project's gunicorn.conf.py, DEBUG off as in
production apart from the dev payment provider), tasks going to Redis, 8 buyers.

Prints purchases/s, the requests per purchase, and the queries each request runs
(counted once in-process with Django's test client on the same database).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from tests.bench.api import _wait_for, duration

ROOT = Path(__file__).resolve().parents[2]
PORT = 8766
BUYERS = 8
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _purchase(session: requests.Session, base: str, listing_id: int, n: int) -> int:
    """One purchase as a browser makes it; returns the requests it took. Each
    purchase comes from its own address (X-Forwarded-For, one trusted proxy), as
    buyers do: the per-address limits and fraud rules apply as in production."""
    pid = os.getpid()
    session.headers["X-Forwarded-For"] = f"10.{pid % 250}.{n // 250 % 250}.{n % 250}"
    page = session.get(f"{base}/items/{listing_id}/")
    page.raise_for_status()
    token = CSRF.search(page.text)
    if token is None:
        raise SystemExit("the product page has no buy form (sold out?)")
    buy = session.post(
        f"{base}/items/{listing_id}/buy/",
        data={
            "csrfmiddlewaretoken": token[1],
            "quantity": "1",
            "email": f"http-{os.getpid()}-{n}@example.com",
        },
        headers={"Referer": page.url},
        allow_redirects=False,
    )
    if buy.status_code != 302 or "/pay/test/" not in buy.headers["Location"]:
        raise SystemExit(f"Buy answered {buy.status_code}: {buy.text[:500]}")
    pay_url = base + buy.headers["Location"]
    pay_page = session.get(pay_url)
    token = CSRF.search(pay_page.text)
    assert token is not None
    paid = session.post(
        pay_url,
        data={"csrfmiddlewaretoken": token[1], "decision": "pay"},
        headers={"Referer": pay_url},
        allow_redirects=False,
    )
    if paid.status_code != 302 or "/orders/" not in paid.headers["Location"]:
        raise SystemExit(f"Pay answered {paid.status_code}")
    order = session.get(base + paid.headers["Location"])
    order.raise_for_status()
    return 5


def _buyer(args: tuple[str, int, Any]) -> tuple[int, int]:
    base, listing_id, barrier = args
    session = requests.Session()
    _purchase(session, base, listing_id, -1)  # warm: cookies, connections
    barrier.wait()
    until, done, sent = time.time() + duration(), 0, 0
    while time.time() < until:
        sent += _purchase(session, base, listing_id, done)
        done += 1
    return done, sent


def queries_per_request(listing_id: int) -> dict[str, int]:
    """Each page of one purchase through Django's test client, with its queries
    counted (same settings and database as the server)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "distribly.settings")
    import django  # noqa: PLC0415 - this process sets Django up only here

    django.setup()
    from django.db import connection  # noqa: PLC0415
    from django.test import Client  # noqa: PLC0415
    from django.test.utils import CaptureQueriesContext  # noqa: PLC0415

    client = Client(HTTP_HOST="127.0.0.1")
    counts: dict[str, int] = {}

    def step(
        name: str, method: str, url: str, data: dict[str, str] | None = None
    ) -> Any:
        with CaptureQueriesContext(connection) as queries:
            response = getattr(client, method)(url, data or {})
        counts[name] = len(queries.captured_queries)
        return response

    step("product page", "get", f"/items/{listing_id}/")
    buy = step(
        "Buy",
        "post",
        f"/items/{listing_id}/buy/",
        {"quantity": "1", "email": "count@example.com"},
    )
    step("payment page", "get", buy["Location"])
    paid = step("Pay", "post", buy["Location"], {"decision": "pay"})
    step("order page", "get", paid["Location"])
    return counts


def bench_http_purchases(env: dict[str, str], listing_id: int) -> None:
    print(
        f"== Purchases through the pages: gunicorn (gunicorn.conf.py), {BUYERS} buyers, {duration():.0f} s"
    )
    server_env = {
        **env,
        "GUNICORN_BIND": f"127.0.0.1:{PORT}",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "TRUSTED_PROXY_COUNT": "1",  # the buyers' X-Forwarded-For
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "distribly.wsgi:application", "-c", "gunicorn.conf.py",
         "--log-level", "warning"],
        cwd=ROOT, env=server_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_for(PORT)
        base = f"http://127.0.0.1:{PORT}"
        ctx = mp.get_context("spawn")
        with ctx.Manager() as manager:
            barrier = manager.Barrier(BUYERS)
            with ctx.Pool(BUYERS) as pool:
                results = pool.map(_buyer, [(base, listing_id, barrier)] * BUYERS)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    purchases = sum(done for done, _ in results)
    sent = sum(s for _, s in results)
    if not purchases:
        raise SystemExit("no purchase completed through the pages")
    rate = purchases / duration()
    print(
        f"through the pages: {rate:,.0f} purchases/s, {sent / purchases:.0f} requests per purchase, "
        f"{sent / duration():,.0f} requests/s (workers: GUNICORN_WORKERS={server_env.get('GUNICORN_WORKERS', '3')})"
    )
    counts = queries_per_request(listing_id)
    print(
        "queries per request: "
        + ", ".join(f"{name} {n}" for name, n in counts.items())
        + f" ({sum(counts.values())} per purchase)"
    )
    print("target: >= 100 purchases/s through the pages at 8 buyers")
