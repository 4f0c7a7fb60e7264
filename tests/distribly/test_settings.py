"""Settings refuse development secrets in production and pass `check --deploy`
with a production-like environment (each in a fresh `manage.py` process)."""

from __future__ import annotations

from tests.helpers import PRODUCTION_ENV, run_manage


def test_production_refuses_development_secrets():
    result = run_manage({"DJANGO_DEBUG": "False"}, "check")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr
    assert "CODES_ENCRYPTION_KEYS" in result.stderr


def test_check_deploy_is_clean_with_a_production_like_environment():
    result = run_manage(PRODUCTION_ENV, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
