"""Seller-written text is plain text: HTML is refused, not silently stripped."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

HTML_RE = re.compile(r"<\s*/?\s*[a-zA-Z][^<>]*>|<!--|<!\s*doctype", re.IGNORECASE)


def reject_html(text: str, what: str) -> str:
    match = HTML_RE.search(text)
    if match:
        raise ValidationError(
            f"{what} can't contain HTML (found {match.group()[:40]!r}). Use plain text: "
            "links are shown as links automatically."
        )
    return text
