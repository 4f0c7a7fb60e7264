"""A slow upload through deploy/nginx/distribly.conf (`make smoke`).

gunicorn (its sync workers, gunicorn.conf.py, a 5 s timeout instead of 30 s to keep
this short) reads a request body as the client sends it: a multi-MB upload sent over
8 s kills the worker. nginx, run with the repository's config as it is, buffers the
whole body first, so the same upload through it succeeds. nginx also serves /media/
from disk and hands the app the proxy headers it believes.
"""

from __future__ import annotations

import http.client
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.helpers import free_port, wait_until
from tests.helpers import PRODUCTION_ENV, ROOT

pytestmark = [
    pytest.mark.deploy,
    pytest.mark.skipif(
        shutil.which("nginx", path=os.environ.get("PATH", "") + ":/usr/sbin") is None,
        reason="the nginx binary is absent (apt-get install nginx-light; .ci/run does)",
    ),
]

HOST = PRODUCTION_ENV["DJANGO_ALLOWED_HOSTS"]
SITE = PRODUCTION_ENV["SITE_URL"]
GUNICORN_TIMEOUT = 5
UPLOAD_BYTES = 4 * 1024 * 1024
UPLOAD_SECONDS = 8.0  # well past the timeout
CSRF = "a" * 32  # a CSRF secret of ours: the form must carry the same one


@dataclass
class Stack:
    gunicorn: int
    nginx: int
    media: Path
    logs: Path  # nginx's access log and gunicorn's output


def _nginx_conf(tmp: Path, nginx_port: int, gunicorn_port: int, media: Path) -> Path:
    """The repository's config as it is, but for the addresses and paths of this box."""
    site = (ROOT / "deploy" / "nginx" / "distribly.conf").read_text()
    for old, new in (
        ("server web:8000;", f"server 127.0.0.1:{gunicorn_port};"),
        ("listen 80 default_server;", f"listen 127.0.0.1:{nginx_port} default_server;"),
        ("alias /data/media/;", f"alias {media}/;"),
        (
            "access_log /dev/stdout distribly;",
            f"access_log {tmp}/access.log distribly;",
        ),
    ):
        assert old in site, old
        site = site.replace(old, new)
    (tmp / "distribly.conf").write_text(site)
    mime = Path("/etc/nginx/mime.types")
    main = tmp / "nginx.conf"
    main.write_text(
        ("user root;\n" if os.getuid() == 0 else "")
        + f"daemon off;\nworker_processes 1;\npid {tmp}/nginx.pid;\n"
        "error_log stderr warn;\nevents { worker_connections 64; }\n"
        "http {\n"
        + (f"  include {mime};\n" if mime.exists() else "")
        + "  access_log off;\n"
        + "".join(
            f"  {kind}_temp_path {tmp}/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + f"  include {tmp}/distribly.conf;\n}}\n"
    )
    return main


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("nginx")
    media = tmp / "media"
    (media / "covers").mkdir(parents=True)
    (media / "covers" / "cover.png").write_bytes(b"\x89PNG\r\n\x1a\nnot-really")
    gunicorn_port, nginx_port = free_port(), free_port()
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "CODES_", "STRIPE_", "EMAIL_", "GUNICORN_"))
        and k not in ("DATABASE_URL", "REDIS_URL", "PYTEST_CURRENT_TEST")
    }
    env = {
        **inherited,
        **PRODUCTION_ENV,
        "TRUSTED_PROXY_COUNT": "1",
        "SQLITE_PATH": str(tmp / "db.sqlite3"),
        "MEDIA_ROOT": str(tmp / "app-media"),  # empty: /media/ must come from nginx
        "GUNICORN_BIND": f"127.0.0.1:{gunicorn_port}",
        "GUNICORN_WORKERS": "2",
        "GUNICORN_TIMEOUT": str(GUNICORN_TIMEOUT),
    }
    # The image's build step: the hashed static files and their manifest.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT,
        env={**env, "DJANGO_DEBUG": "True"},
        capture_output=True,
        check=True,
        timeout=120,
    )
    gunicorn_log = (tmp / "gunicorn.log").open("w")
    gunicorn = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=gunicorn_log,
        text=True,
    )
    nginx_bin = shutil.which("nginx", path=os.environ.get("PATH", "") + ":/usr/sbin")
    assert nginx_bin
    nginx = subprocess.Popen(
        [nginx_bin, "-p", str(tmp), "-c", str(_nginx_conf(tmp, nginx_port, gunicorn_port, media))],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        for port in (gunicorn_port, nginx_port):
            wait_until(
                lambda port=port: _status(port, "/healthz") == 200,
                timeout=30,
                what=f"/healthz on {port}",
            )
        yield Stack(gunicorn_port, nginx_port, media, tmp)
    finally:
        for proc in (nginx, gunicorn):
            proc.terminate()
            try:
                proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        gunicorn_log.close()


def _status(port: int, path: str) -> int | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers={"Host": "127.0.0.1"})
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


