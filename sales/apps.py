from __future__ import annotations

from django.apps import AppConfig


class SalesConfig(AppConfig):
    name = "sales"
    verbose_name = "Sales"

    def ready(self) -> None:
        from . import receivers  # noqa: F401, PLC0415 - connects the signal receivers
