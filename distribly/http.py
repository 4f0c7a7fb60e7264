"""Request types and typed view decorators shared by every app's views."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from allauth.account.decorators import (
    verified_email_required as _verified_email_required,
)
from django.http import HttpRequest

if TYPE_CHECKING:
    from distribly.accounts.models import User

View = TypeVar("View", bound=Callable[..., Any])


class AuthenticatedRequest(HttpRequest):
    """A request behind a login decorator: `user` is a signed-in User, never anonymous."""

    user: User


def verified_email_required(view: View) -> View:
    """allauth's decorator (signed in, with a verified email), typed for mypy."""
    decorated: View = _verified_email_required(view)
    return decorated
