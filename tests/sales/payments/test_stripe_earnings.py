"""Earnings in Stripe mode, through the real `stripe` library and the fake Stripe:
Connect onboarding, destination charges with the platform fee, refunds that reverse
the seller's share, payouts, disputes with staged evidence, the fraud hold, and
`reconcile_earnings`."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from codes.models import Code
from distribly.accounts.models import PayoutAccount
from sales.models import Dispute, LedgerEntry, Order, Payout, Refund
from tests.sales.payments.conftest import start_checkout

pytestmark = pytest.mark.django_db


@pytest.fixture
def connect(settings, stripe_fake):
    settings.SELLERS_NEED_PAYOUTS = True
    settings.PLATFORM_FEE_PERCENT = Decimal("10")
    settings.REFUND_PLATFORM_FEE = True
    return stripe_fake


@pytest.fixture
def onboarded(client, connect, post_event):
    """Onboard a listing's seller through Set up payouts and account.updated."""

    def run(listing):
        client.force_login(listing.seller)
        client.post(reverse("sales:payouts-setup"))
        account = PayoutAccount.objects.get(user=listing.seller)
        connect.complete_onboarding(account.account_id)
        post_event(
            "account.updated",
            connect.accounts[account.account_id],
            connect=account.account_id,
        )
        client.logout()
        account.refresh_from_db()
        return account

    return run


@pytest.fixture
def card_sale(client, connect, active_listing, onboarded, post_event):
    """An onboarded seller's listing at 19.00 and an order of `quantity` paid by card."""

    def make(quantity=1, **pay):
        listing = active_listing(codes=3, price="19.00")
        onboarded(listing)
        order, payment, _ = start_checkout(client, listing, quantity=quantity)
        post_event(
            "checkout.session.completed", connect.pay(payment.provider_ref, **pay)
        )
        order.refresh_from_db()
        return listing, order, payment

    return make


@pytest.fixture
def seller_refunds_first_code(client, django_capture_on_commit_callbacks):
    def run(order):
        code = Code.objects.filter(order_id=order.pk).order_by("id").first()
        client.force_login(order.listing.seller)
        with django_capture_on_commit_callbacks(execute=True):
            client.post(
                reverse("sales:sales-refund", args=[order.reference]), {"code": code.pk}
            )
        return code

    return run


def test_set_up_payouts_opens_one_express_account_and_a_fresh_link_per_click(
    client, connect, seller, post_event
):
    client.force_login(seller)
    first = client.post(reverse("sales:payouts-setup"))
    second = client.post(reverse("sales:payouts-setup"))
    [params] = connect.calls("POST", "/v1/accounts")
    assert params["type"] == "express"
    assert params["capabilities"]["transfers"]["requested"] == "true"
    assert first["Location"] != second["Location"]  # links expire: one per click
    account = PayoutAccount.objects.get(user=seller)
    links = connect.calls("POST", "/v1/account_links")
    assert [link["account"] for link in links] == [account.account_id] * 2
    assert links[0]["type"] == "account_onboarding"
    assert links[0]["return_url"].endswith(reverse("sales:payouts-return"))

    back = client.get(reverse("sales:payouts-return"), follow=True)
    html = back.content.decode()
    assert "not ready yet" in html
    assert "external_account" in html  # what Stripe still needs

    connect.complete_onboarding(account.account_id)
    # replayed Connect events, and a platform-signed one refused
    for _ in range(2):
        post_event(
            "account.updated",
            connect.accounts[account.account_id],
            connect=account.account_id,
            event_id="evt_acct_1",
        )
    account.refresh_from_db()
    assert account.can_receive
    assert "Payouts are set up" in client.get(reverse("sales:payouts")).content.decode()


def test_connect_events_need_the_connect_secret(client, connect, seller, post_event):
    client.force_login(seller)
    client.post(reverse("sales:payouts-setup"))
    account = PayoutAccount.objects.get(user=seller)
    connect.complete_onboarding(account.account_id)
    response = post_event(
        "account.updated",
        connect.accounts[account.account_id],
        connect=account.account_id,
        secret="whsec_test_secret",  # the platform endpoint's secret
    )
    assert response.status_code == 400
    account.refresh_from_db()
    assert not account.payouts_enabled


