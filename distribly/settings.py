"""Distribly settings: one file, read from the environment, with embedded defaults.

With no environment at all the site runs on SQLite, runs Celery tasks eagerly,
prints email to the console and takes payments with the local `dev` provider.
Every variable is listed in `.env.example` and in the README.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import sys
import tempfile
import warnings
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

# ModelForm[Listing], ModelAdmin[Order]… as the type stubs write them, at run time too.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: str) -> bool:
    value = os.getenv(name, default)
    if value not in ("True", "False"):
        raise ImproperlyConfigured(f"{name} must be 'True' or 'False', not {value!r}")
    return value == "True"


def envint(name: str, default: str) -> int:
    value = os.getenv(name, default)
    try:
        return int(value)
    except ValueError as e:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from e


def envsecret(name: str, default: str = "") -> str:
    """A secret from `NAME_FILE` (Docker/Kubernetes secrets) first, then `NAME`."""
    path = os.getenv(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return os.getenv(name, default)


def parse_database_url(url: str) -> dict[str, object]:
    """`postgres://user:pass@host:port/name?sslmode=require` -> Django DATABASES entry."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ImproperlyConfigured(
            f"DATABASE_URL scheme {parts.scheme!r} is not supported"
        )
    options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    # Index pages are cached; with the default random_page_cost = 4 the planner
    # ignores the partial index of codes for sale on skewed tables and allocation
    # crawls past every sold code (DESIGN "Planner trap"; tests/codes/services/test_allocation.py).
    # Set per connection, so it costs no extra round trip per purchase.
    options.setdefault("options", "-c random_page_cost=1.1")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "CONN_MAX_AGE": envint("DB_CONN_MAX_AGE", "60"),
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": options,
    }


DEBUG = envbool("DJANGO_DEBUG", "False")
TESTING = "pytest" in sys.modules or (len(sys.argv) > 1 and sys.argv[1] == "test")

# Development secrets: fine on a laptop, refused in production (see the check below).
DEV_SECRET_KEY = "dev-insecure-secret-key-do-not-use-in-production"
DEV_CODES_KEY = (
    "ZGV2LWluc2VjdXJlLWNvZGVzLWtleS0zMi1ieXRlcyE="  # base64 of a 32-byte dev key
)
DEV_DIGEST_KEY = "dev-insecure-digest-key"

SECRET_KEY = envsecret("DJANGO_SECRET_KEY")
CODES_ENCRYPTION_KEYS = [
    k.strip() for k in envsecret("CODES_ENCRYPTION_KEYS").split(",") if k.strip()
]
CODES_DIGEST_KEY = envsecret("CODES_DIGEST_KEY")

# With DEBUG on, missing secrets fall back to the development values (with one
# warning); with DEBUG off the checks at the end of this file refuse to start.
_dev_secrets = []
if not SECRET_KEY or SECRET_KEY == DEV_SECRET_KEY:
    _dev_secrets.append("DJANGO_SECRET_KEY")
if not CODES_ENCRYPTION_KEYS or DEV_CODES_KEY in CODES_ENCRYPTION_KEYS:
    _dev_secrets.append("CODES_ENCRYPTION_KEYS")
if not CODES_DIGEST_KEY or CODES_DIGEST_KEY == DEV_DIGEST_KEY:
    _dev_secrets.append("CODES_DIGEST_KEY")
if DEBUG or TESTING:
    SECRET_KEY = SECRET_KEY or DEV_SECRET_KEY
    CODES_ENCRYPTION_KEYS = CODES_ENCRYPTION_KEYS or [DEV_CODES_KEY]
    CODES_DIGEST_KEY = CODES_DIGEST_KEY or DEV_DIGEST_KEY
    if _dev_secrets and DEBUG and not TESTING:
        warnings.warn(
            "Using DEVELOPMENT secrets for "
            + ", ".join(_dev_secrets)
            + ": never in production.",
            stacklevel=1,
        )

