"""Settings refuse development secrets in production and pass `check --deploy`
with a production-like environment (each in a fresh `manage.py` process)."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import PRODUCTION_ENV, ROOT, run_manage


def test_production_refuses_development_secrets():
    result = run_manage({"DJANGO_DEBUG": "False"}, "check")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr
    assert "CODES_ENCRYPTION_KEYS" in result.stderr


def test_check_deploy_is_clean_with_a_production_like_environment():
    result = run_manage(PRODUCTION_ENV, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr


def test_operations_settings_refuse_bad_values():
    for env, message in (
        ({"METRICS_TOKEN": "short"}, "METRICS_TOKEN must be 32 characters or more"),
        ({"METRICS_ALLOWED_NETWORKS": "10.0.0.0/33"}, "METRICS_ALLOWED_NETWORKS"),
        ({"BEAT_LOCK_SECONDS": "1"}, "BEAT_LOCK_SECONDS must be 3 or more"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT must be 'text' or 'json'"),
    ):
        result = run_manage({**PRODUCTION_ENV, **env}, "check")
        assert result.returncode != 0, env
        assert message in result.stderr, env


def test_beat_keeps_its_schedule_outside_the_code_tree():
    from django.conf import settings  # noqa: PLC0415

    schedule = Path(settings.CELERY_BEAT_SCHEDULE_FILENAME).resolve()
    assert not schedule.is_relative_to(ROOT)
    assert settings.CELERY_BEAT_SCHEDULER == "distribly.celery:LockedScheduler"
