"""Messages to buyers and sellers. Codes appear in a body, never in a subject or URL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.mail import EmailMultiAlternatives

from codes.importing.text import mask
from codes.models import Code
from distribly.emails import make_message
from listings.models import Listing

from .models import Claim, Dispute, Order, Refund
from .overview import stock_forecast


def _codes(
    order: Order, statuses: Sequence[str] | None = None, ids: list[int] | None = None
) -> list[str]:
    qs = Code.objects.filter(order_id=order.pk)
    if statuses is not None:
        qs = qs.filter(status__in=statuses)
    if ids is not None:
        qs = qs.filter(id__in=ids)
    return [code.reveal() for code in qs.order_by("id")]


def delivery_message(order: Order) -> EmailMultiAlternatives:
    codes = _codes(order, statuses=Code.SOLD_STATUSES)
    return make_message(
        "order-delivery",
        order.email,
        {
            "order": order,
            "listing": order.listing,
            "seller": order.listing.seller,
            "codes": codes,
        },
        order.language,
    )


def refund_messages(refund: Refund) -> list[EmailMultiAlternatives]:
    order = refund.order
    context: dict[str, Any] = {
        "order": order,
        "listing": order.listing,
        "refund": refund,
    }
    messages = [make_message("order-refunded", order.email, context, order.language)]
    cancelled = (
        [
            {"id": code.pk, "value": code.reveal()}
            for code in Code.objects.filter(id__in=refund.code_ids).order_by("id")
        ]
        if refund.code_ids
        else []
    )
    messages.append(
        make_message(
            "codes-cancelled",
            order.listing.seller.email,
            {**context, "codes": cancelled},
            order.listing.seller.language,
        )
    )
    return messages


def code_cancelled_message(code: Code, order: Order) -> EmailMultiAlternatives:
    """To the buyer: the seller cancelled one of their codes without a refund, and why."""
    return make_message(
        "code-cancelled",
        order.email,
        {
            "order": order,
            "listing": order.listing,
            "code": code,
            "masked": mask(code.reveal()),
        },
        order.language,
    )


def stock_alert_message(
    listing: Listing, kind: str, available: int
) -> EmailMultiAlternatives:
    return make_message(
        f"listing-{kind.replace('_', '-')}",
        listing.seller.email,
        {
            "listing": listing,
            "available": available,
            "forecast_days": stock_forecast(listing_id=listing.pk, available=available)
            if kind == "low_stock"
            else None,
        },
        listing.seller.language,
    )


def dispute_message(dispute: Dispute) -> EmailMultiAlternatives:
    """To the seller: a dispute opened (with the codes, to disable them), or its outcome."""
    order = dispute.order
    return make_message(
        "dispute",
        order.listing.seller.email,
        {
            "dispute": dispute,
            "order": order,
            "listing": order.listing,
            "codes": _codes(order),
        },
        order.listing.seller.language,
    )


def claim_messages(claim: Claim, event: str) -> list[EmailMultiAlternatives]:
    """A claim's news: to the seller when it opens or is escalated or staff decide
    it, to the buyer when it is replaced (with the new code) or rejected, to both
    when an unanswered claim went to staff because it could not be refunded
    automatically ("unrefunded"). Refunds are told by the refund's own emails."""
    order = claim.order
    listing = order.listing
    seller = listing.seller
    context: dict[str, Any] = {"claim": claim, "order": order, "listing": listing}
    if event in ("opened", "escalated"):
        return [make_message(f"claim-{event}", seller.email, context, seller.language)]
    if event == "unrefunded":
        context["disputed"] = order.disputes.exists()
        return [
            make_message(
                "claim-unrefunded-buyer", order.email, context, order.language
            ),
            make_message(
                "claim-unrefunded-seller", seller.email, context, seller.language
            ),
        ]
    messages = []
    if event == "replaced" and claim.replacement is not None:
        context["code"] = claim.replacement.reveal()
        messages.append(
            make_message("claim-replaced", order.email, context, order.language)
        )
    elif event == "rejected":
        messages.append(
            make_message("claim-rejected", order.email, context, order.language)
        )
    if claim.escalated_at is not None and event in ("replaced", "rejected", "refunded"):
        context.pop("code", None)
        messages.append(
            make_message("claim-decided", seller.email, context, seller.language)
        )
    return messages


def backorder_waiting_message(order: Order) -> EmailMultiAlternatives:
    return make_message(
        "backorder-waiting",
        order.email,
        {"order": order, "listing": order.listing},
        order.language,
    )


def disable_reminder_message(seller: Any, codes: list[Code]) -> EmailMultiAlternatives:
    """To a seller: cancelled codes they have not confirmed disabling on their system."""
    orders = dict(
        Order.objects.filter(id__in={c.order_id for c in codes}).values_list(
            "id", "reference"
        )
    )
    return make_message(
        "disable-reminder",
        seller.email,
        {
            "seller": seller,
            "codes": [
                {
                    "id": code.pk,
                    "value": code.reveal(),
                    "listing": code.listing.title,
                    "order": orders.get(code.order_id or 0, ""),
                }
                for code in codes
            ],
        },
        seller.language,
    )


def expiry_reminder_message(order: Order) -> EmailMultiAlternatives:
    """To the buyer, in their language: what runs out when, and where to buy again.
    Counts the live codes; never reveals them."""
    listing = order.listing
    return make_message(
        "expiry-reminder",
        order.email,
        {
            "order": order,
            "listing": listing,
            "seller": listing.seller,
            "expires_at": order.expires_at,
            "codes": Code.objects.filter(
                order_id=order.pk, status__in=Code.SOLD_STATUSES
            ).count(),
            "can_buy_again": listing.is_public,
        },
        order.language,
    )


def find_codes_message(
    *, email: str, link: str, orders: int, minutes: int, language: str
) -> EmailMultiAlternatives:
    """Find my codes: the link to an address's orders (never a code)."""
    return make_message(
        "find-codes",
        email,
        {"link": link, "orders": orders, "minutes": minutes},
        language,
    )