ALLOWED_HOSTS = [
    h.strip()
    for h in os.getenv("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")
    if h.strip()
]
SITE_URL = os.getenv("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = [SITE_URL]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.sitemaps",
    "django.contrib.postgres",
    "django_countries",
    "allauth",
    "allauth.account",
    "anymail",
    "ninja",
    "distribly.accounts",
    "distribly",
    "listings",
    "codes",
    "sales",
    "api",
]

MIDDLEWARE = [
    "distribly.middleware.HealthCheckMiddleware",
    "distribly.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "distribly.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "distribly.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "distribly.urls"
WSGI_APPLICATION = "distribly.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "distribly.context_processors.site",
            ],
        },
    },
]

DATABASE_URL = os.getenv("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": parse_database_url(DATABASE_URL)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.getenv("SQLITE_PATH", str(BASE_DIR / "distribly.sqlite3")),
            # IMMEDIATE transactions serialise writers up front, so the conditional
            # UPDATEs that claim codes stay correct on SQLite too (STYLE.md 9.3).
            "OPTIONS": {
                "init_command": "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL;",
                "transaction_mode": "IMMEDIATE",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# django-allauth: email is the login; verification is required before selling
# (enforced on seller pages), not before buying.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "optional"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SIGNUP_FORM_CLASS = "distribly.accounts.forms.SignupForm"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Distribly] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if SITE_URL.startswith("https") else "http"
LOGIN_REDIRECT_URL = "/"
LOGIN_URL = "account_login"

LANGUAGE_CODE = "en"
# Add a language only with its complete catalogue in locale/ (a test checks it):
# LocaleMiddleware would otherwise switch Django's own strings and leave ours in English.
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Hashed, compressed static files whatever DEBUG says, so that collectstatic writes
# the manifest even at image build time (where DEBUG is on only to skip secrets);
# with DEBUG on, {% static %} serves the unhashed names. Tests need no collectstatic.
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Public uploads (listing cover images): local files under MEDIA_ROOT by default,
# served at MEDIA_URL (by Django, or by the reverse proxy in docker-compose); any
# S3-compatible store when MEDIA_S3_BUCKET is set (django-storages).
MEDIA_ROOT = Path(os.getenv("MEDIA_ROOT", str(BASE_DIR / "media")))
MEDIA_URL = os.getenv("MEDIA_URL", "/media/")
MEDIA_S3_BUCKET = os.getenv("MEDIA_S3_BUCKET", "")
if MEDIA_S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": MEDIA_S3_BUCKET,
            "endpoint_url": os.getenv("MEDIA_S3_ENDPOINT_URL") or None,
            "region_name": os.getenv("MEDIA_S3_REGION") or None,
            "access_key": envsecret("MEDIA_S3_ACCESS_KEY_ID") or None,
            "secret_key": envsecret("MEDIA_S3_SECRET_ACCESS_KEY") or None,
            # Public images: plain URLs (a CDN domain if given), never overwritten.
            "custom_domain": os.getenv("MEDIA_S3_CUSTOM_DOMAIN") or None,
            "querystring_auth": False,
            "file_overwrite": False,
            "object_parameters": {"CacheControl": "public, max-age=31536000"},
        },
    }
# Where cover images come from when not this site (Content-Security-Policy img-src).
MEDIA_ORIGIN = ""
if MEDIA_S3_BUCKET:
    _media_host = os.getenv("MEDIA_S3_CUSTOM_DOMAIN") or os.getenv(
        "MEDIA_S3_ENDPOINT_URL", ""
    )
    MEDIA_ORIGIN = (
        (_media_host if "//" in _media_host else f"https://{_media_host}")
        if _media_host
        else "https://*.amazonaws.com"
    )
COVER_IMAGE_MAX_BYTES = envint("COVER_IMAGE_MAX_BYTES", str(8 * 1024 * 1024))

