"""POST /api/v1/codes/verify under load: gunicorn (2 workers) on loopback, 8 clients
for 20 s with wrk, then the raw (seller, digest) look-up rate on the same database.

wrk comes from Debian (`apt-get install wrk`; installed here when running as root).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 8


def duration() -> int:
    """Seconds per run; `make bench-smoke` sets BENCH_SECONDS=1 (read when run)."""
    return int(float(os.environ.get("BENCH_SECONDS", "20")))


PORT = 8765

LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(key)s"
wrk.body = '{"code": "%(code)s"}'
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%%d seconds=%%f p50=%%f p99=%%f non2xx=%%d errors=%%d\\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def ensure_wrk() -> str | None:
    path = shutil.which("wrk")
    if path is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "wrk"], capture_output=True, check=False
        )
        path = shutil.which("wrk")
    return path


def _wait_for(port: int, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"gunicorn did not start on port {port}")


def _lookup_worker(args: tuple[str, int, bytes, Any]) -> int:
    dsn, seller_id, digest, barrier = args
    with psycopg.connect(dsn) as conn:
        cur = conn.cursor()
        sql = "SELECT id, status FROM codes_code WHERE seller_id = %s AND digest = %s"
        cur.execute(sql, [seller_id, digest], prepare=True)
        barrier.wait()
        until, done = time.time() + duration(), 0
        while time.time() < until:
            cur.execute(sql, [seller_id, digest])
            cur.fetchone()
            done += 1
    return done


def raw_lookup_rate(dsn: str, seller_id: int, digest: bytes) -> float:
    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(CLIENTS)
        with ctx.Pool(CLIENTS) as pool:
            counts = pool.map(
                _lookup_worker, [(dsn, seller_id, digest, barrier)] * CLIENTS
            )
    return sum(counts) / duration()


def bench_verify(
    env: dict[str, str], key: str, code: str, seller_id: int, digest: bytes
) -> None:
    print(
        f"== POST /api/v1/codes/verify: gunicorn 2 workers, {CLIENTS} clients, {duration()} s"
    )
    wrk = ensure_wrk()
    if wrk is None:
        raise SystemExit(
            "wrk is not installed (apt-get install wrk): no verify figures"
        )
    # Settle the database first: the setup just bulk-loaded codes, and autovacuum
    # kicking in mid-run would measure PostgreSQL's housekeeping, not the API.
    with psycopg.connect(env["BENCH_PG_DSN"], autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")  # flush the setup's writes now, not mid-run
    server_env = {
        **env,
        "API_RATE_LIMIT": "1000000000",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "distribly.wsgi:application", "--workers", "2",
         "--bind", f"127.0.0.1:{PORT}", "--log-level", "warning"],
        cwd=ROOT, env=server_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_for(PORT)
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(LUA % {"key": key, "code": code})
        # Warm-up, so the figures are steady state: the port opens as soon as the
        # master binds it, while each worker still imports Django (~0.7 s here) and
        # its first request loads the URLconf. It used to ask wrk for two threads on
        # one connection, which wrk refuses ("connections must be >= threads"): no
        # warm-up ran and those first requests (~850 ms) alone made p99 ~600 ms
        # (wrk adds the requests a stalled connection could not send). check=True
        # keeps it from failing silently again.
        subprocess.run(
            [wrk, "-t2", f"-c{CLIENTS}", "-d2s", "-s", script.name,
             f"http://127.0.0.1:{PORT}/api/v1/codes/verify"],
            capture_output=True, check=True,
        )  # fmt: skip
        result = subprocess.run(
            [wrk, "-t2", f"-c{CLIENTS}", f"-d{duration()}s", "--timeout", "5s", "--latency", "-s", script.name,
             f"http://127.0.0.1:{PORT}/api/v1/codes/verify"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        os.unlink(script.name)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    if os.environ.get("BENCH_VERBOSE"):
        print(result.stdout)
    match = re.search(
        r"RESULT requests=(\d+) seconds=([\d.]+) p50=([\d.]+) p99=([\d.]+) non2xx=(\d+) errors=(\d+)",
        result.stdout,
    )
    if not match:
        print(result.stdout, result.stderr)
        raise SystemExit("could not read wrk's output")
    requests, seconds, p50, p99, non2xx, errors = match.groups()
    rate = int(requests) / float(seconds)
    if not int(requests) or int(non2xx):
        raise SystemExit(f"verify answered {requests} requests, {non2xx} not 2xx")
    print(
        f"verify: {rate:,.0f} requests/s, p50 {float(p50):.1f} ms, p99 {float(p99):.1f} ms, non-2xx {non2xx}, errors {errors}"
    )
    print(
        f"raw (seller, digest) look-up, {CLIENTS} connections, prepared: {raw_lookup_rate(env['BENCH_PG_DSN'], seller_id, digest):,.0f}/s"
    )
    print("target: >= 500 verified requests/s with p99 under 50 ms")
