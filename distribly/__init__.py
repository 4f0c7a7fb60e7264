from __future__ import annotations

# The Celery app must be loaded with Django so that shared tasks bind to it
# (otherwise `.delay()` would try the default AMQP broker).
from .celery import app as celery_app

__all__ = ["celery_app"]
