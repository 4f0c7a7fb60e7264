"""Sales facts for pages of the layers below (they cannot import sales):
`{% load sales %}{% seller_reputation seller as reputation %}`."""

from __future__ import annotations

from typing import Any

from django import template

from sales.selectors import Reputation
from sales.selectors import seller_reputation as _seller_reputation

register = template.Library()


@register.simple_tag
def seller_reputation(seller: Any) -> Reputation:
    """The seller's delivered sales and the share with an upheld problem (cached)."""
    return _seller_reputation(seller_id=seller.pk)
