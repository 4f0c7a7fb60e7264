"""`make bench-scale`: the scale ladder (issue 15 target 5). A benchmark, not a test.

1. On the freshly migrated database: import 100,000 codes and time purchases (the
   empty-table figures).
2. Generate the marketplace in SQL, server-side (INSERT ... SELECT over
   generate_series, indexes built after the load): by default 10M codes across
   10k sellers and 1M orders, one seller holding 1M codes and 100k orders.
   Rows are cloned from template rows made through the services, so every
   column is one the product writes.
3. The same import and purchases again, and the big seller's pages (Items I'm
   selling, Sales first and deep, the batch page), the public pages (home, search,
   product page) and the staff changelists (codes, orders, batches, filtered),
   each requested 20 times through Django's test client: p50 and p95.

Usage: make bench-scale [BENCH_ARGS="--codes 2000000 --sellers 2000 --orders 200000"]
       make bench-smoke runs it at tiny sizes, so it cannot rot.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import psycopg

from tests.bench.run import (
    BENCH_ENV,
    DATA,
    ensure_database,
    flush_redis,
    make_listing,
    manage,
    timed_import,
    write_codes,
)

ROOT = Path(__file__).resolve().parents[2]
TARGET_MS = 100
SPREAD = "((m.g::bigint * 7919 + n::bigint * 104729) % 2592000)"

TEMPLATES = """
import json
from decimal import Decimal
from codes.importing.generator import GeneratorOptions
from codes.models import Code
from codes.services.batches import batch_action_run, batch_approve, batch_create_generated
from codes.services.imports import code_batch_import
from distribly.accounts.services import user_ensure
from listings.services import listing_approve, listing_create
from sales.services.checkout import order_place
from sales.services.payments import payment_confirm
staff, _ = user_ensure(email='scale-staff@bench.test', password=None, is_staff=True)
staff.is_superuser = True
staff.save()
seller, _ = user_ensure(email='scale-template@bench.test', password=None)
listing = listing_create(seller=seller, title='Template', price=Decimal('5'), currency='USD',
                         instructions='Use it at https://example.com', max_per_order=1)
batch = code_batch_import(batch_id=batch_create_generated(listing=listing, options=GeneratorOptions(count=3)).pk)
batch_approve(batch=batch, by=staff)
listing_approve(listing=listing, by=staff)
placed = order_place(listing_id=listing.pk, quantity=1, email='template@bench.test')
payment_confirm(payment_id=placed.payment.pk)
code = Code.objects.get(order_id=placed.order.pk)
print(json.dumps({'staff': staff.pk, 'seller': seller.pk, 'listing': listing.pk, 'batch': batch.pk,
                  'order': placed.order.pk, 'code': code.pk}))
