from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "distribly.settings")
application = get_wsgi_application()
# Load the URLconf (every view module, the API and its schemas) now, not on each
# worker's first request (~100 ms): with gunicorn's preload_app this happens once,
# in the master, before the workers fork.
get_resolver().url_patterns  # noqa: B018 - the attribute access is the loading
