"""Checkout: a pending order with its codes reserved, then the provider's payment page."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from codes.services.allocation import codes_allocate
from distribly.accounts.models import PayoutAccount
from distribly.accounts.payouts import seller_can_sell
from distribly.ratelimits import window_hit
from listings.models import Listing
from listings.services import listing_stock_deferred
from sales.exceptions import CheckoutLimited, OrderError
from sales.models import Order, Payment
from sales.payments import get_provider
from sales.payments.base import PaymentError

from .earnings import platform_fee
from .payments import payment_fail

# Stripe Checkout sessions must live at least 30 minutes; the reservation matches.
RESERVATION = timedelta(minutes=31)


@dataclass(frozen=True)
class PlacedOrder:
    order: Order
    payment: Payment


@dataclass(frozen=True)
class CheckoutClient:
    """Who starts a checkout, beyond the email: their network (distribly.http.
    client_network: the address, or an IPv6 /64) and browser session."""

    network: str = ""
    session_key: str = ""


def checkout_rate_check(*, client: CheckoutClient) -> None:
    """Count a checkout start against the address's budget (CHECKOUT_STARTS_PER_MINUTE).

    Raises CheckoutLimited. Fixed one-minute windows in the cache (Redis in production).
    """
    if not client.network:
        return
    key = f"checkout:starts:{client.network}:{int(time.time()) // 60}"
    starts = window_hit(key, 70)
    if starts > settings.CHECKOUT_STARTS_PER_MINUTE:
        raise CheckoutLimited(
            _(
                "Too many checkouts from your network in the last minute. Please wait a minute."
            )
        )


def _lock_buyer(*, email: str, client: CheckoutClient) -> None:
    """Serialise this buyer's checkouts (PostgreSQL advisory locks on their email,
    session and network, always in one order: no deadlocks), so that two at once
    cannot both pass the cap. SQLite's IMMEDIATE transactions serialise already."""
    if connection.vendor != "postgresql":
        return
    keys = sorted(
        k
        for k in (f"e:{email}", f"s:{client.session_key}", f"n:{client.network}")
        if len(k) > 2
    )
    if not keys:
        return
    # One round trip: the select list is evaluated left to right, so the locks are
    # still taken in the sorted order.
    locks = ", ".join(["pg_advisory_xact_lock(hashtext(%s))"] * len(keys))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {locks}", keys)


def _person(email: str, client: CheckoutClient) -> Q:
    person = Q(email=email)
    if client.session_key:
        person |= Q(session_key=client.session_key)
    return person


def _release_earlier_checkouts(
    *, listing: Listing, email: str, client: CheckoutClient
) -> None:
    """A buyer who comes back from the payment page and starts again gets a fresh
    checkout: their unpaid one for this listing is released first (should they
    pay it after all, it gets fresh codes, or is refunded if none remain)."""
    earlier = Payment.objects.filter(
        order__in=Order.objects.filter(
            _person(email, client), listing=listing, status=Order.Status.PENDING
        ),
        status__in=[Payment.Status.CREATED, Payment.Status.PENDING],
    ).values_list("pk", flat=True)
    for payment_id in list(earlier):
        payment_fail(payment_id=payment_id)


def _check_open_reservations(
    *, quantity: int, email: str, client: CheckoutClient
) -> None:
    """Unpaid codes one buyer may hold at once, CHECKOUT_MAX_OPEN_CODES: counted for
    the same email, browser session or network (one person, several emails)."""
    anyone_here = _person(email, client)
    if client.network:
        anyone_here |= Q(client_network=client.network)
    held = Order.objects.filter(
        anyone_here, status=Order.Status.PENDING, reserved_until__gt=timezone.now()
    ).aggregate(total=Coalesce(Sum("quantity"), 0))["total"]
    if held + quantity > settings.CHECKOUT_MAX_OPEN_CODES:
        raise CheckoutLimited(
            _(
                "Codes waiting for payment in other checkouts from you: at most "
                "%(max)d can wait at once. Finish those checkouts, or wait up to "
                "%(minutes)d minutes for them to expire."
            )
            % {
                "max": settings.CHECKOUT_MAX_OPEN_CODES,
                "minutes": int(RESERVATION.total_seconds() // 60),
            }
        )


def order_place(
    *,
    listing_id: int,
    quantity: int,
    email: str,
    buyer: Any = None,
    language: str = "en",
    client: CheckoutClient | None = None,
) -> PlacedOrder:
    """Create a pending order and reserve its codes, in one transaction.

    With a `client` (every checkout from the web), the caps on unpaid reservations
    apply. Raises OutOfStock (nothing is written), CheckoutLimited or OrderError.
    """
    email = email.strip().lower()
    with transaction.atomic(), listing_stock_deferred():
        listing = Listing.objects.select_related("seller").get(pk=listing_id)
        if (
            listing.status != Listing.Status.ACTIVE
            or not listing.seller.is_active
            or not seller_can_sell(listing.seller)
        ):
            raise OrderError(_("Sorry, this item is not on sale right now."))
        if not 1 <= quantity <= listing.max_per_order:
            raise OrderError(
                _("You can buy between 1 and %(max)d at a time.")
                % {"max": listing.max_per_order}
            )
        if client is not None:
            _lock_buyer(email=email, client=client)
            _release_earlier_checkouts(listing=listing, email=email, client=client)
            _check_open_reservations(quantity=quantity, email=email, client=client)
        order = Order.objects.create(
            listing=listing,
            seller_id=listing.seller_id,
            buyer=buyer if buyer is not None and buyer.is_authenticated else None,
            email=email,
            language=language,
            client_network=client.network if client else "",
            session_key=client.session_key if client else "",
            quantity=quantity,
            unit_price=listing.price,
            amount=listing.price * quantity,
            platform_fee=platform_fee(listing.price * quantity, listing.currency),
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
            destination=_destination(listing.seller_id),
        )
    return PlacedOrder(order, payment)


def _destination(seller_id: int) -> str:
    """The seller's payout account, when the money can go straight there."""
    account = PayoutAccount.objects.filter(
        user_id=seller_id, provider=settings.PAYMENT_PROVIDER
    ).first()
    return account.account_id if account is not None and account.can_receive else ""


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
