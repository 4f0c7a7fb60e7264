"""Generated codes with chosen symbols, for tests of forgiving look-ups (issue 13).

The generator draws each symbol with `secrets.choice`; here it draws `symbols` in
order instead, so a test knows the code (and that it holds 0 and 1, which people
copy as O, I or L)."""

from __future__ import annotations

from typing import Any

import pytest

from codes.importing import generator
from codes.importing.generator import GeneratorOptions
from codes.models import Code
from codes.services.batches import batch_create_generated
from codes.services.imports import code_batch_import


def generate_code(listing: Any, symbols: str, **options: Any) -> tuple[Code, str]:
    """One generated code of `listing` made of `symbols`; returns (code, value)."""
    drawn = iter(symbols)

    def choice(alphabet: str) -> str:
        symbol = next(drawn)
        assert symbol in alphabet
        return symbol

    with pytest.MonkeyPatch.context() as m:
        m.setattr(generator.secrets, "choice", choice)
        batch = batch_create_generated(
            listing=listing,
            options=GeneratorOptions(count=1, length=len(symbols), **options),
        )
        batch = code_batch_import(batch_id=batch.pk)  # eager mode: not queued yet
    code = batch.codes.get()
    return code, code.reveal()
