"""ensure_admin: the staff account, and the stable passwords of development accounts.

With DEBUG on (`make run`), the password comes from SECRET_KEY. It is the same on
every run, so the login can be printed again at any time (`make admin-login`). If
someone changed it, it is set back. With DEBUG off, a random password is set when
the account is created and printed only that once.

`seed_demo` creates its accounts with the helpers here, so that the staff login, the
demo sellers and the demo buyers share one domain and one password scheme.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import (
    check_password,
    is_password_usable,
    make_password,
)
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse

from distribly.accounts.models import User
from distribly.accounts.services import user_ensure

# Every seed account uses this domain. .test is reserved (RFC 2606), so mail to
# these addresses can never reach anyone.
DEMO_DOMAIN = "distribly.test"
ADMIN_EMAIL = f"admin@{DEMO_DOMAIN}"


def dev_password(role: str) -> str:
    """Stable per installation (derived from SECRET_KEY), so it can be printed every run."""
    digest = hmac.new(settings.SECRET_KEY.encode(), role.encode(), hashlib.sha256)
    return "demo-" + digest.hexdigest()[:12]


@functools.cache
def _dev_hash(password: str) -> str:
    """One hash per role password and process. Every account of a role shares it
    (they share the password anyway), so a later run checks each role's password
    once instead of once per account: PBKDF2 takes a few tenths of a second a check."""
    return make_password(password)


@functools.cache
def _is_password(encoded: str, password: str) -> bool:
    # Django hashes even to reject an unusable password (against timing attacks):
    # a new account's is rejected here without that cost.
    return is_password_usable(encoded) and check_password(password, encoded)


def dev_account_ensure(
    *, email: str, role: str, display_name: str, bio: str = "", is_staff: bool = False
) -> tuple[User, str]:
    """Create a development account or bring it back to its seeded state, and return
    (user, password).

    The password is the role's `dev_password`. If it was changed, it is set back, so a
    printed login always works. A bio is filled in only while the account has none.
    Idempotent: when nothing has changed, a second run writes nothing.
    """
    password = dev_password(role)
    # Created without a usable password; it gets the role's shared hash just below.
    user, _created = user_ensure(
        email=email, password=None, display_name=display_name, is_staff=is_staff
    )
    changed = []
    if not _is_password(user.password, password):
        user.password = _dev_hash(password)
        changed.append("password")
    if bio and not user.bio:
        user.bio = bio
        changed.append("bio")
    if changed:
        user.save(update_fields=changed)
    return user, password


def login_box(*, email: str, password: str) -> list[str]:
    """The development staff login as a framed block of plain-ASCII lines."""
    rows = [
        "Staff login (development)",
        "",
        f"  sign in   {settings.SITE_URL}{reverse('account_login')}",
        f"  email     {email}",
        f"  password  {password}",
        f"  admin     {settings.SITE_URL}{reverse('admin:index')}",
        "",
        "Show this again: make admin-login",
        "             (or: python manage.py ensure_admin)",
    ]
    width = max(len(row) for row in rows) + 4
    rule = "+" + "-" * width + "+"
    return [rule, *(f"|  {row.ljust(width - 2)}|" for row in rows), rule]


class Command(BaseCommand):
    help = (
        "Ensure a staff account exists and print its login. With DEBUG on, the password "
        "is stable and printed on every run; with DEBUG off, a random password is "
        "printed once, when the account is created."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", default=ADMIN_EMAIL)

    def handle(self, *args: Any, email: str, **options: Any) -> None:
        if settings.DEBUG:
            # Refused before anything is touched: someone's own account keeps its
            # password.
            if User.objects.filter(email__iexact=email, is_staff=False).exists():
                raise CommandError(
                    f"{email} exists and is not a staff account: choose another "
                    "address with --email, or make it staff in the admin."
                )
            user, password = dev_account_ensure(
                email=email, role="staff", display_name="Staff", is_staff=True
            )
            self.stdout.write("")
            for line in login_box(email=user.email, password=password):
                self.stdout.write(self.style.SUCCESS(line))
            return
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
