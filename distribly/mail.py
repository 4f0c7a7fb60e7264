from __future__ import annotations

import sys
from typing import Any

from django.core.mail.backends.console import EmailBackend as DjangoConsoleBackend


class ConsoleBackend(DjangoConsoleBackend):
    """The development mail backend: prints to stderr so that command output
    (for example `seed_demo --json`) stays clean on stdout."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream", sys.stderr)
        super().__init__(*args, **kwargs)
