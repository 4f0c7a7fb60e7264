from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as e:
        logger.warning("healthz: database check failed: %s", type(e).__name__)
        return "error"
    return "ok"


def _check_broker() -> str:
    if not settings.REDIS_URL:
        return "not configured (tasks run eagerly)"
    try:
        redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2
        ).ping()
    except redis.RedisError as e:
        logger.warning("healthz: broker check failed: %s", type(e).__name__)
        return "error"
    return "ok"


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _check_database(), "broker": _check_broker()}
    healthy = "error" not in checks.values()
    return JsonResponse(
        {"status": "ok" if healthy else "unhealthy", "checks": checks},
        status=200 if healthy else 503,
    )


def admin_login(request: HttpRequest) -> HttpResponseRedirect:
    """Staff sign in through the site's own login, which allauth rate-limits per
    address and per account (ACCOUNT_RATE_LIMITS): Django's admin login form has
    no throttle, so it never checks a password here; it only sends staff on."""
    if request.user.is_authenticated:  # signed in but not staff: no loop back here
        return HttpResponseRedirect(reverse("home"))
    wanted = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(wanted, allowed_hosts={request.get_host()}):
        wanted = ""
    query = urlencode({"next": wanted or reverse("admin:index")})
    return HttpResponseRedirect(f"{reverse('account_login')}?{query}")
