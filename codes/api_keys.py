"""API keys and their rate limits.

A key looks like `dk_<prefix>_<secret>`: the prefix identifies it (and is shown
in the list), only a SHA-256 of the whole key is stored (the secret is 256 bits,
so a slow hash adds nothing), and the key is shown once.

Limits are fixed one-minute windows in the cache (Redis when configured):
API_RATE_LIMIT calls per key, and API_FAILED_LOOKUP_LIMIT failed look-ups per key,
so guessing codes does not pay; API_SUSPEND_AFTER consecutive failed look-ups
suspend the key and email the seller.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import F
from django.utils import timezone

from .exceptions import CodesError
from .models import ApiKey

KEY_PREFIX = "dk_"
WINDOW = 60


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class NewKey:
    api_key: ApiKey
    plaintext: str


def api_key_create(*, seller: Any, name: str, scopes: list[str]) -> NewKey:
    name = name.strip()
    valid = set(ApiKey.Scope.values)
    if not name:
        raise CodesError("name: give the key a name, e.g. the site that uses it")
    if not scopes or not set(scopes) <= valid:
        raise CodesError(f"scopes: choose at least one of {', '.join(sorted(valid))}")
    prefix = secrets.token_hex(4)
    plaintext = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        seller=seller,
        name=name[:80],
        prefix=prefix,
        key_hash=_hash(plaintext),
        scopes=sorted(set(scopes)),
    )
    return NewKey(api_key, plaintext)


def api_key_authenticate(token: str) -> ApiKey | None:
    """The key for a bearer token, or None. Revoked keys are None; suspended keys
    are returned so that the caller can say so."""
    if not token.startswith(KEY_PREFIX) or token.count("_") < 2:
        return None
    prefix = token[len(KEY_PREFIX) :].split("_", 1)[0]
    key = (
        ApiKey.objects.select_related("seller")
        .filter(prefix=prefix, revoked_at__isnull=True)
        .first()
    )
    if key is None or not hmac.compare_digest(key.key_hash, _hash(token)):
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > timedelta(seconds=60):
        ApiKey.objects.filter(pk=key.pk).update(
            last_used_at=now
        )  # at most one write a minute
    return key


def api_key_revoke(*, api_key: ApiKey) -> None:
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


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


def _count(name: str) -> int:
    return int(cache.get(name) or 0)


def _incr(name: str) -> int:
    # add() then incr(): atomic on Redis; the key expires with its window.
    cache.add(name, 0, timeout=WINDOW + 5)
    try:
        return int(cache.incr(name))
    except ValueError:  # expired between add and incr
        cache.set(name, 1, timeout=WINDOW + 5)
        return 1


def rate_check(api_key: ApiKey) -> RateState:
    """Count this call against the key's budget; say whether it may proceed."""
    window, reset = _window()
    limit, fail_limit = settings.API_RATE_LIMIT, settings.API_FAILED_LOOKUP_LIMIT
    if _count(f"api:fail:{api_key.pk}:{window}") >= fail_limit:
        return RateState(False, limit, 0, reset, "too many failed look-ups")
    used = _incr(f"api:calls:{api_key.pk}:{window}")
    if used > limit:
        return RateState(False, limit, 0, reset, "too many requests")
    return RateState(True, limit, max(0, limit - used), reset)


def rate_record_failure(api_key: ApiKey) -> bool:
    """A look-up found nothing. Returns True if this failure suspended the key."""
    window, _ = _window()
    _incr(f"api:fail:{api_key.pk}:{window}")
    ApiKey.objects.filter(pk=api_key.pk).update(
        consecutive_failures=F("consecutive_failures") + 1
    )
    suspended = ApiKey.objects.filter(
        pk=api_key.pk,
        suspended_at__isnull=True,
        consecutive_failures__gte=settings.API_SUSPEND_AFTER,
    ).update(suspended_at=timezone.now())
    if suspended:
        from .tasks import email_api_key_suspended

        email_api_key_suspended.delay_on_commit(api_key.pk)
    return bool(suspended)


def rate_record_success(api_key: ApiKey) -> None:
    if api_key.consecutive_failures:
        ApiKey.objects.filter(pk=api_key.pk).update(consecutive_failures=0)
