"""One way to answer a provider's webhook, for every endpoint (payments, Connect)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

from .payments.base import InvalidWebhook, PaymentError, PaymentProvider, ProviderEvent
from .services.events import payment_event_process

logger = logging.getLogger(__name__)


def webhook_response(
    request: HttpRequest,
    provider: PaymentProvider,
    parse: Callable[[HttpRequest], ProviderEvent],
) -> HttpResponse:
    """Verify with `parse`, then apply once with `payment_event_process`.

    200 when the event is handled (now, before, or recorded as a permanent
    failure); 503 on a transient failure so that the provider sends it again. Any
    other error rolls the event back and answers 500, which is also retried.
    """
    try:
        event = parse(request)
    except InvalidWebhook as e:
        logger.warning("%s webhook refused: %s", provider.identifier, e)
        return HttpResponseBadRequest("invalid signature")
    try:
        payment_event_process(provider_name=provider.identifier, event=event)
    except (PaymentError, OperationalError) as e:
        logger.warning(
            "%s webhook %s: transient failure %s",
            provider.identifier,
            event.event_id,
            type(e).__name__,
        )
        return HttpResponse(status=503)
    return HttpResponse(status=200)
