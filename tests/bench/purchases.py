"""Purchases per second through checkout + fulfilment, against the raw-SQL ceiling.

The app tier is modelled like gunicorn: at most APP_WORKERS processes (2 x cores
+ 1) serve purchases; buyers beyond that wait their turn, as they would in the
server's accept queue. Each busy worker loops for BENCH_SECONDS (5) seconds through
order_place -> checkout_start (dev provider) -> payment_confirm, with the
delivery and stock tasks really enqueued on Redis (no worker consumes them during
the run). The ceiling runs the same statements as raw SQL through psycopg, one
connection per buyer, on the same database.

Why bound the app tier: 32 CPU-bound Django processes on 2 cores spend their time
waiting for the CPU between every round trip (measured: 35 purchases/s, with
~300 ms per Redis publish), which says nothing about the code.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from typing import Any

import django
import psycopg


def duration() -> float:
    """Seconds per run; `make bench-smoke` sets BENCH_SECONDS=1 (read when run)."""
    return float(float(os.environ.get("BENCH_SECONDS", "5")))


APP_WORKERS = 2 * (os.cpu_count() or 1) + 1


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "distribly.settings")
    django.setup()


def _purchase_full(listing_id: int) -> Any:
    _django()
    # Django is set up just above, in this spawned buyer process: models load only now.
    from sales.services.checkout import checkout_start, order_place  # noqa: PLC0415 - needs django.setup() first (spawned process)
    from sales.services.payments import payment_confirm  # noqa: PLC0415 - needs django.setup() first (spawned process)

    def once() -> None:
        placed = order_place(
            listing_id=listing_id, quantity=1, email="bench@example.com"
        )
        checkout_start(
            placed=placed, success_url="http://x/ok", cancel_url="http://x/no"
        )
        payment_confirm(payment_id=placed.payment.pk)

    return once


RAW_PLACE = [
    (
        "INSERT INTO sales_order (listing_id, seller_id, email, language, reference, token, quantity,"
        " unit_price, amount, currency, status, reserved_until, refunded_amount, note,"
        " client_network, session_key, created_at)"
        " VALUES (%s, %s, 'raw@example.com', 'en', substr(md5(random()::text || clock_timestamp()::text), 1, 11),"
        " md5(random()::text || clock_timestamp()::text), 1, 5, 5,"
        " 'USD', 'pending', now() + interval '31 minutes', 0, '', '', '', now()) RETURNING id"
    ),
    (
        "SELECT id FROM codes_code WHERE listing_id = %s AND status = 'available' AND approved"
        " ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
    ),
    (
        "UPDATE codes_code SET status = 'reserved', order_id = %s, reserved_until = now() + interval '31 minutes'"
        " WHERE id = %s AND status = 'available'"
    ),
    (
        "INSERT INTO sales_payment (order_id, provider, provider_ref, provider_payment_id, status, amount,"
        " currency, created_at) VALUES (%s, 'dev', md5(random()::text || clock_timestamp()::text), '',"
        " 'pending', 5, 'USD', now()) RETURNING id"
    ),
]


# The listing's stock counters, moved as the last statement of each transaction.
RAW_STOCK_RESERVE = (
    "UPDATE listings_listingstock SET available = available - 1, reserved = reserved + 1"
    " WHERE listing_id = %s"
)
RAW_STOCK_SELL = (
    "UPDATE listings_listingstock SET reserved = reserved - 1, sold = sold + 1"
    " WHERE listing_id = %s"
)


def _purchase_raw(listing_id: int, seller_id: int) -> Any:
    conn = psycopg.connect(os.environ["BENCH_PG_DSN"])

    def once() -> None:
        with conn.transaction():
            cur = conn.cursor()
            cur.execute("SET LOCAL random_page_cost = 1.1")
            order_id = cur.execute(RAW_PLACE[0], [listing_id, seller_id]).fetchone()[0]
            code_id = cur.execute(RAW_PLACE[1], [listing_id]).fetchone()[0]
            cur.execute(RAW_PLACE[2], [order_id, code_id])
            payment_id = cur.execute(RAW_PLACE[3], [order_id]).fetchone()[0]
            cur.execute(RAW_STOCK_RESERVE, [listing_id])  # last, as the app does
        with conn.transaction():
            cur = conn.cursor()
            cur.execute(
                "SELECT id FROM sales_payment WHERE id = %s FOR UPDATE", [payment_id]
            )
            cur.execute(
                "SELECT id FROM sales_order WHERE id = %s FOR UPDATE", [order_id]
            )
            cur.execute(
                "UPDATE sales_payment SET status = 'confirmed', confirmed_at = now() WHERE id = %s",
                [payment_id],
            )
            cur.execute(
                "UPDATE codes_code SET status = 'sold', sold_at = now(), reserved_until = NULL"
                " WHERE order_id = %s AND status = 'reserved'",
                [order_id],
            )
            cur.execute(
                "UPDATE sales_order SET status = 'fulfilled', paid_at = now(), fulfilled_at = now()"
                " WHERE id = %s",
                [order_id],
            )
            cur.execute(
                "INSERT INTO sales_delivery (order_id, status, attempts, last_error, created_at,"
                " updated_at) VALUES (%s, 'pending', 0, '', now(), now())",
                [order_id],
            )
            cur.execute(RAW_STOCK_SELL, [listing_id])

    return once


def _buyer(args: tuple[str, int, int, Any]) -> int:
    kind, listing_id, seller_id, barrier = args
    once = (
        _purchase_full(listing_id)
        if kind == "full"
        else _purchase_raw(listing_id, seller_id)
    )
    barrier.wait()  # everyone is set up: start together
    until = time.time() + duration()
    done = 0
    while time.time() < until:
        once()
        done += 1
    return done


def _rate(kind: str, listing_id: int, seller_id: int, buyers: int) -> float:
    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(buyers)
        with ctx.Pool(buyers) as pool:
            counts = pool.map(_buyer, [(kind, listing_id, seller_id, barrier)] * buyers)
    return sum(counts) / duration()


def bench_purchases(listing_id: int, raw_listing_id: int, seller_id: int) -> None:
    print(
        f"== Purchases/s through checkout + payment confirmation (1 code each, {duration():.0f} s per run)"
    )
    print(f"{'buyers':>6} {'full path/s':>12} {'raw SQL/s':>10} {'ratio':>6}")
    for buyers in (1, 8, 32):
        full = _rate("full", listing_id, seller_id, min(buyers, APP_WORKERS))
        raw = _rate("raw", raw_listing_id, seller_id, buyers)
        if not full or not raw:
            raise SystemExit(f"no purchases measured at {buyers} buyers")
        print(
            f"{buyers:>6} {full:>12,.0f} {raw:>10,.0f} {full / raw:>6.2f}", flush=True
        )
    print(
        f"(app tier: up to {APP_WORKERS} worker processes; raw SQL: one connection per buyer)"
    )
    print(
        "targets: full path >= 1/3 of raw at 1 and 8 buyers; no drop from 8 to 32 buyers"
    )