"""


def columns(cur: psycopg.Cursor[Any], table: str) -> list[str]:
    rows = cur.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
        " AND column_name <> 'id' ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return [r[0] for r in rows]


def clone(
    cur: psycopg.Cursor[Any],
    table: str,
    template_id: int,
    source: str,
    overrides: dict[str, str],
) -> int:
    """INSERT one row per row of `source` (a FROM clause), copying the template row
    `t` except the columns in `overrides` (SQL over `t` and the source)."""
    cols = columns(cur, table)
    select = ", ".join(overrides.get(c, f"t.{c}") for c in cols)
    cur.execute(
        f"INSERT INTO {table} ({', '.join(cols)}) SELECT {select} "
        f"FROM {table} t, {source} WHERE t.id = {int(template_id)}"
    )
    return cur.rowcount


def load(url: str, t: dict[str, int], args: argparse.Namespace) -> float:
    """The marketplace, in SQL. Seller 1 is the big one."""
    small_codes = (args.codes - args.big_codes) // (args.sellers - 1)
    small_orders = (args.orders - args.big_orders) // (args.sellers - 1)
    per = (
        f"(CASE WHEN m.g = 1 THEN {args.big_codes} ELSE {small_codes} END)",
        f"(CASE WHEN m.g = 1 THEN {args.big_orders} ELSE {small_orders} END)",
    )
    start = time.perf_counter()
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SET maintenance_work_mem = '1GB'")
        cur.execute("SET max_parallel_maintenance_workers = 2")
        clone(cur, "accounts_user", t["seller"], f"generate_series(1, {args.sellers}) g", {
            "email": "'scale-seller-' || g || '@bench.test'",
            "display_name": "'Scale seller ' || g",
        })  # fmt: skip
        cur.execute(
            "CREATE TABLE bench_map AS SELECT split_part(split_part(email, '@', 1), '-', 3)::int AS g,"
            " id AS user_id, 0 AS listing_id, 0 AS batch_id FROM accounts_user"
            " WHERE email LIKE 'scale-seller-%%@bench.test'"
        )
        # Verified emails: allauth's verified_email_required lets the sellers in.
        cur.execute(
            'INSERT INTO account_emailaddress (user_id, email, verified, "primary")'
            " SELECT user_id, 'scale-seller-' || g || '@bench.test', true, true FROM bench_map"
        )
        clone(cur, "listings_listing", t["listing"], "bench_map m", {
            "seller_id": "m.user_id",
            "title": "'Scale listing ' || m.g || (CASE WHEN m.g = 1 THEN ' (the big one)' ELSE '' END)",
            "created_at": "now() - (m.g || ' minutes')::interval",
        })  # fmt: skip
        cur.execute(
            "UPDATE bench_map m SET listing_id = l.id FROM listings_listing l"
            " WHERE l.seller_id = m.user_id"
        )
        clone(cur, "codes_codebatch", t["batch"], "bench_map m", {
            "listing_id": "m.listing_id", "seller_id": "m.user_id",
            "accepted": per[0], "lines_processed": per[0],
        })  # fmt: skip
        cur.execute(
            "UPDATE bench_map m SET batch_id = b.id FROM codes_codebatch b"
            " WHERE b.listing_id = m.listing_id"
        )
        conn.commit()
        clone(cur, "sales_order", t["order"], f"bench_map m, generate_series(1, {per[1]}) n", {
            "listing_id": "m.listing_id", "seller_id": "m.user_id",
            "email": "'buyer-' || ((m.g::bigint * 7919 + n) % 5000) || '@bench.test'",
            "reference": "'S' || to_hex(m.g::bigint * 1000000 + n)",  # 11 characters at most
            "token": "md5('token-' || m.g || '-' || n)",
            # Spread over 30 days, to the second.
            "created_at": f"now() - ({SPREAD} || ' seconds')::interval",
            "paid_at": f"now() - ({SPREAD} || ' seconds')::interval",
            "fulfilled_at": f"now() - ({SPREAD} || ' seconds')::interval",
        })  # fmt: skip
        conn.commit()
        # The codes table without its secondary indexes while it loads; built after.
        indexes = cur.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'codes_code'"
            " AND indexname <> 'codes_code_pkey'"
        ).fetchall()
        constraints = cur.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = 'codes_code'::regclass AND contype = 'u'"
        ).fetchall()
        for name, _ in constraints:
            cur.execute(f'ALTER TABLE codes_code DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            cur.execute(f'DROP INDEX IF EXISTS "{name}"')
        clone(cur, "codes_code",  t["code"],
              f"bench_map m CROSS JOIN generate_series(1, {per[0]}) n"
              " LEFT JOIN sales_order o ON o.reference = 'S' || to_hex(m.g::bigint * 1000000 + n)", {
            "seller_id": "m.user_id", "listing_id": "m.listing_id", "batch_id": "m.batch_id",
            "line": "n", "digest": "sha256(('scale-' || m.g || '-' || n)::bytea)",
            "status": "(CASE WHEN o.id IS NULL THEN 'available' ELSE 'sold' END)",
            "order_id": "o.id", "approved": "true",
            "sold_at": "o.paid_at", "reserved_until": "NULL",
        })  # fmt: skip
        for name, definition in constraints:
            cur.execute(f'ALTER TABLE codes_code ADD CONSTRAINT "{name}" {definition}')
        for name, definition in indexes:
            if not any(name == c for c, _ in constraints):
                cur.execute(definition)
        cur.execute(
            "INSERT INTO listings_listingstock (listing_id, available, reserved, sold, redeemed)"
            f" SELECT m.listing_id, {per[0]} - {per[1]}, 0, {per[1]}, 0 FROM bench_map m"
        )
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")
    return time.perf_counter() - start


PAGES = r"""
import json, os, statistics, time
from django.test import Client
from django.urls import reverse
from distribly.accounts.models import User
from codes.models import CodeBatch
from listings.models import Listing
from sales.models import Order
big = User.objects.get(email='scale-seller-1@bench.test')
listing = Listing.objects.get(seller=big)
batch = CodeBatch.objects.get(listing=listing)
middle = Order.objects.filter(seller=big).order_by('-created_at', '-pk')[Order.objects.filter(seller=big).count() // 2]
from distribly.pagination import cursor_of
seller, staff, public = (Client(HTTP_HOST='localhost') for _ in range(3))
seller.force_login(big)
staff.force_login(User.objects.get(email='scale-staff@bench.test'))
pages = [
    ('home', public, '/'),
    ('search "the big one" (1 match)', public, '/search/?q=the+big+one'),
    ('search "scale listing" (matches all)', public, '/search/?q=scale+listing'),
    ('search, best-selling', public, '/search/?sort=best_selling'),
    ('product page (big listing)', public, f'/items/{listing.pk}/'),
    ("Items I'm selling (big seller)", seller, reverse('listings:listing-list')),
    ('Sales, first page', seller, reverse('sales:sales-list')),
    ('Sales, deep page', seller, reverse('sales:sales-list') + '?older=' + cursor_of(middle)),
    ('batch page (1 batch of the big listing)', seller, batch.get_absolute_url()),
    ('admin: codes', staff, '/admin/codes/code/'),
    ('admin: codes sold', staff, '/admin/codes/code/?status__exact=sold'),
    ('admin: codes of a batch', staff, f'/admin/codes/code/?q={batch.pk}'),
    ('admin: orders by email', staff, '/admin/sales/order/?q=buyer-7%40bench.test'),
    ('admin: orders', staff, '/admin/sales/order/'),
    ('admin: orders refunded', staff, '/admin/sales/order/?status__exact=refunded'),
    ('admin: batches', staff, '/admin/codes/codebatch/'),
    ('admin: listings', staff, '/admin/listings/listing/'),
    ('sitemap index', public, '/sitemap.xml'),
]
out = []
for name, client, url in pages:
    times = []
    for i in range(int(os.environ.get('BENCH_REPEAT', '20')) + 2):
        t = time.perf_counter()
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f'{name}: {url} answered {response.status_code}')
        if i >= 2:
            times.append((time.perf_counter() - t) * 1000)
    times.sort()
    out.append((name, statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]))
