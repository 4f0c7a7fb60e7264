"""Claims: a buyer reports a code that does not work; the seller replaces, refunds or
rejects it; a rejection may be escalated once to staff; an unanswered claim is
refunded automatically (DESIGN "After the sale")."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from codes.models import Code
from codes.services.validation import code_verify
from sales.models import Claim, Order, Refund
from sales.services.cancelled import codes_disable_remind
from sales.services.claims import claims_unanswered_sweep

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivered(active_listing, buy):
    """(listing, order, code): one code delivered to a guest; one more in stock."""
    listing = active_listing(codes=2)
    order = buy(listing, email="buyer@example.com")
    code = Code.objects.get(order_id=order.pk)
    return listing, order, code


def report(client, order, code, reason="not_accepted", message="Store says invalid"):
    return client.post(
        reverse("sales:claim-report", args=[order.token, code.pk]),
        {"reason": reason, "message": message},
    )


def test_buyer_reports_a_problem_from_the_order_page(
    client, delivered, mailoutbox, django_capture_on_commit_callbacks
):
    listing, order, code = delivered
    page = client.get(order.get_absolute_url()).content.decode()
    link = reverse("sales:claim-report", args=[order.token, code.pk])
    assert "Report a problem" in page
    assert link in page
    form = client.get(link)
    assert form.status_code == 200
    assert form["Cache-Control"] == "no-store"
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = report(client, order, code)
    assert response.status_code == 302
    claim = Claim.objects.get()
    assert (claim.status, claim.code_id, claim.email) == ("open", code.pk, order.email)
    assert claim.respond_by > timezone.now() + timedelta(hours=71)
    [mail] = mailoutbox
    assert mail.to == [listing.seller.email]
    assert reverse("sales:claim-detail", args=[claim.pk]) in mail.body
    assert code.reveal() not in mail.body
    assert code.reveal() not in mail.subject
    page = client.get(order.get_absolute_url()).content.decode()
    assert "Problem reported:" in page
    assert link not in page


def test_a_report_without_a_reason_or_message_says_which_field(client, delivered):
    _listing, order, code = delivered
    response = report(client, order, code, reason="", message=" ")
    assert response.status_code == 200
    assert response.context["form"].errors.keys() == {"reason", "message"}
    assert not Claim.objects.exists()


def test_no_report_after_the_claim_window(client, delivered):
    listing, order, code = delivered
    Order.objects.filter(pk=order.pk).update(
        fulfilled_at=timezone.now() - timedelta(days=listing.claim_window_days + 1)
    )
    Code.objects.filter(pk=code.pk).update(
        sold_at=timezone.now() - timedelta(days=listing.claim_window_days + 1)
    )
    assert (
        "Report a problem" not in client.get(order.get_absolute_url()).content.decode()
    )
    response = report(client, order, code)
    assert response.status_code == 302
    assert not Claim.objects.exists()


def test_a_code_of_another_order_cannot_be_reported(client, delivered, buy):
    listing, order, _code = delivered
    other = buy(listing, email="other@example.com")
    other_code = Code.objects.get(order_id=other.pk)
    response = report(client, order, other_code)
    assert response.status_code == 404
    assert not Claim.objects.exists()


@pytest.fixture
def claim(client, delivered, django_capture_on_commit_callbacks):
    _listing, order, code = delivered
    with django_capture_on_commit_callbacks(execute=True):
        report(client, order, code)
    return Claim.objects.get()


def answer(client, claim, action, **data):
    return client.post(reverse("sales:claim-answer", args=[claim.pk, action]), data)


def test_seller_sees_the_evidence_and_only_their_claims(
    client, claim, user_factory, delivered
):
    listing, order, _code = delivered
    client.get(order.get_absolute_url())  # the buyer opened their order page
    client.force_login(listing.seller)
    listed = client.get(reverse("sales:claims") + "?status=open").content.decode()
    assert f"#{order.reference}" in listed
    page = client.get(reverse("sales:claim-detail", args=[claim.pk])).content.decode()
    assert "Store says invalid" in page
    assert "No redemption recorded" in page
    assert re.search(r"\d+ times?, (at|first)", page)  # order page views
    client.force_login(user_factory())
    assert client.get(reverse("sales:claim-detail", args=[claim.pk])).status_code == 404
    assert answer(client, claim, "replace").status_code == 404


def test_replace_sells_the_next_code_and_cancels_the_bad_one(
    client, claim, delivered, mailoutbox, django_capture_on_commit_callbacks
):
    listing, order, code = delivered
    client.force_login(listing.seller)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = answer(client, claim, "replace")
    assert response.status_code == 302
    claim.refresh_from_db()
    code.refresh_from_db()
    new = Code.objects.get(pk=claim.replacement_id)
    assert claim.status == "replaced"
    assert claim.decided_by == listing.seller
    assert (new.order_id, new.status) == (order.pk, "sold")
    assert code.status == "cancelled"
    assert code.cancel_reason.startswith("Replaced")
    assert code_verify(seller_id=listing.seller_id, value=code.reveal()).valid is False
    [mail] = [m for m in mailoutbox if m.to == [order.email]]
    assert new.reveal() in mail.body
    client.logout()
    page = client.get(order.get_absolute_url()).content.decode()
    assert new.reveal() in page
    assert code.reveal() not in page
    # the listing's last code went to the replacement: it is sold out now
    listing.refresh_from_db()
    assert listing.status == "sold_out"


def test_replace_without_stock_says_refund_instead(client, claim, delivered):
    listing, _order, code = delivered
    Code.objects.filter(listing=listing, status="available").update(status="withdrawn")
    client.force_login(listing.seller)
    response = client.post(
        reverse("sales:claim-answer", args=[claim.pk, "replace"]), follow=True
    )
    assert "refund it instead" in response.content.decode()
    claim.refresh_from_db()
    code.refresh_from_db()
    assert (claim.status, code.status) == ("open", "sold")


def test_refund_cancels_the_code_and_pays_it_back(
    client, claim, delivered, mailoutbox, django_capture_on_commit_callbacks
):
    listing, order, code = delivered
    client.force_login(listing.seller)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        answer(client, claim, "refund")
    claim.refresh_from_db()
    refund = Refund.objects.get()
    assert claim.status == "refunded"
    assert claim.refund == refund
    assert (refund.source, refund.code_ids, refund.amount) == (
        "claim",
        [code.pk],
        order.unit_price,
    )
    code.refresh_from_db()
    assert code.status == "cancelled"
    buyer_mail = next(m for m in mailoutbox if m.to == [order.email])
    assert "You reported a problem with a code" in buyer_mail.body
    seller_mail = next(m for m in mailoutbox if m.to == [listing.seller.email])
    assert reverse("sales:code-disabled", args=[code.pk]) in seller_mail.body
    # answering twice is refused, and never refunds twice
    assert answer(client, claim, "refund").status_code == 302
    assert Refund.objects.count() == 1


def test_reject_needs_a_message_then_the_buyer_may_escalate_once(
    client, claim, delivered, mailoutbox, django_capture_on_commit_callbacks
):
    listing, order, _code = delivered
    client.force_login(listing.seller)
    response = answer(client, claim, "reject", message="  ")
    assert response.status_code == 400
    assert "message" in response.context["reject_form"].errors
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        answer(client, claim, "reject", message="Enter it in the EU store, not US.")
    claim.refresh_from_db()
    assert claim.status == "rejected"
    [mail] = mailoutbox
    assert mail.to == [order.email]
    assert "EU store" in mail.body
    client.logout()
    page = client.get(order.get_absolute_url()).content.decode()
    assert "Ask Distribly to decide" in page
    escalate = reverse("sales:claim-escalate", args=[order.token, claim.pk])
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(escalate, {"escalation_message": "I did, it still fails."})
    claim.refresh_from_db()
    assert claim.status == "escalated"
    assert claim.escalated_at is not None
    assert [m.to for m in mailoutbox] == [[listing.seller.email]]
    client.post(escalate, {"escalation_message": "again"})
    claim.refresh_from_db()
    assert claim.escalation_message == "I did, it still fails."
    # the seller can no longer answer it: staff decide
    client.force_login(listing.seller)
    answer(client, claim, "refund")
    claim.refresh_from_db()
    assert claim.status == "escalated"
    assert not Refund.objects.exists()


def test_staff_decide_an_escalated_claim_in_the_admin(
    client,
    claim,
    delivered,
    user_factory,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    listing, order, _code = delivered
    Claim.objects.filter(pk=claim.pk).update(
        status="escalated", seller_message="Works for me", escalated_at=timezone.now()
    )
    changelist = reverse("admin:sales_claim_changelist")
    # a staff member without the permission gets no such action
    plain = user_factory(is_staff=True)
    client.force_login(plain)
    client.post(changelist, {"action": "replace", "_selected_action": [claim.pk]})
    claim.refresh_from_db()
    assert claim.status == "escalated"
    client.force_login(user_factory(is_staff=True, is_superuser=True))
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(changelist, {"action": "replace", "_selected_action": [claim.pk]})
    claim.refresh_from_db()
    assert claim.status == "replaced"
    assert claim.decided_by.is_superuser
    subjects = {m.to[0]: [] for m in mailoutbox}
    for m in mailoutbox:
        subjects[m.to[0]].append(m.subject)
    assert any("replacement code" in s for s in subjects[order.email])
    assert any("Distribly decided" in s for s in subjects[listing.seller.email])
    assert client.get(reverse("admin:sales_claim_sellers")).status_code == 200


def test_an_unanswered_claim_is_refunded_automatically(
    claim, delivered, mailoutbox, django_capture_on_commit_callbacks
):
    listing, order, code = delivered
    assert claims_unanswered_sweep() == []  # the seller still has time
    Claim.objects.filter(pk=claim.pk).update(
        respond_by=timezone.now() - timedelta(minutes=1)
    )
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert claims_unanswered_sweep() == [claim.pk]
    claim.refresh_from_db()
    assert claim.status == "refunded"
    assert claim.automatic
    assert Refund.objects.get().source == "unanswered"
    code.refresh_from_db()
    assert code.status == "cancelled"
    bodies = {m.to[0]: m.body for m in mailoutbox}
    assert "did not answer in time" in bodies[order.email]
    assert "no answer in time" in bodies[listing.seller.email]
    with django_capture_on_commit_callbacks(execute=True):
        assert claims_unanswered_sweep() == []


def test_an_answered_claim_is_not_refunded_at_the_deadline(
    client, claim, delivered, django_capture_on_commit_callbacks
):
    listing, _order, _code = delivered
    client.force_login(listing.seller)
    answer(client, claim, "reject", message="Works: see the instructions.")
    Claim.objects.filter(pk=claim.pk).update(
        respond_by=timezone.now() - timedelta(minutes=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert claims_unanswered_sweep() == []
    assert not Refund.objects.exists()


def test_claims_per_buyer_are_limited(
    client, settings, active_listing, buy, django_capture_on_commit_callbacks
):
    settings.CLAIMS_PER_BUYER = 1
    listing = active_listing(codes=3)
    order = buy(listing, quantity=2)
    first, second = Code.objects.filter(order_id=order.pk).order_by("pk")
    with django_capture_on_commit_callbacks(execute=True):
        report(client, order, first)
    response = client.post(
        reverse("sales:claim-report", args=[order.token, second.pk]),
        {"reason": "used", "message": "also broken"},
        follow=True,
    )
    assert "the most we take" in response.content.decode()
    assert Claim.objects.count() == 1


def test_a_buyer_with_claims_against_many_sellers_is_flagged(
    client,
    settings,
    active_listing,
    buy,
    user_factory,
    django_capture_on_commit_callbacks,
):
    settings.CLAIM_FLAG_SELLERS = 2
    claims = []
    for _ in range(2):
        listing = active_listing(codes=1)
        order = buy(listing, email="serial@example.com")
        with django_capture_on_commit_callbacks(execute=True):
            report(client, order, Code.objects.get(order_id=order.pk))
        claims.append(Claim.objects.latest("pk"))
    client.force_login(claims[0].seller)
    page = client.get(reverse("sales:claim-detail", args=[claims[0].pk]))
    assert "reported problems to 2 sellers" in page.content.decode()
    client.force_login(user_factory(is_staff=True, is_superuser=True))
    flagged = client.get(reverse("admin:sales_claim_changelist") + "?flagged=yes")
    assert flagged.context["cl"].result_count == 2


def test_cancelled_codes_are_confirmed_disabled_and_reminded(
    client, claim, delivered, settings, mailoutbox, django_capture_on_commit_callbacks
):

    listing, _order, code = delivered
    client.force_login(listing.seller)
    with django_capture_on_commit_callbacks(execute=True):
        answer(client, claim, "refund")
    code.refresh_from_db()
    assert codes_disable_remind() == {}  # not yet: the seller has a few days
    Code.objects.filter(pk=code.pk).update(
        status_changed_at=timezone.now()
        - timedelta(days=settings.DISABLE_REMINDER_DAYS, hours=1)
    )
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert codes_disable_remind() == {listing.seller_id: [code.pk]}
        assert codes_disable_remind() == {}  # once
    [mail] = mailoutbox
    assert code.reveal() in mail.body
    assert mail.to == [listing.seller.email]
    page = client.get(reverse("sales:code-disabled", args=[code.pk]))
    assert page.status_code == 200
    assert code.reveal() not in page.content.decode()
    client.post(reverse("sales:code-disabled", args=[code.pk]))
    code.refresh_from_db()
    assert code.seller_disabled_at is not None
    assert (
        "disabled on your system"
        in client.get(reverse("sales:sales-list")).content.decode()
    )


def test_reputation_shows_on_product_pages_after_enough_sales(
    client, settings, claim, delivered, buy, django_capture_on_commit_callbacks
):
    listing, _order, _code = delivered
    settings.REPUTATION_MIN_SALES = 2
    page = client.get(listing.get_absolute_url()).content.decode()
    assert "with a problem upheld" not in page  # one sale: too few to judge
    client.force_login(listing.seller)
    with django_capture_on_commit_callbacks(execute=True):
        answer(client, claim, "refund")
    client.logout()
    buy(listing, email="second@example.com")
    cache.clear()
    page = client.get(listing.get_absolute_url()).content.decode()
    assert "2 sales, 50.0% with a problem upheld" in page


def test_my_purchases_offers_report_a_problem_and_shows_the_claim(
    client, user_factory, active_listing, buy, django_capture_on_commit_callbacks
):
    buyer = user_factory("vaulted@example.com")
    client.force_login(buyer)
    listing = active_listing(codes=2)
    order = buy(listing, email=buyer.email)
    code = Code.objects.get(order_id=order.pk)
    link = reverse("sales:claim-report", args=[order.token, code.pk])
    assert link in client.get(reverse("sales:purchases")).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        report(client, order, code)
    page = client.get(reverse("sales:purchases")).content.decode()
    assert link not in page
    assert "Problem reported:" in page


def test_while_a_refund_is_asked_no_other_answer_is_taken(
    client, claim, delivered, django_capture_on_commit_callbacks
):
    listing, order, _code = delivered
    # claim_refund marks the claim `refunding`, then the refund is pending while the
    # provider is asked
    Claim.objects.filter(pk=claim.pk).update(status="refunding")
    pending = Refund.objects.create(
        order=order,
        payment=order.payments.get(),
        amount=order.unit_price,
        source="claim",
        code_ids=[claim.code_id],
    )
    client.force_login(listing.seller)
    answer(client, claim, "replace")
    answer(client, claim, "reject", message="It works.")
    Claim.objects.filter(pk=claim.pk).update(
        respond_by=timezone.now() - timedelta(minutes=1)
    )
    assert claims_unanswered_sweep() == []
    claim.refresh_from_db()
    assert claim.status == "refunding"
    assert claim.replacement_id is None
    # the provider refused it and the process died: the claim is answerable again
    Refund.objects.filter(pk=pending.pk).update(status="failed")
    with django_capture_on_commit_callbacks(execute=True):
        assert claims_unanswered_sweep() == [claim.pk]
    claim.refresh_from_db()
    assert claim.status == "refunded"


def test_a_code_refunded_from_sales_closes_its_claim_and_cannot_be_replaced(
    client, claim, delivered, django_capture_on_commit_callbacks
):
    listing, order, code = delivered
    client.force_login(listing.seller)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("sales:sales-refund", args=[order.reference]), {"code": code.pk}
        )
    claim.refresh_from_db()
    assert claim.status == "refunded"
    assert claim.refund == Refund.objects.get()
    response = answer(client, claim, "replace")
    assert response.status_code == 302
    assert Code.objects.filter(order_id=order.pk, status="sold").count() == 0


def test_a_reported_code_revoked_without_refund_is_still_refunded_at_the_deadline(
    client, claim, delivered, django_capture_on_commit_callbacks
):
    listing, order, code = delivered
    client.force_login(listing.seller)
    client.post(
        reverse("sales:code-cancel", args=[code.pk]),
        {"refund": "no", "reason": "Looks shared online"},
    )
    code.refresh_from_db()
    assert code.status == "cancelled"
    Claim.objects.filter(pk=claim.pk).update(
        respond_by=timezone.now() - timedelta(minutes=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        claims_unanswered_sweep()
    claim.refresh_from_db()
    refund = Refund.objects.get()
    assert claim.status == "refunded"
    assert refund.code_ids == [code.pk]
    assert refund.amount == order.unit_price


def test_staff_refund_or_reject_an_escalated_claim(
    client,
    claim,
    delivered,
    user_factory,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    _listing, order, _code = delivered
    Claim.objects.filter(pk=claim.pk).update(
        status="escalated", seller_message="Works", escalated_at=timezone.now()
    )
    client.force_login(user_factory(is_staff=True, is_superuser=True))
    changelist = reverse("admin:sales_claim_changelist")
    page = client.post(changelist, {"action": "reject", "_selected_action": [claim.pk]})
    assert "is emailed this reason" in page.content.decode()  # asks for the reason
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            changelist,
            {
                "action": "reject",
                "_selected_action": [claim.pk],
                "confirm": "yes",
                "reason": "The code was redeemed on your account on the 3rd.",
            },
        )
    claim.refresh_from_db()
    assert claim.status == "rejected"
    assert not claim.can_escalate  # staff decide once and for all
    buyer_mail = next(m for m in mailoutbox if m.to == [order.email])
    assert "This decision is final" in buyer_mail.body
    Claim.objects.filter(pk=claim.pk).update(status="escalated")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(changelist, {"action": "refund", "_selected_action": [claim.pk]})
    claim.refresh_from_db()
    assert claim.status == "refunded"
    assert Refund.objects.get().source == "claim"
