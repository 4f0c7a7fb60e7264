from __future__ import annotations

from django.apps import AppConfig


class CodesConfig(AppConfig):
    name = "codes"
    verbose_name = "Codes"
