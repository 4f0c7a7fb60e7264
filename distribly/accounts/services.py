"""Account writes used by commands and seeding (allauth owns the web flows)."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.db import transaction

from .models import User


def user_ensure(
    *, email: str, password: str | None, display_name: str = "", is_staff: bool = False
) -> tuple[User, bool]:
    """Get or create a user with a verified primary email. Returns (user, created).

    An existing user's password is never changed: running this twice is harmless.
    """
    with transaction.atomic():
        user = User.objects.filter(email=email.lower()).first()
        created = user is None
        if user is None:
            user = User.objects.create_user(
                email=email,
                password=password,
                display_name=display_name,
                is_staff=is_staff,
                is_superuser=is_staff,
            )
        EmailAddress.objects.update_or_create(
            user=user, email=user.email, defaults={"verified": True, "primary": True}
        )
    return user, created
