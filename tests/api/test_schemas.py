"""Schemathesis against /api/v1/openapi.json: no 5xx, responses match the schema."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

pytestmark = pytest.mark.django_db

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


@pytest.fixture
def keep_connection(bearer):
    """Calling the WSGI app directly fires request_started/finished, whose
    close_old_connections would close the test transaction's connection (Django's
    own test client disconnects it the same way, and reconnects it after each of
    its requests: hence after `bearer`, which uses the test client)."""
    assert request_started.disconnect(close_old_connections)
    assert request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def bearer(active_listing, buy, api_key_for, settings):
    settings.API_RATE_LIMIT = 100_000
    settings.API_FAILED_LOOKUP_LIMIT = 100_000
    settings.API_SUSPEND_AFTER = 100_000
    listing = active_listing(codes=5)
    buy(listing)
    return {"Authorization": f"Bearer {api_key_for(listing.seller)}"}


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case, bearer, keep_connection):
    case.call_and_validate(headers=bearer)
