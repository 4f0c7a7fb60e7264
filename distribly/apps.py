from __future__ import annotations

from django.apps import AppConfig


class DistriblyConfig(AppConfig):
    name = "distribly"
    verbose_name = "Distribly"

    def ready(self) -> None:
        from . import checks  # noqa: F401, PLC0415 - importing registers the system checks, once apps are ready
