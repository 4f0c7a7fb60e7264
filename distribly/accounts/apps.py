from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "distribly.accounts"
    label = "accounts"
    verbose_name = "Accounts"