print(json.dumps(out))
"""

PURCHASES = """
import json, time
from listings.models import Listing
from sales.services.checkout import checkout_start, order_place
from sales.services.payments import payment_confirm
listing = Listing.objects.get(pk=%d)
def once():
    placed = order_place(listing_id=listing.pk, quantity=1, email='scale-buyer@bench.test')
    checkout_start(placed=placed, success_url='http://x/ok', cancel_url='http://x/no')
    payment_confirm(payment_id=placed.payment.pk)
for _ in range(5):
    once()
n, until = 0, time.time() + %f
while time.time() < until:
    once(); n += 1
print(json.dumps(n / %f))
"""


def purchases_per_second(env: dict[str, str], listing_id: int, seconds: float) -> float:
    result = manage("shell", "-c", PURCHASES % (listing_id, seconds, seconds), env=env)
    if result.returncode != 0:
        raise SystemExit(result.stderr[-3000:])
    return float(json.loads(result.stdout.strip().splitlines()[-1]))


def stocked_listing(env: dict[str, str], email: str, codes: int) -> int:
    code = (
        "from codes.importing.generator import GeneratorOptions\n"
        "from codes.services.batches import batch_action_run, batch_approve, batch_create_generated\n"
        "from codes.services.imports import code_batch_import\n"
        "from distribly.accounts.models import User\n"
        "from listings.models import Listing\n"
        "from listings.services import listing_approve\n"
        f"l = Listing.objects.get(pk={make_listing(env, email)})\n"
        "staff = User.objects.get(email='scale-staff@bench.test')\n"
        f"b = code_batch_import(batch_id=batch_create_generated(listing=l, options=GeneratorOptions(count={codes})).pk)\n"
        "batch_approve(batch=b, by=staff); batch_action_run(batch_id=b.pk); listing_approve(listing=l, by=staff)\n"
        "print(l.pk)\n"
    )
    result = manage("shell", "-c", code, env=env)
    if result.returncode != 0:
        raise SystemExit(result.stderr[-3000:])
    return int(result.stdout.strip().splitlines()[-1])


def empty_and_full(
    env: dict[str, str], args: argparse.Namespace, label: str, n: int
) -> tuple[float, float]:
    """Import rate of the 100k file into a new listing, and purchases/s of one buyer
    on a new listing of 10,000 codes (each time on a new seller)."""
    path = DATA / f"codes-{args.import_codes}.csv"
    if not path.exists():
        write_codes(path, args.import_codes)
    listing = make_listing(env, f"scale-import-{n}@bench.test")
    elapsed, *_ = timed_import(listing, path, env)
    buy_listing = stocked_listing(env, f"scale-buy-{n}@bench.test", 10_000)
    rate = purchases_per_second(env, buy_listing, args.seconds)
    print(
        f"{label}: import {args.import_codes:,} codes {args.import_codes / elapsed:,.0f} codes/s; "
        f"purchases (1 buyer, services) {rate:,.0f}/s",
        flush=True,
    )
    return args.import_codes / elapsed, rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--codes", type=int, default=10_000_000)
    parser.add_argument("--sellers", type=int, default=10_000)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--big-codes", type=int, default=1_000_000)
    parser.add_argument("--big-orders", type=int, default=100_000)
    parser.add_argument("--import-codes", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument(
        "--pages-only",
        action="store_true",
        help="measure the pages again on the database a previous run left",
    )
    args = parser.parse_args()
    if args.smoke:
        args.codes, args.sellers, args.orders = 20_000, 20, 2_000
        args.big_codes, args.big_orders, args.import_codes = 5_000, 500, 2_000
        args.seconds = 1
        os.environ["BENCH_REPEAT"] = "3"
    url = os.environ["DATABASE_URL"]
    env = {**os.environ, **BENCH_ENV}
    if args.pages_only:
        manage("migrate", "--noinput", env=env).check_returncode()
        pages(env)
        return
    DATA.mkdir(exist_ok=True)
    ensure_database(url)
    manage("migrate", "--noinput", env=env).check_returncode()
    flush_redis()
    print(
        f"== Scale ladder: {args.codes:,} codes, {args.sellers:,} sellers, {args.orders:,} orders;"
        f" the big seller {args.big_codes:,} codes and {args.big_orders:,} orders"
    )
    result = manage("shell", "-c", TEMPLATES, env=env)
    if result.returncode != 0:
        raise SystemExit(result.stderr[-3000:])
    templates = json.loads(result.stdout.strip().splitlines()[-1])
    empty = empty_and_full(env, args, "empty tables", 1)
    seconds = load(url, templates, args)
    print(f"loaded in {seconds:,.0f} s (SQL, indexes built after)", flush=True)
    full = empty_and_full(env, args, "at scale", 2)
    print(
        f"at scale / empty: import {full[0] / empty[0]:.2f}, purchases {full[1] / empty[1]:.2f}"
        " (target: within 10 %, i.e. >= 0.90)"
    )
    pages(env)
    flush_redis()


def pages(env: dict[str, str]) -> None:
    result = manage("shell", "-c", PAGES, env=env)
    if result.returncode != 0:
        raise SystemExit(result.stderr[-3000:])
    print(f"{'page':<42} {'p50 ms':>8} {'p95 ms':>8}")
    for name, p50, p95 in json.loads(result.stdout.strip().splitlines()[-1]):
        flag = "" if p95 < TARGET_MS else "  over"
        print(f"{name:<42} {p50:>8.1f} {p95:>8.1f}{flag}")
    print(f"target: p95 under {TARGET_MS} ms for the big seller's and the public pages")


if __name__ == "__main__":
    main()
