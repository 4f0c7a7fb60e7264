"""System checks of the codes app: the encryption keys must be usable."""

from __future__ import annotations

from tests.helpers import PRODUCTION_ENV, run_manage


def test_bad_encryption_key_is_reported_by_the_check():
    result = run_manage(
        {**PRODUCTION_ENV, "CODES_ENCRYPTION_KEYS": "not-base64!"}, "check", "--deploy"
    )
    assert result.returncode != 0
    assert "distribly.E002" in result.stderr + result.stdout
