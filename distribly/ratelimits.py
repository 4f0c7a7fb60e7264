"""Fixed-window counters in the cache (Redis in production), for the rate limits of
checkouts, waitlist sign-ups and Find my codes."""

from __future__ import annotations

from django.core.cache import cache


def window_hit(key: str, timeout: int) -> int:
    """Count one hit on the counter `key` (which names its window); returns the
    count so far. `timeout` outlives the window a little."""
    cache.add(key, 0, timeout=timeout)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=timeout)
        return 1
