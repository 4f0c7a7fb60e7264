from __future__ import annotations

import secrets
from typing import Any

from django.core.management.base import BaseCommand

from distribly.accounts.services import user_ensure


class Command(BaseCommand):
    help = "Ensure a staff account exists (admin@example.com by default); prints its password once."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--email", default="admin@example.com")

    def handle(self, *args: Any, email: str, **options: Any) -> None:
        password = secrets.token_urlsafe(12)
        user, created = user_ensure(
            email=email, password=password, display_name="Staff", is_staff=True
        )
        if created:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Staff account created: {user.email} / password: {password}"
                )
            )
        else:
            self.stdout.write(
                f"Staff account {user.email} exists. Forgot its password? "
                f"python manage.py changepassword {user.email}"
            )
