"""Validating codes for buyers: look-up, redemption and cancellation by the seller.

Every entry point takes the seller and the value a buyer gave. A value that is
unknown, malformed or another seller's is indistinguishable to the caller: the
same single query by (seller, digest) runs and the same CodeNotFound comes back.

A look-up forgives what the code's own rules allow (issue 13): a generated
Crockford code is read as Crockford defined it (any case, O as 0, I and L as 1),
and a code of a listing whose codes are case-insensitive is found in any case.
Everything else matches exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
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
from codes.importing.generator import (
    DEFAULT_ALPHABET,
    crockford_canonical,
    crockford_regrouped,
)
from codes.importing.text import InvalidCode, case_fold, normalise
from codes.models import Code, CodeBatch
from codes.webhooks.delivery import webhook_emit_cancelled
from listings.services import listing_stock_move, listing_sync_stock

S = Code.Status

# Digests are 32 bytes: this one matches no code.
_NO_DIGEST = b"\x00"


@dataclass(frozen=True)
class _Digests:
    """The digests a look-up tries: of the value as given, and of its forgiving forms."""

    exact: bytes
    folded: bytes  # case_fold: how case-insensitive listings store their codes
    crockford: bytes  # crockford_canonical, the copy's grouping kept
    regrouped: bytes  # crockford_regrouped, for a copy typed without hyphens

    def all(self) -> list[bytes]:
        return [self.exact, self.folded, self.crockford, self.regrouped]


def _digests(value: str) -> _Digests:
    try:
        normalised = normalise(value or "").value
    except InvalidCode:
        normalised = ""
    if not normalised:
        # A malformed or blank value runs the same query (with impossible digests),
        # so the answer takes the same time as for an unknown code.
        return _Digests(_NO_DIGEST, _NO_DIGEST, _NO_DIGEST, _NO_DIGEST)
    digest = get_keyring().digest
    forms = {
        normalised,
        folded := case_fold(normalised),
        crockford := crockford_canonical(normalised),
        regrouped := crockford_regrouped(normalised),
    }
    digests = {form: digest(form) for form in forms}  # equal forms digested once
    return _Digests(
        exact=digests[normalised],
        folded=digests[folded],
        crockford=digests[crockford],
        regrouped=digests[regrouped],
    )


def _generated_crockford(batch: CodeBatch) -> bool:
    # A generator JSON without "alphabet" was generated with the default, as its import
    # (GeneratorOptions(**batch.generator)) reads it.
    return (
        batch.source == CodeBatch.Source.GENERATED
        and batch.generator.get("alphabet", DEFAULT_ALPHABET) == "crockford"
    )


def _choose(codes: Iterable[Code], digests: _Digests) -> Code | None:
    """The code the value stands for, among the seller's codes matching any digest.

    The exact form wins. A forgiving form counts only for a code whose rules allow
    it: the upper-cased form for a case-insensitive listing's code, and the
    Crockford forms (the upper-cased one included) for a generated Crockford code.
    """
    by_digest = {bytes(code.digest): code for code in codes}
    exact = by_digest.get(digests.exact)
    if exact is not None:
        return exact
    folded = by_digest.get(digests.folded)
    if folded is not None and folded.listing.codes_case_insensitive:
        return folded
    for key in (digests.folded, digests.crockford, digests.regrouped):
        code = by_digest.get(key)
        if code is not None and _generated_crockford(code.batch):
            return code
    return None


def code_lookup(*, seller_id: int, value: str, for_update: bool = False) -> Code:
    """The seller's code with this value, or CodeNotFound.

    One query whatever the value: `digest IN` the exact and forgiving digests (always
    four values, so the query has one shape), then `_choose` picks in Python. Each
    digest matches at most one of the seller's codes, so `for_update` locks at most
    four rows (those the value could stand for), in index order.
    """
    digests = _digests(value)
    qs = Code.objects.select_related("listing", "batch")
    if for_update:
        qs = qs.select_for_update(of=("self",))
    code = _choose(qs.filter(seller_id=seller_id, digest__in=digests.all()), digests)
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
    listing_stock_move(listing_id=code.listing_id, redeemed=1)
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
    was = code.status
    if code.status == S.AVAILABLE:
        code.status = S.WITHDRAWN  # never sold: it simply leaves stock
    else:
        code.status = S.CANCELLED
    code.cancel_reason = reason[:300]
    code.status_changed_at = now
    code.save(update_fields=["status", "cancel_reason", "status_changed_at"])
    if was == S.AVAILABLE:
        listing_stock_move(listing_id=code.listing_id, available=-int(code.approved))
    else:
        listing_stock_move(
            listing_id=code.listing_id, sold=-1, redeemed=-int(was == S.REDEEMED)
        )
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
