from __future__ import annotations

from django.apps import AppConfig


class DistriblyConfig(AppConfig):
    name = "distribly"
    verbose_name = "Distribly"
