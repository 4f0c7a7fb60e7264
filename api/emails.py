from __future__ import annotations

from django.core.mail import EmailMultiAlternatives

from distribly.emails import make_message

from .models import ApiKey


def api_key_suspended_message(key: ApiKey) -> EmailMultiAlternatives:
    return make_message(
        "api-key-suspended", key.seller.email, {"key": key}, key.seller.language
    )
