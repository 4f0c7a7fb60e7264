"""docker-compose.yml, .env.example and settings stay in step (no Docker engine runs here)."""

from __future__ import annotations

import re

import pytest
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


# --- Operations (issue 15): one beat, named workers, the proxy, Kubernetes ----------------
K8S = ROOT / "deploy" / "k8s"


def _k8s_documents() -> dict[str, list[dict]]:
    return {
        path.name: [d for d in yaml.safe_load_all(path.read_text()) if d]
        for path in sorted(K8S.glob("*.yaml"))
        if path.name != "kustomization.yaml"
    }


def _k8s(kind: str, name: str) -> dict:
    for documents in _k8s_documents().values():
        for doc in documents:
            if doc["kind"] == kind and doc["metadata"]["name"] == name:
                return doc
    raise AssertionError(f"no {kind} {name}")


def test_every_kubernetes_manifest_validates_against_the_schema():
    # kubernetes-validate bundles the schemas: this runs offline.
    import kubernetes_validate  # noqa: PLC0415 - a test-only tool

    version = kubernetes_validate.latest_version()
    documents = _k8s_documents()
    assert len(documents) >= 9
    for name, docs in documents.items():
        for doc in docs:
            kubernetes_validate.validate(doc, version, strict=True)


def test_the_schema_check_catches_a_wrong_manifest():
    import kubernetes_validate  # noqa: PLC0415 - a test-only tool

    web = _k8s("Deployment", "distribly-web")
    broken = {**web, "spec": {**web["spec"], "replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(
            broken, kubernetes_validate.latest_version(), strict=True
        )


def test_kustomization_applies_every_manifest_but_the_secret_and_the_job():
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(
        set(_k8s_documents()) - {"secret.example.yaml", "migrate-job.yaml"}
    )


def _containers(kind: str, name: str) -> list[dict]:
    return _k8s(kind, name)["spec"]["template"]["spec"]["containers"]


def test_kubernetes_web_workers_single_beat_and_migrations():
    [web] = _containers("Deployment", "distribly-web")
    assert web["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    [worker] = _containers("Deployment", "distribly-worker")
    assert worker["command"][-2:] == ["-n", "worker@$(POD_NAME)"]
    assert worker["env"] == [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
    ]
    beat = _k8s("Deployment", "distribly-beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    [migrate] = _containers("Job", "distribly-migrate")
    assert migrate["command"] == ["python", "manage.py", "migrate", "--noinput"]
    hpa = _k8s("HorizontalPodAutoscaler", "distribly-web")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "distribly-web"
    service = _k8s("Service", "distribly-web")
    assert service["spec"]["selector"] == web_labels()
    ingress = _k8s("Ingress", "distribly")
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-request-buffering"] == "on"
    assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == "101m"
    # Nobody runs migrations but the Job.
    for kind, name in (
        ("Deployment", "distribly-web"),
        ("Deployment", "distribly-worker"),
        ("Deployment", "distribly-beat"),
    ):
        for container in _containers(kind, name):
            assert "migrate" not in container["command"]
            assert container["envFrom"] == [
                {"configMapRef": {"name": "distribly-config"}},
                {"secretRef": {"name": "distribly-secrets"}},
            ]


def web_labels() -> dict[str, str]:
    return _k8s("Deployment", "distribly-web")["spec"]["selector"]["matchLabels"]


def test_no_secret_value_is_in_the_repository():
    from distribly.settings import PLACEHOLDERS  # noqa: PLC0415

    [secret] = _k8s_documents()["secret.example.yaml"]
    assert "EXAMPLE ONLY" in (K8S / "secret.example.yaml").read_text()
    for name, value in secret["stringData"].items():
        placeholder = value in PLACEHOLDERS or "REPLACE-ME" in value
        assert placeholder or name == "REDIS_URL", name
    config = _k8s("ConfigMap", "distribly-config")["data"]
    secret_names = {"DJANGO_SECRET_KEY", "CODES_ENCRYPTION_KEYS", "CODES_DIGEST_KEY"}
    assert not secret_names & set(config)
    assert not {k for k in config if "SECRET" in k or "TOKEN" in k or "KEY" in k}


def test_compose_puts_nginx_in_front_and_names_each_worker():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert "ports" not in services["web"]  # only the proxy reaches gunicorn
    assert services["proxy"]["ports"] == ["127.0.0.1:8000:80"]
    mounts = services["proxy"]["volumes"]
    assert "./deploy/nginx/distribly.conf:/etc/nginx/conf.d/default.conf:ro" in mounts
    assert "media:/data/media:ro" in mounts
    assert "media:/data/media" in services["web"]["volumes"]
    assert services["worker"]["command"][-2:] == ["-n", "worker@%h"]
    assert not [a for a in services["beat"]["command"] if a.startswith("--schedule")]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^worker:.*\n\t.*celery.* -n \$\(WORKER\)@%h$", makefile, re.M)


def test_nginx_takes_an_upload_as_large_as_the_app_allows():
    from django.conf import settings  # noqa: PLC0415

    conf = (ROOT / "deploy" / "nginx" / "distribly.conf").read_text()
    size = int(re.search(r"client_max_body_size (\d+)m;", conf).group(1)) * 2**20
    limit = settings.CODES_UPLOAD_MAX_BYTES
    assert limit < size <= limit + 2**20
    assert "proxy_request_buffering on;" in conf
    assert "alias /data/media/;" in conf
