"""System checks of the codes app (registered in CodesConfig.ready)."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, Tags, register

from codes.crypto import KeyringError, get_keyring


@register(Tags.security, deploy=True)
def check_codes_keys(app_configs: Any, **kwargs: Any) -> list[Error]:
    try:
        get_keyring()
    except KeyringError as e:
        return [Error(str(e), id="distribly.E002")]
    return []
