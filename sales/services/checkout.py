"""Checkout: a pending order with its codes reserved, then the provider's payment page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from codes.services.allocation import codes_allocate
from listings.models import Listing
from sales.exceptions import OrderError
from sales.models import Order, Payment
from sales.payments import get_provider
from sales.payments.base import PaymentError

from .payments import payment_fail

# Stripe Checkout sessions must live at least 30 minutes; the reservation matches.
RESERVATION = timedelta(minutes=31)


@dataclass(frozen=True)
class PlacedOrder:
    order: Order
    payment: Payment


def order_place(
    *,
    listing_id: int,
    quantity: int,
    email: str,
    buyer: Any = None,
    language: str = "en",
) -> PlacedOrder:
    """Create a pending order and reserve its codes, in one transaction.

    Raises OutOfStock (nothing is written) or OrderError.
    """
    with transaction.atomic():
        listing = Listing.objects.get(pk=listing_id)
        if listing.status != Listing.Status.ACTIVE:
            raise OrderError(_("Sorry, this item is not on sale right now."))
        if not 1 <= quantity <= listing.max_per_order:
            raise OrderError(
                _("You can buy between 1 and %(max)d at a time.")
                % {"max": listing.max_per_order}
            )
        order = Order.objects.create(
            listing=listing,
            seller_id=listing.seller_id,
            buyer=buyer if buyer is not None and buyer.is_authenticated else None,
            email=email.strip().lower(),
            language=language,
            quantity=quantity,
            unit_price=listing.price,
            amount=listing.price * quantity,
            currency=listing.currency,
            reserved_until=timezone.now() + RESERVATION,
        )
        codes_allocate(
            listing_id=listing.pk,
            order_id=order.pk,
            quantity=quantity,
            reserved_until=order.reserved_until,
        )
        payment = Payment.objects.create(
            order=order,
            provider=settings.PAYMENT_PROVIDER,
            amount=order.amount,
            currency=order.currency,
        )
    return PlacedOrder(order, payment)


def checkout_start(*, placed: PlacedOrder, success_url: str, cancel_url: str) -> str:
    """Open the provider's payment page; returns where to send the buyer.

    If the provider cannot be reached the reservation is released at once.
    """
    provider = get_provider(placed.payment.provider)
    try:
        checkout = provider.start_checkout(
            payment=placed.payment,
            order=placed.order,
            success_url=success_url,
            cancel_url=cancel_url,
        )
    except PaymentError:
        payment_fail(payment_id=placed.payment.pk)
        raise
    Payment.objects.filter(pk=placed.payment.pk).update(
        provider_ref=checkout.provider_ref, status=Payment.Status.PENDING
    )
    return checkout.url