def test_a_sale_is_a_destination_charge_with_the_platform_fee(
    client, connect, active_listing, onboarded, post_event
):
    listing = active_listing(codes=3, price="19.00")
    account = onboarded(listing)
    order, payment, _ = start_checkout(client, listing, quantity=2)
    [params] = connect.calls("POST", "/v1/checkout/sessions")
    assert params["payment_intent_data"]["application_fee_amount"] == "380"
    assert params["payment_intent_data"]["transfer_data"] == {
        "destination": account.account_id
    }
    post_event("checkout.session.completed", connect.pay(payment.provider_ref))
    [sale] = LedgerEntry.objects.filter(order=order)
    assert (sale.gross, sale.platform_fee, sale.seller_net) == (
        Decimal("38.00"),
        Decimal("3.80"),
        Decimal("34.20"),
    )
    call_command("reconcile_earnings")  # no difference: no error


def test_a_refund_takes_the_sellers_share_back_and_reconciles(
    connect, card_sale, seller_refunds_first_code
):
    _listing, order, payment = card_sale(quantity=2)
    seller_refunds_first_code(order)
    [params] = connect.calls("POST", "/v1/refunds")
    assert (params["reverse_transfer"], params["refund_application_fee"]) == (
        "true",
        "true",
    )
    refund = LedgerEntry.objects.get(order=order, kind="refund")
    assert (refund.gross, refund.platform_fee, refund.seller_net) == (
        Decimal("-19.00"),
        Decimal("-1.90"),
        Decimal("-17.10"),
    )
    call_command("reconcile_earnings")

    # A refund Stripe made that we never heard of is reported.
    connect.dashboard_refund(connect.charge_for(payment.provider_ref)["id"], 1900)
    with pytest.raises(CommandError):
        call_command("reconcile_earnings")


def test_payouts_page_shows_stripe_balance_and_payouts_in_any_event_order(
    client, connect, active_listing, onboarded, post_event
):
    listing = active_listing(codes=3, price="19.00")
    account = onboarded(listing)
    _order, payment, _ = start_checkout(client, listing)
    post_event("checkout.session.completed", connect.pay(payment.provider_ref))
    connect.settle(account.account_id)
    payout = connect.payout(account.account_id, 1000, "usd", status="paid")
    # payout.paid, then a late account.updated: both harmless in any order
    post_event("payout.paid", payout, connect=account.account_id)
    post_event(
        "account.updated",
        connect.accounts[account.account_id],
        connect=account.account_id,
    )
    [row] = Payout.objects.all()
    assert (row.seller, row.amount, row.status) == (
        listing.seller,
        Decimal("10.00"),
        "paid",
    )
    failed = connect.payout(account.account_id, 500, "usd", status="failed")
    post_event("payout.failed", failed, connect=account.account_id)
    client.force_login(listing.seller)
    page = client.get(reverse("sales:payouts"))
    balance = page.context["balance"]
    # the connected account's own balance: 19.00 less the 1.90 fee, settled, less the
    # paid 10.00 payout (the failed one came back)
    assert (balance.available, balance.pending) == (
        {"USD": Decimal("7.10")},
        {"USD": Decimal("0.00")},
    )
    html = page.content.decode()
    assert "10.00 USD" in html
    assert "Failed" in html


