"""gunicorn settings for the production image (`gunicorn -c gunicorn.conf.py`).

Every value can be overridden from the environment: GUNICORN_BIND, GUNICORN_WORKERS,
GUNICORN_THREADS, GUNICORN_TIMEOUT.
"""

from __future__ import annotations

import gc
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
# Import the app once, in the master, before binding the port; workers fork from
# it. A worker recycled by max_requests is then serving within milliseconds
# instead of re-importing Django (~0.7 s on 2 cores) while the others, which reach
# max_requests within the same second under even load, do the same: measured as
# 0.2-0.8 s with no worker serving at all (issue 15, the verify p99). Importing the
# app opens no connection, socket or thread. A HUP no longer reloads code: deploys
# restart the process (containers do).
preload_app = True
# No control socket (gunicorn ≥ 25; we do not use gunicornc): its default path is
# per user ($HOME/.gunicorn/gunicorn.ctl, the code directory in the image), so two
# gunicorns on one host would take each other's.
control_socket_disable = True
accesslog = "-"
errorlog = "-"
# The proxy in front terminates TLS and sets X-Forwarded-*; Django decides what
# to believe (TRUSTED_PROXY_COUNT, see the README).
# Query strings can never hold a code (codes travel in bodies), but keep logs lean.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'

# gunicorn's own lines (start-up, worker timeouts, the access log) go through the
# app's filter that redacts capability links (/orders/<token>/ shows codes), and with
# LOG_FORMAT=json they are JSON objects too, so one collector parses the whole stream.
_json = os.getenv("LOG_FORMAT") == "json"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "distribly.logs.JsonFormatter"},
        "plain": {"format": "%(asctime)s [%(process)d] %(levelname)s %(message)s"},
    },
    "filters": {"secret_paths": {"()": "distribly.logs.SecretPathFilter"}},
    "handlers": {
        "out": {
            "class": "logging.StreamHandler",
            "formatter": "json" if _json else "plain",
            "filters": ["secret_paths"],
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"level": "INFO", "handlers": []},
    "loggers": {
        name: {"level": "INFO", "handlers": ["out"], "propagate": False}
        for name in ("gunicorn.error", "gunicorn.access")
    },
}


def when_ready(server: object) -> None:
    """In the master, after preload_app imported the app and before the first fork."""
    # Everything imported so far lives as long as the process: take it out of the
    # cyclic collector, so a worker's full collections scan only what requests
    # allocate (36-123 ms per full collection otherwise, a few per 2,000 requests)
    # and leave the pages shared with the master untouched.
    gc.freeze()