def _slow_upload(port: int) -> int | str:
    """A multipart form with a multi-MB file, sent at a steady trickle over
    UPLOAD_SECONDS, as a seller on a slow line would; the status, or what went wrong."""
    boundary = "distriblyslowupload"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n'
        f"{CSRF}\r\n--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="codes.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    chunk = 64 * 1024
    chunks = UPLOAD_BYTES // chunk
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest("POST", "/accounts/login/", skip_host=True)
        for name, value in {
            "Host": HOST,
            "X-Forwarded-Proto": "https",  # as the TLS proxy in front would send it
            "Referer": f"{SITE}/accounts/login/",
            "Cookie": f"csrftoken={CSRF}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(len(head) + chunks * chunk + len(tail)),
        }.items():
            conn.putheader(name, value)
        conn.endheaders()
        conn.send(head)
        for i in range(chunks):
            conn.send(b"CODE-%010d\n" % i * (chunk // 16))
            time.sleep(UPLOAD_SECONDS / chunks)
        conn.send(tail)
        return conn.getresponse().status
    except OSError as e:  # reset, broken pipe, closed without an answer
        return type(e).__name__
    finally:
        conn.close()


def test_a_slow_upload_succeeds_through_nginx_and_fails_straight_to_gunicorn(stack):
    results: dict[str, int | str] = {}

    def run(name: str, port: int) -> None:
        results[name] = _slow_upload(port)

    threads = [
        threading.Thread(target=run, args=("nginx", stack.nginx)),
        threading.Thread(target=run, args=("gunicorn", stack.gunicorn)),
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert time.monotonic() - started >= UPLOAD_SECONDS
    # Through nginx the view got the whole form and answered (the login page).
    assert results["nginx"] == 200, results
    # Straight to gunicorn, the worker was killed at its timeout mid-body.
    assert results["gunicorn"] != 200, results


def test_nginx_serves_cover_images_from_the_media_volume(stack):
    conn = http.client.HTTPConnection("127.0.0.1", stack.nginx, timeout=5)
    conn.request("GET", "/media/covers/cover.png", headers={"Host": HOST})
    response = conn.getresponse()
    assert response.status == 200
    assert response.read() == (stack.media / "covers" / "cover.png").read_bytes()
    assert response.getheader("Content-Type") == "image/png"
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    # The app's own MEDIA_ROOT is empty: the file can only have come from nginx.
    assert _status(stack.gunicorn, "/media/covers/cover.png") != 200


def test_the_app_believes_https_from_the_proxy_only(stack):
    def get(port: int, headers: dict[str, str]) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/accounts/login/", headers={"Host": HOST, **headers})
        return conn.getresponse()

    # The TLS proxy says https: nginx passes it on and the page is served.
    assert get(stack.nginx, {"X-Forwarded-Proto": "https"}).status == 200
    # Plain http at nginx (no TLS proxy saying otherwise): sent to https.
    plain = get(stack.nginx, {})
    assert plain.status == 301
    assert plain.getheader("Location") == f"{SITE}/accounts/login/"
    assert plain.getheader("Server") == "nginx"  # server_tokens off: no version


def test_capability_links_never_reach_the_access_logs(stack):
    """An order link shows its codes: nginx's and gunicorn's access lines name it
    with "..." for the token. And /metrics is not reachable through the proxy."""
    token = "Zx9SeCrEtOrDeRtOkEn"
    # (400: the test's Host is not the site's; the lines are written all the same.)
    assert _status(stack.nginx, f"/orders/{token}/") is not None
    assert _status(stack.nginx, f"/waitlist/{token}/leave/") is not None
    assert _status(stack.nginx, "/metrics") == 404
    nginx_log, gunicorn_log = stack.logs / "access.log", stack.logs / "gunicorn.log"
    wait_until(
        lambda: (
            "/waitlist/.../leave/" in gunicorn_log.read_text()
            and "/waitlist/.../leave/" in nginx_log.read_text()
        ),
        timeout=10,
        what="both access lines",
    )
    for log in (nginx_log, gunicorn_log):
        text = log.read_text()
        assert "/orders/.../" in text
        assert token not in text
