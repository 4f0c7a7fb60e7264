"""Provider webhook events: each applied once, never lost.

The view verifies the signature and hands the event here. The event is only a
trigger: the provider is asked for the object's real state first, outside any
transaction (pretix plugins/stripe/views.py). Then one transaction records the
event id and applies its effect. Only a conflict on that insert means another
delivery of the same event got there first; an effect that fails rolls the
record back with it and the error reaches the view, which answers 5xx so the
provider sends the event again. A permanent provider error cannot be cured by
retrying: it is recorded on the event (staff see it in the admin) and the event
counts as handled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import IntegrityError, transaction

from distribly.accounts.models import PayoutAccount
from sales.models import Payment, WebhookEvent
from sales.payments import get_provider
from sales.payments.base import PaymentError, ProviderEvent, ProviderStatus

from .disputes import dispute_effect
from .earnings import payout_account_save, payout_record
from .fraud import fraud_warning_effect
from .payments import payment_confirm, payment_expire, payment_fail
from .refunds import payment_refunds_sync

logger = logging.getLogger(__name__)

CONFIRMING = {"checkout.session.completed", "checkout.session.async_payment_succeeded"}


S = WebhookEvent.Status


def payment_event_process(
    *, provider_name: str, event: ProviderEvent
) -> WebhookEvent | None:
    """Apply one verified provider event exactly once (see the module docstring).
    Returns the event's record (its status says what happened), or None when the
    event had been handled before.

    Call it outside any transaction: it asks the provider before it opens its own.

    Raises PaymentError (transient) or a database error when the provider should
    send the event again.
    """
    if WebhookEvent.objects.filter(
        provider=provider_name, event_id=event.event_id
    ).exists():
        return None  # a replay: skip the provider call
    try:
        effect = _effect_for(provider_name, event)
    except PaymentError as e:
        if not e.permanent:
            raise
        return _record_failure(provider_name, event, e)
    if effect is None:
        return _record(provider_name, event, S.IGNORED, lambda: None)
    return _record(provider_name, event, S.PROCESSED, effect)


def _effect_for(
    provider_name: str, event: ProviderEvent
) -> Callable[[], object] | None:
    """Re-fetch what the event is about (no transaction open) and return its database
    effect, or None when the event concerns nothing of ours."""
    provider = get_provider(provider_name)
    if event.type.startswith("checkout.session."):
        payment = Payment.objects.filter(
            provider=provider_name, provider_ref=event.object_id
        ).first()
        if payment is None:
            return None
        status = provider.fetch_status(payment=payment)
        return _checkout_effect(event.type, payment.pk, status)
    if event.type == "charge.refunded":
        info = provider.fetch_charge_refunds(object_id=event.object_id)
        return lambda: payment_refunds_sync(provider_name=provider_name, info=info)
    if event.type.startswith("charge.dispute."):
        return dispute_effect(provider_name, event)
    if event.type == "radar.early_fraud_warning.created":
        return fraud_warning_effect(provider_name, event)
    return _connect_effect(provider_name, event)


def _connect_effect(
    provider_name: str, event: ProviderEvent
) -> Callable[[], object] | None:
    """Events about a seller's payout account (the Connect endpoint)."""
    account_id = event.account or event.object_id
    account = PayoutAccount.objects.filter(
        provider=provider_name, account_id=account_id
    ).first()
    if account is None:
        return None
    provider = get_provider(provider_name)
    if event.type == "account.updated":
        state = provider.account_fetch(account_id=account_id)
        return lambda: payout_account_save(user=account.user, state=state)
    if event.type.startswith("payout.") and event.account:
        payout = provider.payout_fetch(account_id=account_id, payout_id=event.object_id)
        return lambda: payout_record(seller_id=account.user_id, state=payout)
    return None


def _checkout_effect(
    event_type: str, payment_id: int, status: ProviderStatus
) -> Callable[[], object] | None:
    if event_type in CONFIRMING and status.state == "paid":
        return lambda: payment_confirm(payment_id=payment_id, status=status)
    if event_type == "checkout.session.async_payment_failed":
        return lambda: payment_fail(payment_id=payment_id)
    if event_type == "checkout.session.expired" and status.state == "expired":
        return lambda: payment_expire(payment_id=payment_id)
    return None


def _record(
    provider_name: str,
    event: ProviderEvent,
    status: str,
    effect: Callable[[], object],
) -> WebhookEvent | None:
    """Record the event id and apply its effect in one transaction."""
    with transaction.atomic():
        try:
            with transaction.atomic():  # a savepoint: only this insert may conflict
                row = WebhookEvent.objects.create(
                    provider=provider_name,
                    event_id=event.event_id,
                    type=event.type,
                    status=status,
                )
        except IntegrityError:
            return None  # another delivery of the event got here first
        effect()  # any error here rolls the record back too: the provider retries
    return row


def _record_failure(
    provider_name: str, event: ProviderEvent, error: PaymentError
) -> WebhookEvent | None:
    logger.warning(
        "%s event %s (%s): permanent provider error, recorded for staff",
        provider_name,
        event.event_id,
        event.type,
    )
    with transaction.atomic():
        row, created = WebhookEvent.objects.get_or_create(
            provider=provider_name,
            event_id=event.event_id,
            defaults={
                "type": event.type,
                "status": S.FAILED,
                "error": str(error)[:300],
            },
        )
    return row if created else None
