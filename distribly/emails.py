"""Builds email messages from templates/emails/<name>-subject.txt|-body.txt|-body.html.

Shared by every app: the bottom layer (distribly) holds it.
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import TemplateDoesNotExist, render_to_string
from django.utils import translation


def make_message(
    name: str, to: str, context: dict[str, Any], language: str = ""
) -> EmailMultiAlternatives:
    """Render an email in the recipient's language (the site default when unknown)."""
    with translation.override(language or settings.LANGUAGE_CODE):
        return _render(name, to, context)


def _render(name: str, to: str, context: dict[str, Any]) -> EmailMultiAlternatives:
    ctx = {"SITE_URL": settings.SITE_URL, **context}
    subject = " ".join(render_to_string(f"emails/{name}-subject.txt", ctx).split())
    body = render_to_string(f"emails/{name}-body.txt", ctx)
    message = EmailMultiAlternatives(subject=subject, body=body, to=[to])
    with contextlib.suppress(TemplateDoesNotExist):
        message.attach_alternative(
            render_to_string(f"emails/{name}-body.html", ctx), "text/html"
        )
    return message
