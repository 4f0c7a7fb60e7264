"""Shared fixtures: factories for users, listings and batches (allauth-style).

Plain helpers that tests import live in tests/helpers.py, not here."""

from __future__ import annotations

import io
import itertools
import os
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings as django_settings
from django.core.cache import cache

from api.services import api_key_create
from codes.importing.generator import GeneratorOptions
from codes.models import Code, CodeBatch
from codes.services.batches import (
    batch_approve,
    batch_create_generated,
    batch_create_upload,
)
from codes.services.imports import code_batch_import
from distribly.accounts.models import User
from distribly.celery import app
from listings.models import Listing
from listings.services import listing_approve
from sales.models import Order

# Playwright's sync API runs an event loop in the test thread; ORM calls in
# browser tests would otherwise raise SynchronousOnlyOperation.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

_seq = itertools.count(1)


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    on_postgres = django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _test_settings(settings: Any, tmp_path: Any) -> None:
    settings.PRIVATE_UPLOAD_ROOT = tmp_path / "private-uploads"
    cache.clear()  # rate-limit counters (allauth, API) must not leak between tests
    # Tests buy many times from one address: only the fraud tests set real limits.
    settings.FRAUD_VELOCITY_MAX_ORDERS = settings.FRAUD_VELOCITY_MAX_CODES = 10**6
    # Unit tests run tasks in-process; tests about the worker start one explicitly.
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True


@pytest.fixture
def user_factory(db: None) -> Callable[..., Any]:
    def make(
        email: str | None = None,
        *,
        password: str = "correct horse battery staple",
        verified: bool = True,
        **extra: Any,
    ) -> User:
        email = email or f"user{next(_seq)}@example.com"
        user = User.objects.create_user(email=email, password=password, **extra)
        EmailAddress.objects.create(
            user=user, email=user.email, verified=verified, primary=True
        )
        return user

    return make


@pytest.fixture
def seller(user_factory: Callable[..., Any]) -> Any:
    return user_factory(display_name="Acme Keys")


@pytest.fixture
def seller_client(client: Any, seller: Any) -> Any:
    client.force_login(seller)
    return client


@pytest.fixture
def staff_client(client: Any, user_factory: Callable[..., Any]) -> Any:
    """The test client signed in as a superuser (Django admin)."""
    client.force_login(user_factory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def listing_factory(user_factory: Callable[..., Any]) -> Callable[..., Any]:
    def make(
        seller: Any = None,
        *,
        status: str = Listing.Status.PENDING_REVIEW,
        **fields: Any,
    ) -> Listing:
        values = {
            "title": f"Licence key {next(_seq)}",
            "description": "A licence key.",
            "price": Decimal("9.99"),
            "currency": "USD",
            "instructions": "Enter the key at https://example.com/redeem",
            **fields,
        }
        return Listing.objects.create(
            seller=seller or user_factory(), status=status, **values
        )

    return make


@pytest.fixture
def upload(django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    """Upload bytes as a batch through the real pipeline and return the imported batch."""

    def run(
        listing: Any,
        content: bytes | str,
        *,
        has_header: bool = False,
        name: str = "codes.csv",
    ) -> CodeBatch:
        data = content.encode("utf-8") if isinstance(content, str) else content
        with django_capture_on_commit_callbacks(execute=True):
            batch = batch_create_upload(
                listing=listing,
                file=io.BytesIO(data),
                filename=name,
                has_header=has_header,
            )
        batch.refresh_from_db()
        return batch

    return run


@pytest.fixture
def approve(
    user_factory: Callable[..., Any], django_capture_on_commit_callbacks: Any
) -> Callable[..., Any]:
    """Staff approval of a listing and/or a batch, through the services."""
    staff = None

    def run(listing: Any = None, batch: Any = None) -> None:
        nonlocal staff
        staff = staff or user_factory(is_staff=True)
        with django_capture_on_commit_callbacks(execute=True):
            if batch is not None:
                batch_approve(batch=batch, by=staff)
            if listing is not None:
                listing_approve(listing=listing, by=staff)

    return run


@pytest.fixture
def active_listing(
    listing_factory: Callable[..., Any],
    approve: Callable[..., Any],
    django_capture_on_commit_callbacks: Any,
) -> Callable[..., Any]:
    """An approved, active listing with `codes` approved generated codes."""

    def make(codes: int = 5, **fields: Any) -> Any:
        listing = listing_factory(**fields)
        with django_capture_on_commit_callbacks(execute=True):
            batch = batch_create_generated(
                listing=listing, options=GeneratorOptions(count=codes)
            )
        # Eager mode imported it already; with a real worker running, import it here
        # (idempotent) or wait for the worker that claimed it.
        batch = code_batch_import(batch_id=batch.pk)
        deadline = time.monotonic() + 30
        while not batch.is_finished and time.monotonic() < deadline:
            time.sleep(0.1)
            batch.refresh_from_db()
        approve(listing=listing, batch=batch)
        listing.refresh_from_db()
        return listing

    return make


@pytest.fixture
def buy(client: Any, django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    """Buy through the product page and the dev provider's Pay button. Returns the order."""

    def run(
        listing: Any,
        quantity: int = 1,
        email: str = "buyer@example.com",
        pay: bool = True,
    ) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                f"/items/{listing.pk}/buy/", {"quantity": quantity, "email": email}
            )
        assert response.status_code == 302, response
        order = Order.objects.order_by("-pk").first()
        if order is None or "/pay/test/" not in response["Location"]:
            return None
        if pay:
            with django_capture_on_commit_callbacks(execute=True):
                paid = client.post(response["Location"], {"decision": "pay"})
            assert paid["Location"] == order.get_absolute_url()
            order.refresh_from_db()
        return order

    return run


@pytest.fixture
def api_key_for() -> Callable[..., Any]:
    """A plaintext API key for a seller (all scopes unless given)."""

    def make(seller: Any, scopes: list[str] | None = None) -> str:
        return api_key_create(
            seller=seller,
            name="test",
            scopes=scopes or ["verify", "redeem", "revoke", "upload"],
        ).plaintext

    return make


@pytest.fixture
def sold_code(
    active_listing: Callable[..., Any], buy: Callable[..., Any]
) -> Callable[..., Any]:
    """(listing, order, code, value) of a code sold through the dev checkout."""

    def make(
        listing: Any = None, email: str = "buyer@example.com"
    ) -> tuple[Any, Any, Any, str]:
        listing = listing or active_listing(codes=3)
        order = buy(listing, email=email)
        code = Code.objects.filter(order_id=order.pk).first()
        return listing, order, code, code.reveal()

    return make
