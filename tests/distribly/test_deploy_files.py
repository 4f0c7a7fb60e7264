"""docker-compose.yml, .env.example and settings stay in step (no Docker engine runs here)."""

from __future__ import annotations

import re

import yaml

from tests.helpers import ROOT


def _settings_variables() -> set[str]:
    text = (ROOT / "distribly" / "settings.py").read_text()
    names = set(
        re.findall(r'(?:getenv|envbool|envint|envsecret)\(\s*"([A-Z_]+)"', text)
    )
    return names - {"DJANGO_SETTINGS_MODULE", "SQLITE_PATH", "CELERY_TASK_ALWAYS_EAGER"}


def _example_variables() -> set[str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return {line.split("=", 1)[0] for line in lines if re.match(r"^[A-Z_]+=", line)}


def test_every_setting_is_documented_in_env_example_and_readme():
    missing = _settings_variables() - _example_variables()
    assert not missing, f".env.example lacks {sorted(missing)}"
    readme = (ROOT / "README.md").read_text()
    assert not [v for v in _settings_variables() if v not in readme]


def test_compose_runs_the_whole_stack_from_the_env_file():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "beat", "migrate"} <= set(services)
    for name in ("web", "worker", "beat", "migrate"):
        assert services[name]["env_file"] == ".env"
        assert services[name]["build"] == "."
    assert "gunicorn" in (ROOT / "Dockerfile").read_text()
    assert services["worker"]["command"][:3] == ["celery", "-A", "distribly"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "distribly", "beat"]
    example = _example_variables()
    assert "postgres:5432" in (ROOT / ".env.example").read_text()
    assert {"DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY"} <= example


def test_the_image_installs_runtime_requirements_only_and_runs_unprivileged():
    dockerfile = (ROOT / "Dockerfile").read_text()
    installs = re.findall(r"pip install[^\n]*", dockerfile)
    assert installs == ["pip install -r requirements.lock"]
    runtime = (ROOT / "requirements.lock").read_text().lower()
    for tool in ("pytest", "playwright", "schemathesis", "ruff", "mypy", "aiosmtpd"):
        assert f"\n{tool}==" not in runtime, tool
    assert re.search(r"^USER distribly$", dockerfile, re.M)
    assert "HEALTHCHECK" in dockerfile
    assert "/healthz" in dockerfile
    assert 'CMD ["gunicorn", "-c", "gunicorn.conf.py"]' in dockerfile
    # Migrations are a one-off step, never part of the build or the web process.
    assert not re.search(r"^(RUN|CMD|ENTRYPOINT)[^\n]*migrate", dockerfile, re.M)
