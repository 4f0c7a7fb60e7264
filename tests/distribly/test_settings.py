from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import OperationalError, connection

ROOT = Path(__file__).resolve().parents[2]


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "CODES_", "STRIPE_", "PAYMENT_"))
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_development_secrets():
    result = _run({"DJANGO_DEBUG": "False"}, "check")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr
    assert "CODES_ENCRYPTION_KEYS" in result.stderr


PRODUCTION = {
    "DJANGO_DEBUG": "False",
    "DJANGO_SECRET_KEY": "x" * 30 + "-production-like-secret-key-0123456789",
    "CODES_ENCRYPTION_KEYS": "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=",
    "CODES_DIGEST_KEY": "a-production-digest-key",
    "DJANGO_ALLOWED_HOSTS": "distribly.example.com",
    "SITE_URL": "https://distribly.example.com",
    "STRIPE_SECRET_KEY": "sk_test_abc",
    "STRIPE_WEBHOOK_SECRET": "whsec_abc",
}


def test_check_deploy_is_clean_with_a_production_like_environment():
    result = _run(PRODUCTION, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_refuses_the_dev_payment_provider_in_production():
    result = _run({**PRODUCTION, "PAYMENT_PROVIDER": "dev"}, "check", "--deploy")
    assert result.returncode != 0
    assert "distribly.E001" in result.stderr + result.stdout


def test_bad_encryption_key_is_reported_by_the_check():
    result = _run(
        {**PRODUCTION, "CODES_ENCRYPTION_KEYS": "not-base64!"}, "check", "--deploy"
    )
    assert result.returncode != 0
    assert "distribly.E002" in result.stderr + result.stdout


@pytest.mark.django_db
def test_healthz_is_ok_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_healthz_reports_a_broken_database_as_unhealthy(client, monkeypatch):
    def broken(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unhealthy",
        "checks": {"database": "error", "broker": response.json()["checks"]["broker"]},
    }


@pytest.mark.django_db
def test_healthz_reports_an_unreachable_broker(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == "error"


@pytest.mark.django_db
def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()
