"""gunicorn settings for the production image (`gunicorn -c gunicorn.conf.py`).

Every value can be overridden from the environment: GUNICORN_BIND, GUNICORN_WORKERS,
GUNICORN_THREADS, GUNICORN_TIMEOUT.
"""

from __future__ import annotations

import os

wsgi_app = "distribly.wsgi:application"
bind = os.getenv("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.getenv("GUNICORN_WORKERS", "3"))
threads = int(os.getenv("GUNICORN_THREADS", "1"))
# Requests past this are killed; long work (imports, approvals) runs on the worker.
timeout = int(os.getenv("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then (bounded memory growth), never all at once.
max_requests = 2000
max_requests_jitter = 200
accesslog = "-"
errorlog = "-"
# The proxy in front terminates TLS and sets X-Forwarded-*; Django decides what
# to believe (TRUSTED_PROXY_COUNT, see the README).
# Query strings can never hold a code (codes travel in bodies), but keep logs lean.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'
