"""Plain helpers shared by test modules. Fixtures live in conftest.py; these are
imported (`from tests.helpers import codes_of`)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.db import connection
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"

# The ECB's daily reference rates, as https://www.ecb.europa.eu serves them.
ECB_SAMPLE = (DATA / "eurofxref-daily.xml").read_bytes()

# What a production start needs (and `check --deploy` passes with): real-looking
# secrets, a real email backend, Stripe.
PRODUCTION_ENV = {
    "DJANGO_DEBUG": "False",
    "DJANGO_SECRET_KEY": "x" * 30 + "-production-like-secret-key-0123456789",
    "CODES_ENCRYPTION_KEYS": "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=",
    "CODES_DIGEST_KEY": "a-production-digest-key-of-40-characters!",
    "DJANGO_ALLOWED_HOSTS": "distribly.example.com",
    "SITE_URL": "https://distribly.example.com",
    "EMAIL_URL": "smtp://mail.example.com:587",
    "STRIPE_SECRET_KEY": "sk_test_abc",
    "STRIPE_WEBHOOK_SECRET": "whsec_abc",
    "STRIPE_CONNECT_WEBHOOK_SECRET": "whsec_connect_abc",
}


def issues_of(batch: Any) -> list[tuple[int, str, str]]:
    """A batch's reported lines as (line, kind, reason), in line order."""
    return list(batch.issues.order_by("line").values_list("line", "kind", "reason"))


def codes_of(batch: Any) -> list[str]:
    """A batch's accepted code values, decrypted, in line order."""
    return [c.reveal() for c in batch.codes.order_by("line")]


def raw_rows(sql: str) -> list[tuple[Any, ...]]:
    """Rows exactly as the database holds them, bypassing the ORM."""
    with connection.cursor() as c:
        c.execute(sql)
        return list(c.fetchall())


def admin_action(
    client: Any, model: str, action: str, ids: list[int], **extra: Any
) -> Any:
    """Run a Django admin changelist action on the rows `ids` of `model` (app_model)."""
    return client.post(
        reverse(f"admin:{model}_changelist"),
        {"action": action, "_selected_action": [str(i) for i in ids], **extra},
        follow=True,
    )


def run_manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`manage.py *args` in a fresh process with `env` and none of our settings' variables
    inherited from this process."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("DJANGO_", "CODES_", "STRIPE_", "PAYMENT_", "EMAIL_", "ANYMAIL_")
        )
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def sitemap_xml(client: Any) -> str:
    """The whole sitemap as one text: the index at /sitemap.xml, then every page
    of every section it lists (fetched by path, as a crawler would)."""
    index = client.get("/sitemap.xml")
    assert index.status_code == 200
    text = index.content.decode()
    parts = [text]
    for loc in re.findall(r"<loc>([^<]+)</loc>", text):
        parts_of = urlsplit(loc)
        page = client.get(
            parts_of.path, dict(re.findall(r"(\w+)=(\w+)", parts_of.query))
        )
        assert page.status_code == 200, loc
        parts.append(page.content.decode())
    return "\n".join(parts)
