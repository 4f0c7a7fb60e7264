"""Schemathesis against /api/v1/openapi.json: no 5xx, responses match the schema."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings

pytestmark = pytest.mark.django_db

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


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
def test_api_conforms_to_its_schema(case, bearer):
    case.call_and_validate(headers=bearer)
