from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation

from . import logs, metrics
from .views import healthz


class UserLanguageMiddleware:
    """A signed-in user's saved language wins over the cookie and the browser's."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        language = (
            getattr(user, "language", "")
            if user is not None and user.is_authenticated
            else ""
        )
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)


# Every asset is served by the app itself (no CDN), so 'self' is enough, but for
# cover images when they live on an S3-compatible store with its own host. Scripts
# come only from files: no inline script and no eval can run, whatever a page
# shows. Inline style attributes stay allowed: Django's admin and Swagger UI use
# them, and a style cannot run code. Only the embeddable card may be framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:{media}; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; frame-ancestors {ancestors}"
)


class ContentSecurityPolicyMiddleware:
    """The Content-Security-Policy header on every response. A view that may be
    framed by other sites says so with @xframe_options_exempt (the embed card)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if settings.DEBUG and response.status_code >= 500:
            return response  # Django's debug page works with inline handlers
        framed = getattr(response, "xframe_options_exempt", False)
        response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.format(
            ancestors="*" if framed else "'none'",
            media=settings.MEDIA_ORIGIN and f" {settings.MEDIA_ORIGIN}",
        )
        return response


class HealthCheckMiddleware:
    """Answers /healthz before host validation and the https redirect: the container
    health check calls it as http://127.0.0.1:8000/healthz, which ALLOWED_HOSTS and
    SECURE_SSL_REDIRECT would otherwise refuse. It reveals only "ok" or "error"."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == "/healthz":
            return healthz(request)
        return self.get_response(request)


class RequestMetricsMiddleware:
    """Counts every request and its duration for /metrics (distribly.metrics), and
    binds the request id (the proxy's X-Request-Id, or a new one) to this request's
    log lines (distribly.logs). Placed right after HealthCheckMiddleware: health
    checks are not traffic."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        with logs.request_id_bound(request.headers.get("X-Request-Id", "")) as rid:
            request.request_id = rid  # type: ignore[attr-defined]
            response = self.get_response(request)
        metrics.REQUESTS.record(
            request.method or "", response.status_code, time.perf_counter() - started
        )
        return response
