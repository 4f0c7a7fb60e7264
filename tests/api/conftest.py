"""Fixtures for the HTTP API tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def call(client: Any, django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    """Call /api/v1 with a bearer key: JSON bodies unless `multipart`; on-commit
    callbacks (tasks, emails) run as they would after a real request."""

    def do(method, path, key=None, body=None, multipart=False, **extra):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
        with django_capture_on_commit_callbacks(execute=True):
            if method == "GET":
                return client.get(f"/api/v1{path}", **headers, **extra)
            if isinstance(body, dict) and not multipart:
                return client.post(
                    f"/api/v1{path}",
                    json.dumps(body),
                    content_type="application/json",
                    **headers,
                    **extra,
                )
            return client.post(f"/api/v1{path}", body or {}, **headers, **extra)

    return do
