"""Staff see orders, payments, events, refunds and deliveries in Django admin, and can
refund from there."""

from __future__ import annotations

import pytest
from django.urls import reverse

from sales.models import Order

pytestmark = pytest.mark.django_db


def test_staff_see_orders_payments_events_and_refund_in_admin(
    client, user_factory, sold, mailoutbox, django_capture_on_commit_callbacks
):
    _, order = sold
    client.force_login(user_factory(is_staff=True, is_superuser=True))
    for name in ["order", "payment", "webhookevent", "refund", "delivery"]:
        assert client.get(reverse(f"admin:sales_{name}_changelist")).status_code == 200
    page = client.get(
        reverse("admin:sales_order_change", args=[order.pk])
    ).content.decode()
    assert order.email in page
    assert order.token not in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:sales_order_changelist"),
            {"action": "refund", "_selected_action": [order.pk]},
        )
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert order.refunds.get().source == "staff"
