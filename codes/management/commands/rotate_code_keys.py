from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from codes.services.rotation import codes_rotate_keys


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored code under the first key of CODES_ENCRYPTION_KEYS. "
        "Put the new key first, run this, then remove the old key."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        count = codes_rotate_keys()
        self.stdout.write(f"Re-encrypted {count} value(s) under the primary key.")
