"""`make bench`: performance figures on PostgreSQL. A benchmark, not a test.

Prints, for the import engine (issue: sellers list unique codes):
  * import_codes of 1,000,000 random 24-character codes, end to end (a fresh
    `manage.py import_codes` process: read, validate, encrypt, COPY, merge,
    dedupe report): codes/s and the process's peak RSS;
  * 100,000 codes with 5 % duplicates: codes/s and that every duplicate is reported;
  * the ceiling: the same rows COPYed straight into an unindexed table.

Usage: make bench [BENCH_ARGS="--codes 1000000"]
       make bench-smoke   (tiny sizes, 1 s runs: CI checks every figure is produced)
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import string
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import redis

from tests.bench.api import bench_verify
from tests.bench.http import bench_http_purchases
from tests.bench.purchases import bench_purchases

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "bench-data"
ALPHABET = string.ascii_uppercase + string.digits
BENCH_ENV = {
    "DJANGO_DEBUG": "True",
    "PYTHONWARNINGS": "ignore",
    "LOG_LEVEL": "WARNING",
    "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9"),
}


def ensure_database(url: str) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if exists:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def write_codes(path: Path, count: int, dup_every: int = 0) -> int:
    """Random 24-character codes; with dup_every=20, every 20th line repeats an earlier one."""
    dups = 0
    recent: list[str] = []
    with path.open("w") as f:
        for i in range(count):
            if dup_every and i and i % dup_every == 0:
                f.write(recent[secrets.randbelow(len(recent))] + "\n")
                dups += 1
                continue
            code = "".join(secrets.choice(ALPHABET) for _ in range(24))
            if len(recent) < 10_000:
                recent.append(code)
            f.write(code + "\n")
    return dups


def timed_import(
    listing_id: int, path: Path, env: dict[str, str]
) -> tuple[float, dict[str, object], float, str]:
    """Seconds, the --json report, the peak RSS (MB) of one import_codes process, and
    what the server did meanwhile (WAL, checkpoints: others' work shows there too)."""
    before = _server_state(env["DATABASE_URL"])
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        command = ["manage.py", "import_codes", str(listing_id), str(path), "--json"]
        process = subprocess.Popen(
            [sys.executable, *command],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=err,
        )
        # wait4: this child's own peak RSS (RUSAGE_CHILDREN keeps the max of all).
        _pid, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - start
        if process.returncode != 0:
            err.seek(0)
            raise SystemExit(f"import_codes failed: {err.read()[-2000:].decode()}")
        out.seek(0)
        report = json.loads(out.read())
    after = _server_state(env["DATABASE_URL"])
    server = (
        f"server-wide meanwhile: {(after[0] - before[0]) / 2**20:,.0f} MB of WAL, "
        f"{after[1] - before[1]} checkpoint(s)"
    )
    return elapsed, report, usage.ru_maxrss / 1024, server


def _server_state(url: str) -> tuple[int, int]:
    """WAL position (bytes) and checkpoints so far, of the whole server."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn, "
            "checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def make_listing(env: dict[str, str], email: str) -> int:
    code = (
        "from decimal import Decimal\n"
        "from distribly.accounts.services import user_ensure\n"
        "from listings.services import listing_create\n"
        f"u,_ = user_ensure(email={email!r}, password=None)\n"
        "l = listing_create(seller=u, title='Bench', price=Decimal('5'), currency='USD', instructions='Use it')\n"
        "print(l.pk)\n"
    )
    result = manage("shell", "-c", code, env=env)
    if result.returncode != 0:
        raise SystemExit(result.stderr)
    return int(result.stdout.strip().splitlines()[-1])


def copy_ceiling(url: str, path: Path) -> tuple[float, float]:
    """Rows/s of a binary COPY of as many (line, 32-byte digest, 52-byte blob) rows as
    the file has lines: into a bare table, and into a table shaped like codes_code
    (its indexes and constraints) in one transaction, as the import writes them
    (random digests, sorted within each 32,768-row chunk)."""
    rows = sum(1 for _ in path.open())
    blob, digest = os.urandom(52), os.urandom(32)
    with psycopg.connect(url) as conn:
        conn.execute(
            "CREATE TEMP TABLE ceiling (line int, digest bytea, ciphertext bytea, key_id bigint)"
        )
        start = time.perf_counter()
        with conn.cursor().copy("COPY ceiling FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "bytea", "bytea", "int8"])
            for i in range(rows):
                copy.write_row((i, digest, blob, 1))
        conn.commit()
        bare = rows / (time.perf_counter() - start)

        conn.execute("DROP TABLE IF EXISTS bench_ceiling_codes")
        conn.execute("CREATE TABLE bench_ceiling_codes (LIKE codes_code INCLUDING ALL)")
        conn.commit()
        conn.execute("CHECKPOINT")  # start clean, as the import does after its own
        columns = "seller_id, listing_id, batch_id, line, digest, ciphertext, key_id, status, approved, created_at"
        types = ["int8", "int8", "int8", "int4", "bytea", "bytea", "int8", "text"]
        now = datetime.now(UTC)
        block = 32_768
        blocks = []
        for first in range(0, rows, block):
            digests = sorted(os.urandom(32) for _ in range(min(block, rows - first)))
            blocks.append((first, digests))
        start = time.perf_counter()
        conn.execute("SET synchronous_commit TO OFF")
        for first, digests in blocks:
            with conn.cursor().copy(
                f"COPY bench_ceiling_codes ({columns}) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types([*types, "bool", "timestamptz"])
                for i, d in enumerate(digests):
                    copy.write_row(
                        (1, 1, 1, first + i, d, blob, 1, "available", False, now)
                    )
        conn.commit()
        indexed = rows / (time.perf_counter() - start)
        conn.execute("DROP TABLE bench_ceiling_codes")
        conn.commit()
    return bare, indexed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--codes", type=int, default=1_000_000)
    parser.add_argument("--dup-codes", type=int, default=100_000)
    parser.add_argument(
        "--stock", type=int, default=100_000, help="codes of the purchase listing"
    )
    parser.add_argument("--only", choices=["import", "purchases", "api"], default=None)
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes and 1 s runs: every figure must be produced (CI)",
    )
    args = parser.parse_args()
    if args.smoke:
        args.codes, args.dup_codes, args.stock = 20_000, 5_000, 20_000
        os.environ["BENCH_SECONDS"] = "1"
    url = os.environ["DATABASE_URL"]
    # Tasks go to a real Redis broker (a bench-only database, flushed), as in production.
    env = {**os.environ, **BENCH_ENV}
    DATA.mkdir(exist_ok=True)
    ensure_database(url)
    manage("migrate", "--noinput", env=env).check_returncode()
    flush_redis()
    try:
        if args.only in (None, "import"):
            import_figures(args, url, env)
        if args.only in (None, "purchases"):
            purchase_figures(args, url, env)
        if args.only in (None, "api"):
            api_figures(url, env)
    finally:
        flush_redis()


def flush_redis() -> None:
    redis.Redis.from_url(BENCH_ENV["REDIS_URL"]).flushdb()


def api_figures(url: str, env: dict[str, str]) -> None:
    """A seller with a key and a sold code, then tests.bench.api."""
    code = (
        "import json\n"
        "from decimal import Decimal\n"
        "from api.services import api_key_create\n"
        "from codes.crypto import get_keyring\n"
        "from codes.importing.generator import GeneratorOptions\n"
        "from codes.models import Code\n"
        "from codes.services.batches import batch_action_run, batch_approve, batch_create_generated\n"
        "from codes.services.imports import code_batch_import\n"
        "from distribly.accounts.services import user_ensure\n"
        "from listings.services import listing_approve, listing_create\n"
        "from sales.services.checkout import order_place\n"
        "from sales.services.payments import payment_confirm\n"
        "seller,_ = user_ensure(email='bench-api@example.com', password=None)\n"
        "staff,_ = user_ensure(email='bench-staff@example.com', password=None, is_staff=True)\n"
        "l = listing_create(seller=seller, title='Bench API', price=Decimal('5'), currency='USD', instructions='x')\n"
        "b = code_batch_import(batch_id=batch_create_generated(listing=l, options=GeneratorOptions(count=10000)).pk)\n"
        "batch_approve(batch=b, by=staff); batch_action_run(batch_id=b.pk); listing_approve(listing=l, by=staff)\n"
        "p = order_place(listing_id=l.pk, quantity=1, email='b@example.com')\n"
        "payment_confirm(payment_id=p.payment.pk)\n"
        "c = Code.objects.get(order_id=p.order.pk)\n"
        "key = api_key_create(seller=seller, name='bench', scopes=['verify']).plaintext\n"
        "print(json.dumps({'key': key, 'code': c.reveal(), 'seller': seller.pk, 'digest': bytes(c.digest).hex()}))\n"
    )
    result = manage("shell", "-c", code, env=env)
    if result.returncode != 0:
        raise SystemExit(result.stderr[-3000:])
    data = json.loads(result.stdout.strip().splitlines()[-1])
    bench_verify(
        {**env, "BENCH_PG_DSN": url},
        data["key"],
        data["code"],
        data["seller"],
        bytes.fromhex(data["digest"]),
    )


def purchase_figures(args: argparse.Namespace, url: str, env: dict[str, str]) -> None:
    """Two listings of `--stock` approved codes: one for the app, one for raw SQL."""
    code = (
        "import json\n"
        "from decimal import Decimal\n"
        "from codes.importing.generator import GeneratorOptions\n"
        "from codes.services.batches import batch_action_run, batch_approve, batch_create_generated\n"
        "from codes.services.imports import code_batch_import\n"
        "from distribly.accounts.services import user_ensure\n"
        "from listings.services import listing_approve, listing_create\n"
        "seller,_ = user_ensure(email='bench-shop@example.com', password=None)\n"
        "staff,_ = user_ensure(email='bench-staff@example.com', password=None, is_staff=True)\n"
        "ids = []\n"
        "for title in ('Bench full path', 'Bench raw SQL', 'Bench pages'):\n"
        "    l = listing_create(seller=seller, title=title, price=Decimal('5'), currency='USD', instructions='Use it', max_per_order=1)\n"
        f"    b = batch_create_generated(listing=l, options=GeneratorOptions(count={args.stock}))\n"
        "    b = code_batch_import(batch_id=b.pk)\n"
        "    batch_approve(batch=b, by=staff); batch_action_run(batch_id=b.pk)\n"
        "    listing_approve(listing=l, by=staff)\n"
        "    ids.append(l.pk)\n"
        "print(json.dumps({'listings': ids, 'seller': seller.pk}))\n"
    )
    result = manage("shell", "-c", code, env=env)
    if result.returncode != 0:
        raise SystemExit(result.stderr[-3000:])
    data = json.loads(result.stdout.strip().splitlines()[-1])
    # The purchase processes run Django with the same environment, tasks going to Redis.
    os.environ.update(
        BENCH_ENV
    )  # the buyer processes are spawned with this environment
    os.environ["BENCH_PG_DSN"] = url
    bench_purchases(data["listings"][0], data["listings"][1], data["seller"])
    bench_http_purchases({**env, "BENCH_PG_DSN": url}, data["listings"][2])


def import_figures(args: argparse.Namespace, url: str, env: dict[str, str]) -> None:
    big = DATA / f"codes-{args.codes}.csv"
    if not big.exists():
        write_codes(big, args.codes)
    dup = DATA / f"codes-{args.dup_codes}-dups.csv"
    dup_count = write_codes(dup, args.dup_codes, dup_every=20)

    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"== Import benchmark on {urlsplit(url).hostname}, {os.cpu_count()} cores, "
        f"load average {load} (other work on the box slows every figure)"
    )
    start = time.perf_counter()
    manage("shell", "-c", "pass", env=env)
    startup = time.perf_counter() - start
    # What every import_codes run costs whatever its size: start-up, the upload,
    # the claim, the report, the exit. Rates "net" leave it out.
    one = DATA / "codes-1.csv"
    write_codes(one, 1)
    fixed, _report, _peak, _server = timed_import(
        make_listing(env, "bench-seller-0@example.com"), one, env
    )
    print(
        f"(each figure includes starting a manage.py process, {startup:.1f} s; "
        f"an import_codes of a one-line file takes {fixed:.1f} s in all)"
    )
    listing = make_listing(env, "bench-seller@example.com")
    elapsed, report, peak_mb, server = timed_import(listing, big, env)
    print(
        f"import_codes {args.codes:,} codes: {elapsed:.1f} s, "
        f"{_rates(args.codes, elapsed, fixed)}, peak RSS {peak_mb:.0f} MB, "
        f"accepted {report['accepted']:,} ({server})"
    )
    listing = make_listing(env, "bench-seller-2@example.com")
    elapsed, report, peak_mb, server = timed_import(listing, dup, env)
    reported = len(report["duplicates"])  # type: ignore[arg-type]
    print(
        f"import_codes {args.dup_codes:,} codes with {dup_count:,} duplicates: {elapsed:.1f} s, "
        f"{_rates(args.dup_codes, elapsed, fixed)}, peak RSS {peak_mb:.0f} MB, "
        f"duplicates reported {reported:,} of {dup_count:,}"
        f" ({'all' if reported == dup_count else 'MISSING SOME'}; {server})"
    )
    bare, indexed = copy_ceiling(url, big)
    print(
        f"ceiling, {args.codes:,} rows: binary COPY into a bare table {bare:,.0f} rows/s; "
        f"into a table shaped like codes_code (its 5 indexes), one transaction: "
        f"{indexed:,.0f} rows/s"
    )
    print("targets: >= 100,000 codes/s end to end, peak RSS < 200 MB")


def _rates(codes: int, elapsed: float, fixed: float) -> str:
    """End to end, and net of a one-line import's fixed cost (small files feel it most)."""
    net = max(elapsed - fixed, 1e-3)
    return f"{codes / elapsed:,.0f} codes/s end to end ({codes / net:,.0f}/s net)"


if __name__ == "__main__":
    main()
