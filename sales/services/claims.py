"""Claims: "a code didn't work" (DESIGN "After the sale").

`open → replaced | refunded | rejected`; `rejected → escalated → replaced |
refunded | rejected` (staff). An open claim past its deadline is refunded
automatically. A replacement is sold like any code (codes_allocate_sold: never
twice); the bad code is cancelled with the reason. Refunds go through
`order_refund`, so the money, the ledger and the cancelled code follow its rules.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from codes.exceptions import OutOfStock
from codes.models import Code
from codes.services.allocation import (
    codes_allocate_sold,
    codes_cancel,
    codes_emit_sold,
)
from distribly.errors import FieldError
from distribly.tasks import enqueue, enqueue_on_commit
from sales.exceptions import ClaimError, RefundError
from sales.models import Claim, Order, Refund
from sales.selectors import claim_can_open, refunded_code_ids

from .refunds import order_refund

CS = Claim.Status
EMAIL_TASK = "sales.tasks.email_claim"
UNANSWERED_TASK = "sales.tasks.claim_refund_unanswered"


def _check_buyer_limit(email: str) -> None:
    since = timezone.now() - timedelta(days=settings.CLAIMS_PER_BUYER_DAYS)
    if (
        Claim.objects.filter(email=email, created_at__gte=since).count()
        >= settings.CLAIMS_PER_BUYER
    ):
        raise ClaimError(
            _(
                "You have reported %(count)d problems in the last %(days)d days, the "
                "most we take. Please write to the seller, or to us if it is urgent."
            )
            % {
                "count": settings.CLAIMS_PER_BUYER,
                "days": settings.CLAIMS_PER_BUYER_DAYS,
            }
        )


def claim_open(*, order: Order, code_id: int, reason: str, message: str) -> Claim:
    """The buyer reports a delivered code that does not work. The seller is emailed
    and has CLAIM_RESPONSE_HOURS to answer. Raises FieldError or ClaimError."""
    message = message.strip()
    if reason not in Claim.Reason.values:
        raise FieldError("reason", _("Choose what is wrong with the code."))
    if not message:
        raise FieldError(
            "message", _("Tell the seller what happened when you used the code.")
        )
    with transaction.atomic():
        order = (
            Order.objects.select_for_update().select_related("listing").get(pk=order.pk)
        )
        code = Code.objects.filter(pk=code_id, order_id=order.pk).first()
        if code is None:
            raise ClaimError(_("That code is not part of this order."))
        if Claim.objects.filter(code=code).exists():
            raise ClaimError(_("You have already reported a problem with this code."))
        if not claim_can_open(order=order, code=code):
            raise ClaimError(
                _(
                    "Problems with this code can no longer be reported here: it is "
                    "cancelled, or its %(days)d days to report one have passed."
                )
                % {"days": order.listing.claim_window_days}
            )
        _check_buyer_limit(order.email)
        try:
            with transaction.atomic():
                claim = Claim.objects.create(
                    order=order,
                    seller_id=order.seller_id,
                    code=code,
                    email=order.email,
                    reason=reason,
                    message=message[:2000],
                    respond_by=timezone.now()
                    + timedelta(hours=settings.CLAIM_RESPONSE_HOURS),
                )
        except IntegrityError as e:  # the same report posted twice at once
            raise ClaimError(
                _("You have already reported a problem with this code.")
            ) from e
        enqueue_on_commit(EMAIL_TASK, claim.pk, "opened")
    return claim


def _locked_claim(claim_id: int, *, staff: bool) -> tuple[Claim, Order]:
    """Lock the order, then the claim (the order first, like every sale and refund)."""
    order_id = Claim.objects.values_list("order_id", flat=True).get(pk=claim_id)
    order = Order.objects.select_for_update().get(pk=order_id)
    claim = Claim.objects.select_for_update().get(pk=claim_id)
    wanted = CS.ESCALATED if staff else CS.OPEN
    if claim.status == wanted:
        return claim, order
    if claim.status == CS.ESCALATED:
        raise ClaimError(_("Distribly staff are deciding this problem now."))
    if claim.status == CS.OPEN:
        raise ClaimError(_("This problem waits for the seller's answer first."))
    raise ClaimError(
        _("This problem is already answered (%(status)s).")
        % {"status": claim.get_status_display().lower()}
    )


def _decided(claim: Claim, status: str, by: Any) -> None:
    claim.status = status
    claim.decided_at = timezone.now()
    claim.decided_by = by if getattr(by, "is_authenticated", False) else None


def claim_replace(*, claim: Claim, by: Any, staff: bool = False) -> Claim:
    """Replace the reported code with the listing's next code, sold like any code;
    the bad one is cancelled with the reason and the buyer emailed the new code.
    Raises ClaimError (no code left: refund instead; the code is refunded already).

    The reported code is cancelled first, then the next one allocated: a redeem of
    the reported code locks it and then the listing's stock counter, so this takes
    them in the same order (allocating first took the counter, then waited for
    the code: a deadlock). Without stock, the whole transaction rolls back."""
    with transaction.atomic():
        claim, order = _locked_claim(claim.pk, staff=staff)
        _check_not_refunded(claim, order)
        codes_cancel(
            order_id=order.pk,
            code_ids=[claim.code_id],
            reason=f"Replaced: {claim.get_reason_display()}",
        )
        try:
            [replacement] = codes_allocate_sold(
                listing_id=order.listing_id, order_id=order.pk, quantity=1
            )
        except OutOfStock as e:
            raise ClaimError(
                _("There is no code left to replace it with: refund it instead.")
            ) from e
        _decided(claim, CS.REPLACED, by)
        claim.replacement_id = replacement
        claim.save()
        codes_emit_sold(
            order_id=order.pk,
            order_reference=order.reference,
            seller_id=order.seller_id,
            buyer_email=order.email,
        )
        # One less code in stock: the sold-out and low-stock checks of a sale.
        enqueue_on_commit("sales.tasks.order_fulfilled", order.pk)
        enqueue_on_commit(EMAIL_TASK, claim.pk, "replaced")
    return claim


def _check_not_refunded(claim: Claim, order: Order) -> None:
    """Under the order's lock: the reported code is not paid back, nor being."""
    if claim.code_id in refunded_code_ids(order):
        raise ClaimError(_("This code is refunded already."))
    if order.refunds.filter(status=Refund.Status.PENDING).exists():
        raise ClaimError(
            _("A refund of this order is in progress; try again in a minute.")
        )


