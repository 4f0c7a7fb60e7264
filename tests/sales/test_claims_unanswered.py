"""An unanswered claim that cannot be refunded automatically (a dispute, a provider
that refuses for good) goes to staff and both sides are told; a staff refund that
died half-way leaves the claim with staff (DESIGN "After the sale")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from codes.models import Code
from sales.exceptions import RefundError
from sales.models import Claim, Refund
from sales.payments.base import DisputeState, PaymentError
from sales.services.claims import (
    claim_refund,
    claim_refund_unanswered,
    claims_refunding_settle,
    claims_unanswered_sweep,
)
from sales.services.disputes import dispute_sync
from sales.services.refunds import STALE_REFUND

pytestmark = pytest.mark.django_db

DEV_REFUND = "sales.payments.dev.DevProvider.refund"


@pytest.fixture
def claim(client, active_listing, buy, django_capture_on_commit_callbacks):
    """An open claim on one delivered code (one more code in stock)."""
    listing = active_listing(codes=2)
    order = buy(listing, email="buyer@example.com")
    code = Code.objects.get(order_id=order.pk)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("sales:claim-report", args=[order.token, code.pk]),
            {"reason": "not_accepted", "message": "Store says invalid"},
        )
    return Claim.objects.select_related("order__listing__seller").get()


def _past_deadline(claim):
    Claim.objects.filter(pk=claim.pk).update(
        respond_by=timezone.now() - timedelta(minutes=1)
    )


def _refuse_refunds(monkeypatch, *, permanent):
    def refuse(self, *, refund):
        raise PaymentError("The card was closed", permanent=permanent)

    monkeypatch.setattr(DEV_REFUND, refuse)


def _mail_to(mailoutbox, address):
    return [m for m in mailoutbox if m.to == [address]]


def test_an_unanswered_claim_on_a_disputed_payment_goes_to_staff_and_both_are_told(
    client, claim, mailoutbox, django_capture_on_commit_callbacks
):
    order, seller = claim.order, claim.order.listing.seller
    payment = order.payments.get()
    dispute_sync(  # the buyer's bank opened a dispute (its emails are not ours here)
        order_id=order.pk,
        state=DisputeState(
            dispute_id="dp_claimed",
            provider_payment_id=payment.provider_payment_id or "dev",
            amount=order.amount,
            currency=order.currency,
            reason="product_unacceptable",
            status="needs_response",
        ),
    )
    _past_deadline(claim)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert claims_unanswered_sweep() == [claim.pk]
    claim.refresh_from_db()
    assert claim.status == "escalated"
    assert claim.escalated_at is not None
    assert claim.escalation_message.startswith("Not answered in time")
    assert not Refund.objects.exists()
    [buyer_mail] = _mail_to(mailoutbox, order.email)
    assert "went to Distribly staff" in buyer_mail.subject
    assert "dispute" in buyer_mail.body
    assert order.get_absolute_url() in buyer_mail.body
    [seller_mail] = _mail_to(mailoutbox, seller.email)
    assert "went to Distribly staff" in seller_mail.subject
    assert "dispute" in seller_mail.body
    assert reverse("sales:claim-detail", args=[claim.pk]) in seller_mail.body
    assert len(mailoutbox) == 2
    # told once: the next sweeps leave it to staff
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert claims_unanswered_sweep() == []
    assert mailoutbox == []
    page = client.get(order.get_absolute_url()).content.decode()
    assert "Distribly staff are looking at it" in page
    client.force_login(seller)
    detail = client.get(reverse("sales:claim-detail", args=[claim.pk]))
    assert "Sent to Distribly staff" in detail.content.decode()
    client.post(reverse("sales:claim-answer", args=[claim.pk, "refund"]))
    claim.refresh_from_db()
    assert claim.status == "escalated"  # staff decide now, not the seller


def test_an_unanswered_claim_the_provider_refuses_to_refund_goes_to_staff(
    client,
    claim,
    monkeypatch,
    user_factory,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    order, seller = claim.order, claim.order.listing.seller
    _refuse_refunds(monkeypatch, permanent=True)
    _past_deadline(claim)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert claims_unanswered_sweep() == [claim.pk]
    claim.refresh_from_db()
    assert claim.status == "escalated"
    assert "The card was closed" in claim.escalation_message
    assert not claim.automatic
    assert Refund.objects.get().status == "failed"
    assert Code.objects.get(pk=claim.code_id).status == "sold"
    [buyer_mail] = _mail_to(mailoutbox, order.email)
    assert "did not accept the refund" in buyer_mail.body
    assert "dispute" not in buyer_mail.body
    [seller_mail] = _mail_to(mailoutbox, seller.email)
    assert "can no longer answer it" in seller_mail.body
    assert len(mailoutbox) == 2
    # staff decide it like any escalated claim, and tell both sides
    client.force_login(user_factory(is_staff=True, is_superuser=True))
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:sales_claim_changelist"),
            {
                "action": "reject",
                "_selected_action": [claim.pk],
                "confirm": "yes",
                "reason": "Our records show the code redeemed on the 3rd.",
            },
        )
    claim.refresh_from_db()
    assert claim.status == "rejected"
    assert "This decision is final" in _mail_to(mailoutbox, order.email)[0].body
    [decided] = _mail_to(mailoutbox, seller.email)
    assert "came to us unanswered" in decided.body


def test_an_unreachable_provider_keeps_the_claim_open_for_a_retry(
    claim, monkeypatch, mailoutbox, django_capture_on_commit_callbacks
):
    _refuse_refunds(monkeypatch, permanent=False)
    _past_deadline(claim)
    mailoutbox.clear()
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RefundError),
    ):
        claim_refund_unanswered(claim_id=claim.pk)
    claim.refresh_from_db()
    assert (claim.status, claim.escalated_at) == ("open", None)
    assert mailoutbox == []
    pending = Refund.objects.get()
    assert pending.status == "pending"  # asked once: resumed with the same key
    with django_capture_on_commit_callbacks(execute=True):
        assert claims_unanswered_sweep() == [claim.pk]  # still unreachable
    assert Claim.objects.get(pk=claim.pk).status == "open"
    # The provider is back, and the refund is no longer "in progress".
    monkeypatch.undo()
    Refund.objects.filter(pk=pending.pk).update(
        created_at=timezone.now() - STALE_REFUND - timedelta(minutes=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert claims_unanswered_sweep() == [claim.pk]
    claim.refresh_from_db()
    assert claim.status == "refunded"
    assert claim.automatic
    assert Refund.objects.get().status == "succeeded"  # the same refund, resumed


def test_a_staff_refund_that_died_half_way_leaves_the_claim_with_staff(
    client,
    claim,
    monkeypatch,
    user_factory,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    order, seller = claim.order, claim.order.listing.seller
    client.force_login(seller)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("sales:claim-answer", args=[claim.pk, "reject"]),
            {"message": "Enter it in the EU store."},
        )
        client.logout()
        client.post(
            reverse("sales:claim-escalate", args=[order.token, claim.pk]),
            {"escalation_message": "I did, it still fails."},
        )
    claim.refresh_from_db()
    assert claim.status == "escalated"
    staff = user_factory(is_staff=True, is_superuser=True)

    def die(self, *, refund):
        raise SystemExit("worker killed while Stripe answered")

    monkeypatch.setattr(DEV_REFUND, die)
    with pytest.raises(SystemExit):
        claim_refund(claim=claim, by=staff, staff=True)
    monkeypatch.undo()
    claim.refresh_from_db()
    refund = Refund.objects.get()
    assert (claim.status, refund.status) == ("refunding", "pending")
    assert claims_refunding_settle() == 0  # the refund may still go through
    # Past the deadline too: an escalated claim is never refunded automatically.
    _past_deadline(claim)
    # The provider turned it down meanwhile: the claim is answerable again, by staff.
    Refund.objects.filter(pk=refund.pk).update(status="failed")
    with django_capture_on_commit_callbacks(execute=True):
        assert claims_unanswered_sweep() == []
    claim.refresh_from_db()
    assert claim.status == "escalated"
    assert claims_refunding_settle() == 0  # settled once
    client.force_login(seller)
    client.post(reverse("sales:claim-answer", args=[claim.pk, "refund"]))
    claim.refresh_from_db()
    assert claim.status == "escalated"
    client.force_login(staff)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:sales_claim_changelist"),
            {"action": "refund", "_selected_action": [claim.pk]},
        )
    claim.refresh_from_db()
    assert claim.status == "refunded"
    assert not claim.automatic
    assert Refund.objects.filter(status="succeeded").get().source == "claim"
    assert any("Distribly decided" in m.subject for m in mailoutbox)


def test_an_open_claim_left_refunding_is_answerable_by_the_seller_again(
    client, claim, monkeypatch
):
    seller = claim.order.listing.seller

    def die(self, *, refund):
        raise SystemExit("worker killed")

    monkeypatch.setattr(DEV_REFUND, die)
    with pytest.raises(SystemExit):
        claim_refund(claim=claim, by=seller)
    monkeypatch.undo()
    Refund.objects.filter(order=claim.order).update(status="failed")
    assert claims_refunding_settle() == 1
    claim.refresh_from_db()
    assert (claim.status, claim.escalated_at) == ("open", None)
    client.force_login(seller)
    client.post(reverse("sales:claim-answer", args=[claim.pk, "replace"]))
    claim.refresh_from_db()
    assert claim.status == "replaced"
