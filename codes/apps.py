from __future__ import annotations

from django.apps import AppConfig


class CodesConfig(AppConfig):
    name = "codes"
    verbose_name = "Codes"

    def ready(self) -> None:
        from . import checks  # noqa: F401, PLC0415 - registering the checks is the import's point; models must be ready first
