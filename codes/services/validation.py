"""Validating codes for buyers: look-up, redemption and cancellation by the seller.

Every entry point takes the seller and the value a buyer gave. A value that is
unknown, malformed or another seller's is indistinguishable to the caller: the
same single query by (seller, digest) runs and the same CodeNotFound comes back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from codes.crypto import get_keyring
from codes.exceptions import (
    CodeAlreadyRedeemed,
    CodeBusy,
    CodeCancelled,
    CodeNotFound,
    InvalidCodeValue,
)
from codes.importing.text import InvalidCode, normalise
from codes.models import Code
from codes.webhooks.delivery import webhook_emit_cancelled
from listings.services import listing_sync_stock

S = Code.Status


def _digest(value: str) -> bytes | None:
    try:
        normalised = normalise(value or "").value
    except InvalidCode:
        return None
    return get_keyring().digest(normalised) if normalised else None


def code_lookup(*, seller_id: int, value: str, for_update: bool = False) -> Code:
    """The seller's code with this value, or CodeNotFound."""
    digest = _digest(value)
    qs = Code.objects.select_related("listing")
    if for_update:
        qs = qs.select_for_update(of=("self",))
    # Even a malformed value runs the same query (with an impossible digest), so
    # the answer takes the same time as for an unknown code.
    code = qs.filter(seller_id=seller_id, digest=digest or b"\\x00").first()
    if code is None:
        raise CodeNotFound()
    return code


@dataclass(frozen=True)
class CodeState:
    code: Code
    valid: bool
    status: str
    listing_id: int
    listing_title: str
    sold_at: datetime | None
    redeemed_at: datetime | None
    redeemed_by: str


def code_state(code: Code) -> CodeState:
    return CodeState(
        code=code,
        valid=code.status == S.SOLD,
        status=code.status,
        listing_id=code.listing_id,
        listing_title=code.listing.title,
        sold_at=code.sold_at,
        redeemed_at=code.redeemed_at,
        redeemed_by=code.redeemed_by,
    )


def code_verify(*, seller_id: int, value: str) -> CodeState:
    return code_state(code_lookup(seller_id=seller_id, value=value))


def _redeem(code: Code, account: str) -> Code:
    if code.status == S.REDEEMED:
        if code.redeemed_by == account:
            return code  # a repeat by the same account is a no-op
        raise CodeAlreadyRedeemed(
            redeemed_at=code.redeemed_at, redeemed_by=code.redeemed_by
        )
    if code.status == S.CANCELLED:
        raise CodeCancelled()
    if code.status != S.SOLD:
        raise CodeNotFound()  # available, reserved, withdrawn: nobody bought it
    code.status = S.REDEEMED
    code.redeemed_at = code.status_changed_at = timezone.now()
    code.redeemed_by = account
    code.save(
        update_fields=["status", "redeemed_at", "redeemed_by", "status_changed_at"]
    )
    return code


def code_redeem(*, seller_id: int, value: str, account: str) -> CodeState:
    """Bind a sold code to one account. The row lock makes concurrent redemptions
    of one code agree: exactly one account wins."""
    account = (account or "").strip()[:255]
    if not account:
        raise InvalidCodeValue(
            "account", _("say which account or reference redeems the code")
        )
    with transaction.atomic():
        code = code_lookup(seller_id=seller_id, value=value, for_update=True)
        return code_state(_redeem(code, account))


def _locked_by_id(*, seller_id: int, code_id: int) -> Code:
    """The seller's code by id (the Validate a code page posts ids, not values), locked."""
    code = (
        Code.objects.select_for_update(of=("self",))
        .select_related("listing")
        .filter(pk=code_id, seller_id=seller_id)
        .first()
    )
    if code is None:
        raise CodeNotFound()
    return code


def code_redeem_by_id(*, seller_id: int, code_id: int, account: str) -> CodeState:
    """The Validate a code page's Mark as redeemed (it posts the id, not the value)."""
    account = (account or "").strip()[:255] or "marked by the seller"
    with transaction.atomic():
        code = _locked_by_id(seller_id=seller_id, code_id=code_id)
        return code_state(_redeem(code, account))


def _cancel(code: Code, reason: str) -> Code:
    if code.status in (S.CANCELLED, S.WITHDRAWN):
        return code
    if code.status == S.RESERVED:
        raise CodeBusy()
    now = timezone.now()
    if code.status == S.AVAILABLE:
        code.status = S.WITHDRAWN  # never sold: it simply leaves stock
    else:
        code.status = S.CANCELLED
    code.cancel_reason = reason[:300]
    code.status_changed_at = now
    code.save(update_fields=["status", "cancel_reason", "status_changed_at"])
    if code.status == S.CANCELLED:
        webhook_emit_cancelled(code=code, reason=code.cancel_reason)
    else:
        transaction.on_commit(
            lambda: listing_sync_stock(listing_id=code.listing_id), robust=True
        )
    return code


def code_cancel_by_id(*, seller_id: int, code_id: int, reason: str) -> CodeState:
    with transaction.atomic():
        code = _locked_by_id(seller_id=seller_id, code_id=code_id)
        return code_state(_cancel(code, reason or "cancelled by the seller"))