def claim_refund(
    *, claim: Claim, by: Any, staff: bool = False, unanswered: bool = False
) -> Claim:
    """Refund the reported code (its unit) through the order's provider; the code is
    cancelled and both sides are emailed by the refund. A code cancelled meanwhile
    without a refund is paid back all the same; one paid back already just closes
    the claim.

    The claim is `refunding` while the provider is asked (outside any lock), so no
    other answer (a second click, the deadline's automatic refund, staff) can
    replace or reject it meanwhile. Raises ClaimError, or RefundError (the provider
    did not take it: the claim is as it was)."""
    with transaction.atomic():
        claim, order = _locked_claim(claim.pk, staff=staff)
        if unanswered and claim.respond_by > timezone.now():
            raise ClaimError(_("The seller still has time to answer."))
        if order.disputes.exists():
            raise ClaimError(
                _(
                    "The buyer's bank is handling this payment (a dispute): it can't "
                    "be refunded here."
                )
            )
        if claim.code_id in refunded_code_ids(order):
            _decided(claim, CS.REFUNDED, by)
            claim.save()
            return claim
        before = claim.status
        claim.status = CS.REFUNDING
        claim.save(update_fields=["status"])
    try:
        refund = order_refund(
            order=order,
            code_ids=[claim.code_id],
            by=by,
            source=Refund.Source.UNANSWERED if unanswered else Refund.Source.CLAIM,
            reason=f"Problem reported: {claim.get_reason_display()}",
            unrefunded_cancelled=True,
        )
        if claim.code_id not in refund.code_ids:  # another pending refund resumed
            raise RefundError(
                _(
                    "Another refund of this order was in progress; try again in a minute."
                )
            )
    except RefundError:
        Claim.objects.filter(pk=claim.pk, status=CS.REFUNDING).update(status=before)
        raise
    with transaction.atomic():
        # The refund closed it already (claims_close_refunded); record who and how.
        claim = Claim.objects.select_for_update().get(pk=claim.pk)
        _decided(claim, CS.REFUNDED, by)
        claim.automatic = unanswered
        claim.refund = refund
        claim.save()
        if staff:
            enqueue_on_commit(EMAIL_TASK, claim.pk, "refunded")
    return claim


