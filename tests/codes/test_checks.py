"""System checks of the codes app: the encryption keys must be usable.

With DEBUG off a bad key already stops the start (tests/security); the check
also catches it on a development box."""

from __future__ import annotations

from tests.helpers import PRODUCTION_ENV, run_manage


def test_bad_encryption_key_is_reported_by_the_check():
    env = {
        **PRODUCTION_ENV,
        "DJANGO_DEBUG": "True",
        "CODES_ENCRYPTION_KEYS": "not-base64!",
    }
    result = run_manage(env, "check", "--deploy")
    assert result.returncode != 0
    assert "distribly.E002" in result.stderr + result.stdout


def test_a_bad_encryption_key_stops_a_production_start():
    result = run_manage(
        {**PRODUCTION_ENV, "CODES_ENCRYPTION_KEYS": "not-base64!"}, "check"
    )
    assert result.returncode != 0
    assert "CODES_ENCRYPTION_KEYS" in result.stderr
