"""The real `stripe` library against the local fake Stripe server, and signed events."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from sales.models import Order
from tests.fakes.stripe_server import FakeStripe, signed_event

SECRET = "whsec_test_secret"
CONNECT_SECRET = "whsec_test_connect_secret"


@pytest.fixture
def stripe_fake(settings: Any) -> Any:
    with FakeStripe() as fake:
        settings.PAYMENT_PROVIDER = "stripe"
        settings.STRIPE_SECRET_KEY = "sk_test_distribly"
        settings.STRIPE_WEBHOOK_SECRET = SECRET
        settings.STRIPE_CONNECT_WEBHOOK_SECRET = CONNECT_SECRET
        settings.STRIPE_API_BASE = fake.url
        settings.STRIPE_MAX_NETWORK_RETRIES = 0
        yield fake


@pytest.fixture
def post_event(client: Any, django_capture_on_commit_callbacks: Any) -> Any:
    """POST a signed event to the platform (or, with `connect=`, the Connect) endpoint."""

    def post(
        event_type: str,
        obj: dict[str, Any],
        *,
        secret: str | None = None,
        event_id: str | None = None,
        timestamp: int | None = None,
        body: bytes | None = None,
        header: str | bool | None = None,
        connect: str | None = None,
    ) -> Any:
        raw, sig = signed_event(
            event_type,
            obj,
            secret or (CONNECT_SECRET if connect else SECRET),
            event_id=event_id,
            timestamp=timestamp,
            **({"account": connect} if connect else {}),
        )
        url = reverse(
            "sales:stripe-connect-webhook" if connect else "sales:stripe-webhook"
        )
        with django_capture_on_commit_callbacks(execute=True):
            extra = {} if header is False else {"HTTP_STRIPE_SIGNATURE": header or sig}
            return client.post(
                url,
                body if body is not None else raw,
                content_type="application/json",
                **extra,
            )

    return post


def start_checkout(
    client: Any, listing: Any, quantity: int = 1, email: str = "card@example.com"
) -> tuple[Order, Any, str]:
    response = client.post(
        f"/items/{listing.pk}/buy/", {"quantity": quantity, "email": email}
    )
    assert response.status_code == 302
    order = Order.objects.order_by("-pk").first()
    assert order is not None
    return order, order.payments.get(), response["Location"]