# Uploaded code files are secrets in transit: they live outside any served
# directory and are deleted once imported. Nothing here is ever given a URL.
PRIVATE_UPLOAD_ROOT = Path(
    os.getenv("PRIVATE_UPLOAD_ROOT", str(BASE_DIR / "private-uploads"))
)
CODES_UPLOAD_MAX_BYTES = envint("CODES_UPLOAD_MAX_BYTES", str(100 * 1024 * 1024))
CODES_UPLOAD_MAX_LINES = envint("CODES_UPLOAD_MAX_LINES", "2000000")
CODES_GENERATE_MAX = envint("CODES_GENERATE_MAX", "1000000")
# An import writes its progress (heartbeat) every 20,000 lines, at most every 0.5 s;
# one with no progress for this long is presumed dead and re-queued by beat's sweep
# (every quarter of it, at least 15 s): a dead worker's import resumes within ~75 s.
# Its final merge writes no progress, but holds the batch's row lock, so a re-claim
# waits for it rather than running twice (one merge of 2M lines stays well under 60 s).
CODES_IMPORT_STALE_SECONDS = envint("CODES_IMPORT_STALE_SECONDS", "60")
# Approving, rejecting or withdrawing a batch changes the codes of this many lines per
# transaction; a batch with more codes is done by a task, chunk by chunk, with progress.
CODES_REVIEW_CHUNK = envint("CODES_REVIEW_CHUNK", "20000")
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Every upload is counted while it streams in and stopped past CODES_UPLOAD_MAX_BYTES
# for the whole request, before Django's own handlers keep anything.
FILE_UPLOAD_HANDLERS = [
    "codes.uploads.UploadLimit",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
DATA_UPLOAD_MAX_NUMBER_FILES = 2  # the codes file and a cover image

# Celery: no REDIS_URL means tasks run eagerly in-process (STYLE.md 9.5).
REDIS_URL = os.getenv("REDIS_URL", "")
# An in-memory broker with a host name (kombu warns about a URL without one).
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL or envbool("CELERY_TASK_ALWAYS_EAGER", "False")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True  # safe only because every task is idempotent
# Nothing waits on task results; storing them would also make every .delay()
# subscribe to a Redis result channel (measured: 4x slower checkout at 32 buyers).
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Tasks are idempotent, so a task cut off by a lost broker connection is simply redelivered.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis has no real acknowledgements: a message a worker took and has not acked
# (acks_late: until the task ends; a retry's countdown: until it is due) is put back
# in the queue after visibility_timeout. Too short and a running task, or a retry
# waiting for its countdown, is delivered a second time (duplicates pile up);
# too long and a SIGKILLed worker's tasks wait that long. So it is twice the longest
# countdown of ours (1 h, the retry cap) and recovery never depends on it: the
# sweeps beat runs (stalled imports, deliveries, webhooks, refunds…) re-queue lost work.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 2 * 3600}
# Beat: one at a time (distribly.celery.LockedScheduler takes a Redis lock with this
# TTL and renews it every third of it), its schedule file outside the code tree.
CELERY_BEAT_SCHEDULER = "distribly.celery:LockedScheduler"
BEAT_LOCK_SECONDS = envint("BEAT_LOCK_SECONDS", "30")
if BEAT_LOCK_SECONDS < 3:
    raise ImproperlyConfigured("BEAT_LOCK_SECONDS must be 3 or more")
CELERY_BEAT_SCHEDULE_FILENAME = os.getenv(
    "CELERY_BEAT_SCHEDULE_FILENAME",
    str(Path(tempfile.gettempdir()) / "distribly-celerybeat-schedule"),
)

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Email: console by default; EMAIL_URL=smtp://user:pass@host:port or ANYMAIL_ESP.
DEFAULT_FROM_EMAIL = os.getenv(
    "DEFAULT_FROM_EMAIL", "Distribly <no-reply@distribly.localhost>"
)
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_URL = envsecret("EMAIL_URL")
ANYMAIL_ESP = os.getenv("ANYMAIL_ESP", "")
ANYMAIL: dict[str, str] = {}
if ANYMAIL_ESP:
    EMAIL_BACKEND = f"anymail.backends.{ANYMAIL_ESP}.EmailBackend"
    ANYMAIL = {f"{ANYMAIL_ESP.upper()}_API_KEY": envsecret("ANYMAIL_API_KEY")}
elif EMAIL_URL:
    _mail = urlsplit(EMAIL_URL)
    if _mail.scheme not in ("smtp", "smtps", "smtp+tls"):
        raise ImproperlyConfigured("EMAIL_URL must be smtp://, smtp+tls:// or smtps://")
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _mail.hostname or "localhost"
    EMAIL_PORT = _mail.port or 25
    EMAIL_HOST_USER = unquote(_mail.username or "")
    EMAIL_HOST_PASSWORD = unquote(_mail.password or "")
    EMAIL_USE_TLS = _mail.scheme == "smtp+tls"
    EMAIL_USE_SSL = _mail.scheme == "smtps"
    EMAIL_TIMEOUT = 10
else:
    EMAIL_BACKEND = "distribly.mail.ConsoleBackend"

# Payments: the dev provider (a local test page) unless a Stripe key is set.
STRIPE_SECRET_KEY = envsecret("STRIPE_SECRET_KEY")
STRIPE_WEBHOOK_SECRET = envsecret("STRIPE_WEBHOOK_SECRET")
STRIPE_API_BASE = os.getenv("STRIPE_API_BASE", "")
STRIPE_MAX_NETWORK_RETRIES = envint("STRIPE_MAX_NETWORK_RETRIES", "2")
PAYMENT_PROVIDERS = {
    "dev": "sales.payments.dev.DevProvider",
    "stripe": "sales.payments.stripe.StripeProvider",
}
PAYMENT_PROVIDER = os.getenv(
    "PAYMENT_PROVIDER", "stripe" if STRIPE_SECRET_KEY else "dev"
)
if PAYMENT_PROVIDER not in PAYMENT_PROVIDERS:
    raise ImproperlyConfigured(
        f"PAYMENT_PROVIDER must be one of {sorted(PAYMENT_PROVIDERS)}"
    )
if PAYMENT_PROVIDER == "stripe" and not (STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET):
    raise ImproperlyConfigured(
        "PAYMENT_PROVIDER=stripe needs STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET"
    )

# Earnings (Stripe Connect): each sale is a destination charge to the seller's
# connected account; the platform keeps its fee. Connect events (account.updated,
# payout.*) come to their own endpoint with their own signing secret.
STRIPE_CONNECT_WEBHOOK_SECRET = envsecret("STRIPE_CONNECT_WEBHOOK_SECRET")
STRIPE_CONNECT_COUNTRY = os.getenv("STRIPE_CONNECT_COUNTRY", "US")
# A listing sells only once its seller can receive payouts (on with Stripe).
SELLERS_NEED_PAYOUTS = envbool(
    "SELLERS_NEED_PAYOUTS", str(PAYMENT_PROVIDER == "stripe")
)
# The platform fee: a percentage of each order, plus an optional fixed part per
# currency ("USD:0.30,EUR:0.25"), rounded half up to the currency's minor unit.
try:
    PLATFORM_FEE_PERCENT = Decimal(os.getenv("PLATFORM_FEE_PERCENT", "5"))
    PLATFORM_FEE_FIXED = {
        currency.strip().upper(): Decimal(amount)
        for currency, _sep, amount in (
            part.partition(":")
            for part in os.getenv("PLATFORM_FEE_FIXED", "").split(",")
            if part.strip()
        )
    }
except ArithmeticError as e:
    raise ImproperlyConfigured(
        "PLATFORM_FEE_PERCENT is a number and PLATFORM_FEE_FIXED reads like "
        "USD:0.30,EUR:0.25"
    ) from e
if not 0 <= PLATFORM_FEE_PERCENT < 100 or any(
    v < 0 for v in PLATFORM_FEE_FIXED.values()
):
    raise ImproperlyConfigured(
        "PLATFORM_FEE_PERCENT must be from 0 to under 100, fixed fees not negative"
    )
# Whether a refund gives the platform's fee back (in proportion) or keeps it.
REFUND_PLATFORM_FEE = envbool("REFUND_PLATFORM_FEE", "True")

# Fraud hold: a paid order whose payment the provider rates risky, or that trips a
# velocity rule (too many orders or codes from one email, card or network within the
# window), keeps its codes hidden for FRAUD_HOLD_HOURS unless staff release it.
FRAUD_HOLD_RISK_LEVELS = {
    level.strip()
    for level in os.getenv("FRAUD_HOLD_RISK_LEVELS", "elevated,highest").split(",")
    if level.strip()
}
FRAUD_HOLD = timedelta(hours=envint("FRAUD_HOLD_HOURS", "24"))
FRAUD_VELOCITY_WINDOW = timedelta(minutes=envint("FRAUD_VELOCITY_MINUTES", "60"))
FRAUD_VELOCITY_MAX_ORDERS = envint("FRAUD_VELOCITY_MAX_ORDERS", "5")
FRAUD_VELOCITY_MAX_CODES = envint("FRAUD_VELOCITY_MAX_CODES", "25")

# After the sale (DESIGN "After the sale"). Claims: the seller answers a reported
# problem within CLAIM_RESPONSE_HOURS or the code is refunded automatically; a buyer
# may open CLAIMS_PER_BUYER claims per CLAIMS_PER_BUYER_DAYS, and is flagged to
# sellers and staff with claims against CLAIM_FLAG_SELLERS sellers or more in 90 days.
# A seller's share of sales with an upheld claim shows on their product pages after
# REPUTATION_MIN_SALES sales; staff list sellers above REPUTATION_ALERT_PERCENT.
CLAIM_RESPONSE_HOURS = envint("CLAIM_RESPONSE_HOURS", "72")
CLAIMS_PER_BUYER = envint("CLAIMS_PER_BUYER", "5")
CLAIMS_PER_BUYER_DAYS = envint("CLAIMS_PER_BUYER_DAYS", "30")
CLAIM_FLAG_SELLERS = envint("CLAIM_FLAG_SELLERS", "3")
REPUTATION_MIN_SALES = envint("REPUTATION_MIN_SALES", "20")
REPUTATION_ALERT_PERCENT = envint("REPUTATION_ALERT_PERCENT", "5")
# Backorders wait this long for codes before they are refunded.
BACKORDER_DAYS = envint("BACKORDER_DAYS", "7")
# Waitlist: a notified group has this long to buy before the next group is told.
WAITLIST_WINDOW_HOURS = envint("WAITLIST_WINDOW_HOURS", "24")
# Vault: fixed-length subscriptions get a reminder this many days before expiry;
# sellers are reminded to disable a cancelled code after DISABLE_REMINDER_DAYS.
EXPIRY_REMINDER_DAYS = envint("EXPIRY_REMINDER_DAYS", "7")
DISABLE_REMINDER_DAYS = envint("DISABLE_REMINDER_DAYS", "3")
# Find my codes: sign-in links one address or email may ask for per hour.
FIND_CODES_PER_HOUR = envint("FIND_CODES_PER_HOUR", "5")

# Checkout: codes one buyer (email, address or browser session) may hold unpaid at
# once across all listings, and checkouts one address may start per minute. Stock
# is reserved before payment; without caps anyone could hold a whole listing.
CHECKOUT_MAX_OPEN_CODES = envint("CHECKOUT_MAX_OPEN_CODES", "20")
CHECKOUT_STARTS_PER_MINUTE = envint("CHECKOUT_STARTS_PER_MINUTE", "10")

# HTTP API limits (per key, per minute) and suspension after consecutive failed look-ups.
API_RATE_LIMIT = envint("API_RATE_LIMIT", "600")
API_FAILED_LOOKUP_LIMIT = envint("API_FAILED_LOOKUP_LIMIT", "60")
API_SUSPEND_AFTER = envint("API_SUSPEND_AFTER", "1000")
# Outgoing webhooks may target private/loopback addresses only in development.
WEBHOOKS_ALLOW_PRIVATE_URLS = envbool(
    "WEBHOOKS_ALLOW_PRIVATE_URLS", "True" if DEBUG else "False"
)
WEBHOOK_TIMEOUT = envint("WEBHOOK_TIMEOUT", "10")

# Display-currency conversion: ECB daily reference rates, refreshed by beat.
EXCHANGE_RATES_URL = os.getenv(
    "EXCHANGE_RATES_URL",
    "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml",
)

# Security: strict in production, relaxed only where DEBUG needs it.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SITE_URL.startswith("https")
SECURE_SSL_REDIRECT = envbool(
    "SECURE_SSL_REDIRECT", "True" if SITE_URL.startswith("https") else "False"
)
# Headers a client could forge are believed only behind our own proxies: with
# TRUSTED_PROXY_COUNT = N, X-Forwarded-Proto says https, and the client address is
# the Nth address from the right of X-Forwarded-For (distribly.http.client_ip).
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", "0")
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 or more")
# allauth's login rate limits key on the client address too: the same rule.
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT
if TRUSTED_PROXY_COUNT:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Prometheus metrics at /metrics (distribly.metrics): for a bearer token
# (`Authorization: Bearer <METRICS_TOKEN>`) or clients in METRICS_ALLOWED_NETWORKS
# (comma-separated CIDRs, the address as TRUSTED_PROXY_COUNT reads it). With neither
# set it answers 404 unless DEBUG is on: closed by default in production.
METRICS_TOKEN = envsecret("METRICS_TOKEN")
if METRICS_TOKEN and len(METRICS_TOKEN) < 32:
    raise ImproperlyConfigured("METRICS_TOKEN must be 32 characters or more")
try:
    METRICS_ALLOWED_NETWORKS = [
        str(ipaddress.ip_network(n.strip()))
        for n in os.getenv("METRICS_ALLOWED_NETWORKS", "").split(",")
        if n.strip()
    ]
except ValueError as e:
    raise ImproperlyConfigured(
        "METRICS_ALLOWED_NETWORKS holds networks like 10.0.0.0/8,127.0.0.1/32"
    ) from e
SECURE_HSTS_SECONDS = envint(
    "SECURE_HSTS_SECONDS", "31536000" if SITE_URL.startswith("https") else "0"
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# Error reports (debug pages, admin emails) hide locals of our frames and code fields.
DEFAULT_EXCEPTION_REPORTER_FILTER = (
    "distribly.reporting.CodeSafeExceptionReporterFilter"
)

ADMINS = [("Ops", a) for a in os.getenv("ADMINS", "").split(",") if a]
# Logs: plain text lines, or with LOG_FORMAT=json one JSON object per line (time,
# level, logger, message, request_id) for a log collector (distribly.logs).
LOG_FORMAT = os.getenv("LOG_FORMAT", "text")
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured("LOG_FORMAT must be 'text' or 'json'")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "distribly.logs.JsonFormatter"},
    },
    # Order, waitlist and sign-in links are capabilities: never written to a log.
    "filters": {"secret_paths": {"()": "distribly.logs.SecretPathFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["secret_paths"],
        }
    },
    "root": {"handlers": ["console"], "level": os.getenv("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
# With JSON, the Celery worker logs through LOGGING too instead of its own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = LOG_FORMAT != "json"


# --- Fail closed ------------------------------------------------------------------------
# With DEBUG off, refuse to start on anything that would fail open: a secret that is
# missing, a development value, the .env.example placeholder or too short (forged
# sessions and email confirmations, readable codes); email printed to the server log
# instead of sent (codes in plaintext there, buyers get nothing); the `dev` payment
# provider (anyone buys for free). There is deliberately no opt-out: a staging box
# uses the same real parts (an SMTP sink, Stripe's test mode).
PLACEHOLDERS = {
    "change-me-to-a-long-random-string",  # .env.example
    "sk_live_or_test_key",
    "whsec_your_endpoint_secret",
    "whsec_your_connect_endpoint_secret",
}
MIN_SECRET_KEY_LENGTH = 50  # Django's own check (security.W009) asks for 50
MIN_DIGEST_KEY_LENGTH = 32


def _secret_problem(name: str, value: str, min_length: int) -> str | None:
    if not value:
        return f"{name} is not set"
    if value in PLACEHOLDERS or name in _dev_secrets:
        return f"{name} is a development or example value"
    if len(value) < min_length:
        return f"{name} is shorter than {min_length} characters"
    return None


def _encryption_keys_problem(keys: list[str]) -> str | None:
    if not keys or "CODES_ENCRYPTION_KEYS" in _dev_secrets:
        return "CODES_ENCRYPTION_KEYS is not set or is the development key"
    for key in keys:
        try:
            raw = base64.b64decode(key, validate=True)
        except binascii.Error:
            raw = b""
        if len(raw) != 32:
            return "CODES_ENCRYPTION_KEYS holds a key that is not 32 bytes in base64"
    return None


def production_problems() -> list[str]:
    """Everything that would make this configuration fail open in production."""
    problems = [
        _secret_problem("DJANGO_SECRET_KEY", SECRET_KEY, MIN_SECRET_KEY_LENGTH),
        _secret_problem("CODES_DIGEST_KEY", CODES_DIGEST_KEY, MIN_DIGEST_KEY_LENGTH),
        _encryption_keys_problem(CODES_ENCRYPTION_KEYS),
    ]
    if EMAIL_BACKEND == "distribly.mail.ConsoleBackend":
        problems.append(
            "no email backend: set EMAIL_URL (smtp://…) or ANYMAIL_ESP and ANYMAIL_API_KEY"
        )
    if ANYMAIL_ESP and not envsecret("ANYMAIL_API_KEY"):
        problems.append("ANYMAIL_ESP is set but ANYMAIL_API_KEY is not")
    if not SITE_URL.startswith("https://"):
        problems.append(
            "SITE_URL is not https:// (links in emails, secure cookies and HSTS need it)"
        )
    if WEBHOOKS_ALLOW_PRIVATE_URLS:
        problems.append(
            "WEBHOOKS_ALLOW_PRIVATE_URLS is on: seller webhooks could reach internal addresses"
        )
    if PAYMENT_PROVIDER == "dev":
        problems.append(
            "PAYMENT_PROVIDER is 'dev' (a test page that takes no money): set "
            "STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET"
        )
    elif {STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET} & PLACEHOLDERS:
        problems.append(
            "STRIPE_SECRET_KEY or STRIPE_WEBHOOK_SECRET is an example value"
        )
    elif STRIPE_CONNECT_WEBHOOK_SECRET in PLACEHOLDERS:
        problems.append("STRIPE_CONNECT_WEBHOOK_SECRET is an example value")
    elif SELLERS_NEED_PAYOUTS and not STRIPE_CONNECT_WEBHOOK_SECRET:
        problems.append(
            "STRIPE_CONNECT_WEBHOOK_SECRET is not set: sellers' payout accounts "
            "would never be updated"
        )
    if STRIPE_API_BASE and not STRIPE_SECRET_KEY.startswith(("sk_test_", "rk_test_")):
        problems.append(
            "STRIPE_API_BASE is set with a live key: payments would go to a stand-in"
        )
    return [p for p in problems if p]


if not DEBUG and not TESTING and (_problems := production_problems()):
    raise ImproperlyConfigured(
        "Refusing to start with DJANGO_DEBUG off: "
        + "; ".join(_problems)
        + ". See .env.example and the README's Configuration section."
    )