def claim_reject(*, claim: Claim, by: Any, message: str, staff: bool = False) -> Claim:
    """The seller (or, on escalation, staff) says the code is fine, and why. The
    buyer is emailed; after a seller's rejection they may escalate once."""
    message = message.strip()
    if not message:
        raise FieldError(
            "message",
            _(
                "Tell the buyer why the code is fine or what to try (they will read it)."
            ),
        )
    with transaction.atomic():
        claim, _order = _locked_claim(claim.pk, staff=staff)
        _decided(claim, CS.REJECTED, by)
        if staff:
            claim.staff_message = message[:2000]
        else:
            claim.seller_message = message[:2000]
        claim.save()
        enqueue_on_commit(EMAIL_TASK, claim.pk, "rejected")
    return claim


def claim_escalate(*, claim: Claim, message: str) -> Claim:
    """The buyer asks Distribly to look at a rejected claim (once). Staff decide in
    the admin; the seller is told."""
    message = message.strip()
    if not message:
        raise FieldError(
            "escalation_message",
            _("Tell us why the seller's answer does not solve the problem."),
        )
    with transaction.atomic():
        claim = Claim.objects.select_for_update().get(pk=claim.pk)
        if not claim.can_escalate:
            raise ClaimError(
                _("Only a rejected problem can be escalated, and only once.")
            )
        claim.status = CS.ESCALATED
        claim.escalated_at = timezone.now()
        claim.escalation_message = message[:2000]
        claim.save()
        enqueue_on_commit(EMAIL_TASK, claim.pk, "escalated")
    return claim


def claims_unanswered_sweep() -> list[int]:
    """Periodic: open claims past their deadline get their automatic refund (a task
    each: the refund calls the provider); claims left `refunding` by a process
    that died are settled."""
    claims_refunding_settle()
    ids = list(
        Claim.objects.filter(status=CS.OPEN, respond_by__lt=timezone.now())
        .order_by("respond_by")
        .values_list("pk", flat=True)[:200]
    )
    for claim_id in ids:
        enqueue(UNANSWERED_TASK, claim_id)
    return ids


def claims_refunding_settle() -> int:
    """Claims `refunding` with no refund pending on their order: the process died
    between the provider's answer and ours. A refund that went through closed them
    already (claims_close_refunded); the rest are answerable again by whoever had
    them: staff when escalated (a buyer's escalation, whose claim carries the
    seller's rejection in `decided_at`, or an unanswered claim sent to staff), the
    seller otherwise."""
    stale = Claim.objects.filter(status=CS.REFUNDING).exclude(
        order__refunds__status=Refund.Status.PENDING,
    )
    settled = stale.filter(escalated_at__isnull=False).update(status=CS.ESCALATED)
    settled += stale.filter(escalated_at__isnull=True).update(status=CS.OPEN)
    return settled


def claim_refund_unanswered(*, claim_id: int) -> Claim | None:
    """Refund an open claim the seller left unanswered; None if it was answered.
    When the refund cannot happen (a dispute, the provider refuses for good), the
    claim goes to staff instead of being retried for ever."""
    claim = Claim.objects.get(pk=claim_id)
    if claim.status != CS.OPEN or claim.respond_by > timezone.now():
        return None
    started = timezone.now()
    try:
        return claim_refund(claim=claim, by=None, unanswered=True)
    except (ClaimError, RefundError) as e:
        refused = (
            isinstance(e, ClaimError)
            or Refund.objects.filter(
                order_id=claim.order_id,
                status=Refund.Status.FAILED,
                created_at__gte=started,
            ).exists()
        )
        if not refused:
            raise  # the provider is unreachable: the task retries
        with transaction.atomic():
            moved = Claim.objects.filter(pk=claim.pk, status=CS.OPEN).update(
                status=CS.ESCALATED,
                escalated_at=timezone.now(),
                escalation_message=f"Not answered in time, and not refunded automatically: {e}"[
                    :2000
                ],
            )
            if moved:  # both sides are told it went to staff, and why
                enqueue_on_commit(EMAIL_TASK, claim.pk, "unrefunded")
        return None
