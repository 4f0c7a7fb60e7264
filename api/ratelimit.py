"""Per-key rate limits of the API.

Fixed one-minute windows in the cache (Redis when configured): API_RATE_LIMIT
calls per key, and API_FAILED_LOOKUP_LIMIT failed look-ups per key, so guessing
codes does not pay; API_SUSPEND_AFTER consecutive failed look-ups suspend the key
and email the seller.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache

import redis
from django.conf import settings
from django.core.cache import cache
from django.db.models import F
from django.utils import timezone

from distribly.tasks import enqueue_on_commit

from .models import ApiKey

WINDOW = 60
SUSPENDED_TASK = "codes.tasks.email_api_key_suspended"  # defined in api/tasks.py


@dataclass(frozen=True)
class RateState:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # seconds until the window ends
    reason: str = ""


def _window() -> tuple[int, int]:
    now = int(time.time())
    return now // WINDOW, WINDOW - now % WINDOW


@lru_cache(maxsize=1)
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


# One round trip: count the call, read the failures, set both keys to expire.
_CHECK = """
local calls = redis.call('INCR', KEYS[1])
if calls == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local fails = tonumber(redis.call('GET', KEYS[2]) or '0')
return {calls, fails}
"""
_FAIL = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""


def _check_counts(calls_key: str, fails_key: str) -> tuple[int, int]:
    if settings.REDIS_URL:
        calls, fails = _redis(settings.REDIS_URL).eval(
            _CHECK, 2, calls_key, fails_key, WINDOW + 5
        )
        return int(calls), int(fails)
    fails = int(cache.get(fails_key) or 0)
    cache.add(calls_key, 0, timeout=WINDOW + 5)
    try:
        return int(cache.incr(calls_key)), fails
    except ValueError:  # expired between add and incr
        cache.set(calls_key, 1, timeout=WINDOW + 5)
        return 1, fails


def _count_failure(fails_key: str) -> None:
    if settings.REDIS_URL:
        _redis(settings.REDIS_URL).eval(_FAIL, 1, fails_key, WINDOW + 5)
        return
    cache.add(fails_key, 0, timeout=WINDOW + 5)
    try:
        cache.incr(fails_key)
    except ValueError:
        cache.set(fails_key, 1, timeout=WINDOW + 5)


def rate_check(api_key: ApiKey) -> RateState:
    """Count this call against the key's budget; say whether it may proceed.

    Fixed one-minute windows, one Redis round trip (a Lua script) per call.
    """
    window, reset = _window()
    limit, fail_limit = settings.API_RATE_LIMIT, settings.API_FAILED_LOOKUP_LIMIT
    used, failed = _check_counts(
        f"api:calls:{api_key.pk}:{window}", f"api:fail:{api_key.pk}:{window}"
    )
    if failed >= fail_limit:
        return RateState(False, limit, 0, reset, "too many failed look-ups")
    if used > limit:
        return RateState(False, limit, 0, reset, "too many requests")
    return RateState(True, limit, max(0, limit - used), reset)


def rate_record_failure(api_key: ApiKey) -> bool:
    """A look-up found nothing. Returns True if this failure suspended the key."""
    window, _reset = _window()
    _count_failure(f"api:fail:{api_key.pk}:{window}")
    ApiKey.objects.filter(pk=api_key.pk).update(
        consecutive_failures=F("consecutive_failures") + 1
    )
    suspended = ApiKey.objects.filter(
        pk=api_key.pk,
        suspended_at__isnull=True,
        consecutive_failures__gte=settings.API_SUSPEND_AFTER,
    ).update(suspended_at=timezone.now())
    if suspended:
        enqueue_on_commit(SUSPENDED_TASK, api_key.pk)
    return bool(suspended)


def rate_record_success(api_key: ApiKey) -> None:
    if api_key.consecutive_failures:
        ApiKey.objects.filter(pk=api_key.pk).update(consecutive_failures=0)