def test_a_dispute_stages_evidence_and_losing_it_cancels_the_codes(
    client, connect, active_listing, onboarded, post_event, mailoutbox
):
    listing = active_listing(codes=3, price="19.00")
    onboarded(listing)
    order, payment, _ = start_checkout(client, listing)
    post_event("checkout.session.completed", connect.pay(payment.provider_ref))
    client.get(order.get_absolute_url(), REMOTE_ADDR="203.0.113.9")
    charge = connect.charge_for(payment.provider_ref)
    mailoutbox.clear()
    dispute = connect.open_dispute(charge["id"])
    for _ in range(2):  # replayed
        post_event("charge.dispute.created", dispute, event_id="evt_dispute_1")
    row = Dispute.objects.get()
    assert (row.order, row.status) == (order, "open")
    [code] = Code.objects.filter(order_id=order.pk)
    [seller_mail] = [m for m in mailoutbox if m.to == [listing.seller.email]]
    assert code.reveal() in seller_mail.body
    staged = connect.disputes[dispute["id"]]["evidence"]
    assert "203.0.113.9" in staged["access_activity_log"]
    assert "card@example.com" in staged["access_activity_log"]
    assert staged["customer_email_address"] == "card@example.com"
    assert (
        connect.disputes[dispute["id"]]["status"] == "needs_response"
    )  # not submitted

    post_event(
        "charge.dispute.closed", connect.close_dispute(dispute["id"], status="lost")
    )
    row.refresh_from_db()
    code.refresh_from_db()
    assert (row.status, code.status) == ("lost", "cancelled")
    loss = LedgerEntry.objects.get(order=order, kind="dispute")
    assert loss.seller_net == Decimal("-19.00")
    # the seller's share was taken back from their account: the books agree
    assert connect.calls("POST", "/v1/transfers/")
    call_command("reconcile_earnings")


def test_a_dispute_on_a_refunded_order_is_harmless(
    client,
    connect,
    active_listing,
    onboarded,
    post_event,
    django_capture_on_commit_callbacks,
):
    listing = active_listing(codes=3, price="19.00")
    onboarded(listing)
    order, payment, _ = start_checkout(client, listing)
    post_event("checkout.session.completed", connect.pay(payment.provider_ref))
    client.force_login(listing.seller)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("sales:sales-refund", args=[order.reference]))
    dispute = connect.open_dispute(connect.charge_for(payment.provider_ref)["id"])
    # closed arrives before created
    post_event(
        "charge.dispute.closed", connect.close_dispute(dispute["id"], status="won")
    )
    post_event("charge.dispute.created", dispute)
    assert Dispute.objects.get().status == "won"
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED


def test_a_risky_payment_is_held_and_an_early_fraud_warning_refunds_it(
    client, connect, active_listing, onboarded, post_event, mailoutbox
):
    listing = active_listing(codes=3, price="19.00")
    onboarded(listing)
    order, payment, _ = start_checkout(client, listing)
    mailoutbox.clear()
    post_event(
        "checkout.session.completed",
        connect.pay(payment.provider_ref, risk_level="elevated"),
    )
    order.refresh_from_db()
    assert order.status == Order.Status.HELD
    assert mailoutbox == []
    [code] = Code.objects.filter(order_id=order.pk)
    assert code.reveal() not in client.get(order.get_absolute_url()).content.decode()

    warning = connect.early_fraud_warning(
        connect.charge_for(payment.provider_ref)["id"]
    )
    post_event("radar.early_fraud_warning.created", warning)
    order.refresh_from_db()
    code.refresh_from_db()
    assert (order.status, code.status) == ("refunded", "cancelled")
    assert Refund.objects.get(order=order).source == "fraud"
    assert any(m.to == [listing.seller.email] for m in mailoutbox)


def test_a_lost_dispute_after_a_refund_takes_no_more_than_the_seller_kept(
    connect, card_sale, seller_refunds_first_code, post_event
):
    _listing, order, payment = card_sale(quantity=2)
    seller_refunds_first_code(order)
    dispute = connect.open_dispute(connect.charge_for(payment.provider_ref)["id"])
    post_event("charge.dispute.created", dispute)
    staged = connect.disputes[dispute["id"]]["evidence"]
    assert "refunded 19.00 USD" in staged["uncategorized_text"]
    post_event(
        "charge.dispute.closed", connect.close_dispute(dispute["id"], status="lost")
    )
    loss = LedgerEntry.objects.get(order=order, kind="dispute")
    # the bank took back 38.00; 19.00 had been refunded: the seller loses 19.00
    assert (loss.gross, loss.seller_net, loss.platform_fee) == (
        Decimal("-38.00"),
        Decimal("-19.00"),
        Decimal("-19.00"),
    )
    call_command("reconcile_earnings")
