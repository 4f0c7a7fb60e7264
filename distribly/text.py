"""Seller-written text is plain text: HTML is refused, not silently stripped."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

HTML_RE = re.compile(r"<\s*/?\s*[a-zA-Z][^<>]*>|<!--|<!\s*doctype", re.IGNORECASE)


def reject_html(text: str, what: StrOrPromise) -> str:
    match = HTML_RE.search(text)
    if match:
        raise ValidationError(
            _(
                "%(what)s can't contain HTML (found %(found)s). Use plain text: "
                "links are shown as links automatically."
            )
            % {"what": what, "found": repr(match.group()[:40])}
        )
    return text
