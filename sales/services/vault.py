"""Writes of the buyer's vault: page views of the codes it shows, the reminder
before a fixed-length subscription runs out, and Find my codes (a signed,
time-limited link to the orders of an email address).

No code value ever goes into these emails, a link, a task argument or a log line.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from codes.models import Code
from distribly.mail import TRANSIENT_EMAIL_ERRORS
from distribly.ratelimits import window_hit
from distribly.tasks import enqueue_on_commit
from listings.models import Listing
from sales import emails
from sales.exceptions import FindCodesLimited
from sales.models import Order
from sales.vault import orders_for_email

logger = logging.getLogger(__name__)

FIND_CODES_TASK = "sales.tasks.email_find_codes"
# The link opens the order pages, and so every code bought with the address: it
# lives one hour, long enough to open the email that was just asked for, short
# enough that a forwarded or leaked email soon opens nothing. Anyone who needs it
# later asks again (FIND_CODES_PER_HOUR allows that). The salt keeps these
# signatures apart from every other use of SECRET_KEY.
FIND_CODES_LINK_AGE = timedelta(hours=1)
FIND_CODES_SALT = "sales.vault.find-codes"
# Reminders sent per run; the next run (hourly) continues, well inside the window.
REMIND_BATCH = 500


# --- Expiry reminders -------------------------------------------------------------


def _due_for_reminder(now: datetime) -> list[int]:
    """Fulfilled orders of fixed-length listings that still hold a live code and
    run out within EXPIRY_REMINDER_DAYS, not reminded yet, soonest first.

    Listings that last no longer than the reminder period are left out: their
    reminder would arrive with the codes themselves.

    One range query on `fulfilled_at` per validity in use (sellers pick a few:
    30, 90, 365 days): "fulfilled_at + validity" in SQL needs interval
    arithmetic that SQLite cannot do on a column.
    """
    remind = timedelta(days=settings.EXPIRY_REMINDER_DAYS)
    validities = (
        Listing.objects.filter(validity_days__gt=settings.EXPIRY_REMINDER_DAYS)
        .order_by()
        .values_list("validity_days", flat=True)
        .distinct()
    )
    live = Exists(
        Code.objects.filter(order_id=OuterRef("pk"), status__in=Code.SOLD_STATUSES)
    )
    due: list[tuple[datetime, int]] = []
    for days in validities:
        validity = timedelta(days=days or 0)
        rows = (
            Order.objects.filter(
                live,
                status=Order.Status.FULFILLED,
                expiry_reminded_at__isnull=True,
                listing__validity_days=days,
                fulfilled_at__gt=now - validity,
                fulfilled_at__lte=now + remind - validity,
            )
            .order_by("fulfilled_at")
            .values_list("pk", "fulfilled_at")[:REMIND_BATCH]
        )
        due += [(at + validity, pk) for pk, at in rows if at is not None]
    return [pk for _, pk in sorted(due)[:REMIND_BATCH]]


def order_expiry_remind(*, order_id: int, now: datetime | None = None) -> bool:
    """Send one order's expiry reminder, at most once.

    The conditional UPDATE (`expiry_reminded_at IS NULL`) decides which run
    sends, so overlapping runs send once. Mark first, send after: a crash in
    between loses one courtesy reminder rather than sending it twice. A transient
    send error clears the mark again (the next run retries) and is re-raised.
    """
    now = now or timezone.now()
    claimed = Order.objects.filter(pk=order_id, expiry_reminded_at__isnull=True).update(
        expiry_reminded_at=now
    )
    if not claimed:
        return False
    order = Order.objects.select_related("listing__seller").get(pk=order_id)
    try:
        emails.expiry_reminder_message(order).send()
    except TRANSIENT_EMAIL_ERRORS:
        Order.objects.filter(pk=order_id, expiry_reminded_at=now).update(
            expiry_reminded_at=None
        )
        raise
    return True


def orders_expiry_remind() -> list[int]:
    """The periodic sweep (`sales.tasks.orders_expiry_remind`): remind every order
    due (see `_due_for_reminder`). Returns the ids reminded now. An email error
    skips that order until the next run; the others still go out."""
    now = timezone.now()
    sent = []
    for order_id in _due_for_reminder(now):
        try:
            if order_expiry_remind(order_id=order_id, now=now):
                sent.append(order_id)
        except TRANSIENT_EMAIL_ERRORS as e:
            logger.warning(
                "expiry reminder of order %s not sent (%s)", order_id, type(e).__name__
            )
    return sent


# --- Find my codes ------------------------------------------------------------------


def find_codes_rate_check(*, email: str, network: str) -> None:
    """Count a Find my codes request against its network and its email address,
    FIND_CODES_PER_HOUR each, in fixed one-hour windows. Raises FindCodesLimited.

    Both count whether or not the address has orders, so the limit tells nothing
    about it. The per-address count stops anyone from flooding a mailbox through
    us; its cost is that they can hold up that address's links for an hour.
    """
    window = int(time.time()) // 3600
    # The address is hashed: cache keys show up in Redis tools and logs.
    email_key = hashlib.sha256(email.encode()).hexdigest()[:32]
    counts = [window_hit(f"find-codes:email:{email_key}:{window}", 3700)]
    if network:
        counts.append(window_hit(f"find-codes:net:{network}:{window}", 3700))
    if max(counts) > settings.FIND_CODES_PER_HOUR:
        raise FindCodesLimited(
            _(
                "Too many requests for this address or from your network. "
                "Please try again in an hour, or use the link we sent you already."
            )
        )


def find_codes_request(*, email: str, network: str, language: str) -> None:
    """Someone asks for the orders of `email`. After the rate check the answer is
    the same whether or not the address has orders: the task decides whether to
    send, after commit and outside this request, so neither the response nor its
    timing tells (with a broker; in eager development mode it runs in-process)."""
    email = email.strip().lower()
    find_codes_rate_check(email=email, network=network)
    enqueue_on_commit(FIND_CODES_TASK, email, language)


def _link_key(nonce: str) -> str:
    return f"find-codes:link:{nonce}"


def find_codes_token(*, email: str) -> str:
    """The signed, timestamped token of a Find my codes link. It carries a random
    nonce, not the address (URLs end up in access logs): the address waits in the
    cache under the nonce for as long as the link is valid."""
    nonce = secrets.token_urlsafe(18)
    cache.set(
        _link_key(nonce),
        email.strip().lower(),
        timeout=int(FIND_CODES_LINK_AGE.total_seconds()) + 60,
    )
    return signing.dumps(nonce, salt=FIND_CODES_SALT)


def find_codes_email(*, token: str) -> str:
    """The address a link was made for. Raises signing.SignatureExpired past
    FIND_CODES_LINK_AGE (or when the cache lost it), signing.BadSignature when
    tampered with."""
    nonce = signing.loads(token, salt=FIND_CODES_SALT, max_age=FIND_CODES_LINK_AGE)
    email = cache.get(_link_key(str(nonce)))
    if not isinstance(email, str):
        raise signing.SignatureExpired("the link's address is no longer kept")
    return email


def find_codes_send(*, email: str, language: str) -> bool:
    """Email the link, only when the address has paid orders. Returns whether it
    sent. Safe to run twice: a second link is as good as the first."""
    orders = orders_for_email(email=email).count()
    if not orders:
        return False
    path = reverse("sales:find-codes-orders", args=[find_codes_token(email=email)])
    emails.find_codes_message(
        email=email,
        link=settings.SITE_URL + path,
        orders=orders,
        minutes=int(FIND_CODES_LINK_AGE.total_seconds() // 60),
        language=language,
    ).send()
    return True
