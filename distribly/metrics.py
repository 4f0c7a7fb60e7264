"""Prometheus metrics at /metrics: request counts and durations, and business gauges.

The text exposition format is written by hand (a few lines; no runtime dependency).

Several processes answer requests (gunicorn workers, several web machines), so each
process counts in memory and adds its deltas to one Redis hash (HINCRBY: atomic,
summed over every process) from a background thread every FLUSH_SECONDS; a scrape,
whichever process answers it, reads the hash. The request path never waits for
Redis, a Redis outage only delays the counts (deltas are kept and sent later), and
counts survive worker restarts. Without REDIS_URL (development, one process) the
scrape shows this process's own counts.

Business gauges are computed at scrape time with small queries on indexed status
columns or small tables; nothing is stored for them.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable
from functools import cache

import redis
from django.apps import apps
from django.conf import settings
from django.db.models import Count, Q, Sum
from django.http import Http404, HttpRequest, HttpResponse

from .celery import app

logger = logging.getLogger(__name__)

REDIS_KEY = "distribly:metrics:http"
FLUSH_SECONDS = 5.0
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class RequestMetrics:
    """This process's request counts not yet added to Redis (or, without Redis, all
    of them). Keys of `counts`: "requests|GET|2xx", "bucket|0.05", "count"; `duration`
    is the sum of seconds."""

    def __init__(self, key: str = REDIS_KEY) -> None:
        self.key = key
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.duration = 0.0
        self.flusher: threading.Thread | None = None

    def record(self, method: str, status: int, seconds: float) -> None:
        method = method if method in METHODS else "other"
        bucket = next((b for b in BUCKETS if seconds <= b), None)
        with self.lock:
            self.counts[f"requests|{method}|{status // 100}xx"] += 1
            self.counts["count"] += 1
            if bucket is not None:
                self.counts[f"bucket|{bucket}"] += 1
            self.duration += seconds
        if settings.REDIS_URL and self.flusher is None:
            self._start_flusher()

    def _start_flusher(self) -> None:
        # Started lazily, after gunicorn forked this worker (threads do not survive a fork).
        with self.lock:
            if self.flusher is not None:
                return
            self.flusher = threading.Thread(
                target=self._flush_forever, name="metrics-flush", daemon=True
            )
        self.flusher.start()

    def _flush_forever(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            self.flush()

    def flush(self) -> bool:
        """Add the pending deltas to Redis; on failure keep them for the next try."""
        with self.lock:
            counts, duration = self.counts, self.duration
            self.counts, self.duration = Counter(), 0.0
        if not counts:
            return True
        try:
            pipe = _redis().pipeline(transaction=False)
            for field, n in counts.items():
                pipe.hincrby(self.key, field, n)
            pipe.hincrbyfloat(self.key, "sum", duration)
            pipe.execute()
        except redis.RedisError:
            with self.lock:
                self.counts.update(counts)
                self.duration += duration
            logger.warning("metrics: Redis unreachable, counts kept for later")
            return False
        return True

    def totals(self) -> tuple[dict[str, int], float]:
        """Every process's counts (from Redis), or this process's without Redis."""
        if not settings.REDIS_URL:
            with self.lock:
                return dict(self.counts), self.duration
        self.flush()
        fields = {str(k): str(v) for k, v in _redis().hgetall(self.key).items()}
        duration = float(fields.pop("sum", "0"))
        return {k: int(v) for k, v in fields.items()}, duration


REQUESTS = RequestMetrics()


@cache
def _redis() -> redis.Redis:
    # Short timeouts: a scrape or a flush must not hang on a Redis outage.
    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_timeout=2,
        socket_connect_timeout=2,
        decode_responses=True,
    )


# --- Access -----------------------------------------------------------------------------
def metrics_allowed(request: HttpRequest) -> bool:
    """A matching bearer token, or a client address in METRICS_ALLOWED_NETWORKS. With
    neither configured, only with DEBUG on: production is closed by default."""
    token = settings.METRICS_TOKEN
    networks = settings.METRICS_ALLOWED_NETWORKS
    if not token and not networks:
        return bool(settings.DEBUG)
    if token:
        given = request.headers.get("Authorization", "")
        if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return True
    # The allow-list is for scrapers talking to the app directly (a pod or container
    # network): a request that came through a proxy (X-Forwarded-For) never passes
    # it, whatever address the chain seems to give, nor does one with a forged header.
    address = request.META.get("REMOTE_ADDR", "")
    if networks and address and "X-Forwarded-For" not in request.headers:
        ip = ipaddress.ip_address(address)
        return any(ip in ipaddress.ip_network(n) for n in networks)
    return False


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        raise Http404  # nothing here for the world, not even a hint
    return HttpResponse(exposition(), content_type=CONTENT_TYPE)


# --- Exposition -------------------------------------------------------------------------
def _family(
    name: str, kind: str, help_text: str, samples: Iterable[tuple[str, float]]
) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines += [f"{name}{labels} {_number(value)}" for labels, value in samples]
    return lines


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _http_lines() -> list[str]:
    counts, duration = REQUESTS.totals()
    requests = sorted(
        (k.split("|")[1:], n) for k, n in counts.items() if k.startswith("requests|")
    )
    lines = _family(
        "distribly_http_requests_total",
        "counter",
        "HTTP requests answered, by method and status class.",
        ((f'{{method="{m}",status="{s}"}}', n) for (m, s), n in requests),
    )
    cumulative, buckets = 0, list[tuple[str, float]]()
    for bound in BUCKETS:
        cumulative += counts.get(f"bucket|{bound}", 0)
        buckets.append((f'_bucket{{le="{bound}"}}', cumulative))
    total = counts.get("count", 0)
    buckets += [('_bucket{le="+Inf"}', total), ("_sum", duration), ("_count", total)]
    name = "distribly_http_request_duration_seconds"
    lines += [
        f"# HELP {name} Time from the request reaching the app to its response.",
        f"# TYPE {name} histogram",
    ]
    lines += [f"{name}{suffix} {_number(value)}" for suffix, value in buckets]
    return lines


def _status_counts(label: str, model: str, statuses: tuple[str, ...]) -> dict[str, int]:
    rows = (
        apps.get_model(label, model)
        .objects.filter(status__in=statuses)
        .values_list("status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    found = dict(rows)
    return {status: int(found.get(status, 0)) for status in statuses}


def _business_lines() -> list[str]:
    # Looked up by name: distribly is the bottom layer and imports no app.
    batches = apps.get_model("codes", "CodeBatch").objects
    imported = batches.filter(imported_at__isnull=False).aggregate(n=Sum("accepted"))
    orders = apps.get_model("sales", "Order").objects
    paid = orders.aggregate(n=Count("pk", filter=Q(paid_at__isnull=False)))
    deliveries = _status_counts("sales", "Delivery", ("pending", "sending", "failed"))
    webhooks = _status_counts("codes", "WebhookDelivery", ("pending", "sending"))
    claims = _status_counts("sales", "Claim", ("open", "escalated"))
    return [
        *_family(
            "distribly_codes_imported",
            "gauge",
            "Codes accepted by finished imports.",
            [("", imported["n"] or 0)],
        ),
        *_family(
            "distribly_purchases",
            "gauge",
            "Orders that were paid (refunded ones included).",
            [("", paid["n"])],
        ),
        *_family(
            "distribly_deliveries",
            "gauge",
            "Delivery emails not sent yet, and those that failed for good.",
            ((f'{{status="{s}"}}', n) for s, n in deliveries.items()),
        ),
        *_family(
            "distribly_webhook_backlog",
            "gauge",
            "Outgoing seller webhooks waiting to be sent.",
            [("", sum(webhooks.values()))],
        ),
        *_family(
            "distribly_claims_open",
            "gauge",
            "Problems reported that wait for the seller or staff.",
            [("", sum(claims.values()))],
        ),
    ]


def _queue_lines() -> list[str]:
    if not settings.REDIS_URL:
        return []
    queue = app.conf.task_default_queue
    try:
        depth = _redis().llen(queue)
    except redis.RedisError:
        return _family("distribly_redis_up", "gauge", "Redis answered.", [("", 0)])
    return [
        *_family("distribly_redis_up", "gauge", "Redis answered.", [("", 1)]),
        *_family(
            "distribly_celery_queue_length",
            "gauge",
            "Tasks waiting in the Celery queue.",
            [(f'{{queue="{queue}"}}', depth)],
        ),
    ]


def exposition() -> str:
    try:
        http = _http_lines()
    except redis.RedisError:
        http = []  # reported by distribly_redis_up below
    return "\n".join([*http, *_business_lines(), *_queue_lines()]) + "\n"
