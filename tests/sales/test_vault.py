"""The buyer's vault: My purchases lists every code held, expiry reminders for
fixed-length listings, and Find my codes for guests."""

from __future__ import annotations

import base64
import re
import time
from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse
from django.utils import timezone

from codes.importing.text import mask
from codes.models import Code
from codes.services.validation import code_redeem_by_id
from distribly.tasks import enqueue
from sales.models import Order, OrderPageView
from sales.services import vault as vault_services
from sales.services.refunds import order_refund, sold_code_cancel
from sales.services.vault import (
    find_codes_email,
    find_codes_token,
    order_expiry_remind,
    orders_expiry_remind,
)

pytestmark = pytest.mark.django_db

ME = "me@example.com"


@pytest.fixture
def me(user_factory):
    return user_factory(ME)


def _codes(order):
    return list(Code.objects.filter(order_id=order.pk).order_by("id"))


def _values(*orders):
    return [code.reveal() for order in orders for code in _codes(order)]


def _vault(client, **params):
    response = client.get(reverse("sales:purchases"), params)
    assert response.status_code == 200
    return response, response.content.decode()


def _fulfilled_days_ago(order, days):
    Order.objects.filter(pk=order.pk).update(
        fulfilled_at=timezone.now() - timedelta(days=days)
    )
    order.refresh_from_db()
    return order


def _texts(message):
    """Everything a buyer's email carries: subject, body and any HTML part."""
    parts = [message.subject, message.body]
    parts += [content for content, _ in getattr(message, "alternatives", [])]
    return "\n".join(parts)


# --- My purchases -----------------------------------------------------------------


def test_vault_lists_each_code_with_copy_item_seller_order_and_instructions(
    client, me, active_listing, user_factory, buy
):
    listing = active_listing(
        codes=3,
        title="Arcade Pass",
        seller=user_factory(display_name="Nimbus Games"),
        instructions="Redeem at https://example.com/redeem",
    )
    order = buy(listing, quantity=2, email=ME)
    client.force_login(me)
    response, html = _vault(client)
    for value in _values(order):
        assert value in html
    assert html.count('data-copy-target="#vault-code-') == 2
    assert f'href="{listing.get_absolute_url()}"' in html
    assert "Nimbus Games" in html
    assert f'href="{order.get_absolute_url()}">#{order.reference}<' in html
    assert "<details>" in html
    assert 'href="https://example.com/redeem"' in html
    assert "Delivered" in html
    assert response["Cache-Control"] == "no-store"
    # One view recorded per order shown (dispute evidence), as the order page does.
    assert OrderPageView.objects.filter(order=order).count() == 1


def test_vault_needs_a_signed_in_buyer(client):
    response = client.get(reverse("sales:purchases"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_vault_shows_only_my_codes(client, me, active_listing, buy):
    listing = active_listing(codes=3)
    mine = buy(listing, email=ME)
    theirs = buy(listing, email="other@example.com")
    client.force_login(me)
    _, html = _vault(client)
    assert _values(mine)[0] in html
    assert _values(theirs)[0] not in html
    assert theirs.get_absolute_url() not in html
    assert not OrderPageView.objects.filter(order=theirs).exists()


def test_vault_lists_codes_newest_order_first(client, me, active_listing, buy):
    listing = active_listing(codes=3)
    older = buy(listing, email=ME)
    newer = buy(listing, email=ME)
    client.force_login(me)
    _, html = _vault(client)
    assert html.index(_values(newer)[0]) < html.index(_values(older)[0])


def test_vault_search_by_title_seller_and_reference_never_by_code(
    client, me, active_listing, user_factory, buy
):
    alpha = active_listing(
        codes=2, title="Alpha Pass", seller=user_factory(display_name="Nimbus Games")
    )
    beta = active_listing(codes=2, title="Beta Key")
    a, b = buy(alpha, email=ME), buy(beta, email=ME)
    client.force_login(me)

    def found(query):
        _, html = _vault(client, q=query)
        return {o.reference for o in (a, b) if o.get_absolute_url() in html}

    assert found("alpha") == {a.reference}
    assert found("NIMBUS") == {a.reference}
    assert found(f"#{b.reference.lower()}") == {b.reference}
    assert found(_values(b)[0]) == set()  # values are encrypted: not searchable
    assert found("") == {a.reference, b.reference}
    _, html = _vault(client, q="nothing like it")
    assert "Nothing found" in html


def test_vault_shows_redeemed_cancelled_and_refunded_codes(
    client, me, active_listing, buy, django_capture_on_commit_callbacks
):
    listing = active_listing(codes=4)
    order = buy(listing, quantity=3, email=ME)
    redeemed, revoked, refunded = _codes(order)
    values = _values(order)
    code_redeem_by_id(
        seller_id=listing.seller_id, code_id=redeemed.pk, account="player-1"
    )
    with django_capture_on_commit_callbacks(execute=True):
        sold_code_cancel(
            code=revoked, by=listing.seller, refund=False, reason="Leaked on a forum"
        )
        order_refund(order=order, code_ids=[refunded.pk], by=listing.seller)
    redeemed.refresh_from_db()
    client.force_login(me)
    _, html = _vault(client)
    assert "Redeemed" in html
    assert "by the seller's system" in html
    assert redeemed.redeemed_at.strftime("%Y-%m-%d %H:%M") in html
    assert "Cancelled by the seller" in html
    assert "Leaked on a forum" in html
    assert "Cancelled (refunded)" in html
    # Cancelled codes show masked, without a Copy button.
    assert values[0] in html
    for value in values[1:]:
        assert value not in html
        assert mask(value) in html
    assert html.count("data-copy-target=") == 1


def test_vault_shows_expiry_dates_of_fixed_length_listings(
    client, me, active_listing, buy
):
    monthly = active_listing(codes=3, title="Monthly Pass", validity_days=30)
    current = buy(monthly, email=ME)
    lapsed = _fulfilled_days_ago(buy(monthly, email=ME), 31)
    forever = buy(active_listing(codes=1, title="Lifetime Key"), email=ME)
    client.force_login(me)
    response, html = _vault(client)
    rows = {row.order.pk: row for row in response.context["rows"]}
    assert rows[current.pk].expires_at == current.fulfilled_at + timedelta(days=30)
    assert rows[current.pk].days_left == 30
    assert current.expires_at.strftime("%Y-%m-%d") in html
    assert "expires in 30 days" in html
    assert rows[lapsed.pk].expired
    assert lapsed.expires_at.strftime("%Y-%m-%d") in html
    assert "Expired" in html
    assert rows[forever.pk].expires_at is None


def test_vault_shows_held_orders_by_their_state_without_codes(
    client, me, active_listing, buy, settings
):
    settings.FRAUD_VELOCITY_MAX_ORDERS = 0  # every order is held for checking
    order = buy(active_listing(codes=2), email=ME)
    assert order.status == Order.Status.HELD
    client.force_login(me)
    response, html = _vault(client)
    assert response.context["waiting"] == [order]
    assert order.get_absolute_url() in html
    assert "Being checked" in html
    for value in _values(order):
        assert value not in html
    assert not OrderPageView.objects.exists()


def test_vault_queries_do_not_grow_with_the_codes_shown(
    client, me, active_listing, user_factory, buy, django_assert_max_num_queries
):
    for i in range(4):
        listing = active_listing(
            codes=3,
            seller=user_factory(display_name=f"Seller {i}"),
            validity_days=30 if i % 2 else None,
        )
        buy(listing, quantity=2, email=ME)
    refunded = Order.objects.filter(email=ME).first()
    order_refund(order=refunded, code_ids=[_codes(refunded)[0].pk])
    client.force_login(me)
    # 9: session, user, verified emails, count, the page's codes, their orders,
    # their refunds, one INSERT of page views, orders waiting for codes (+1 spare);
    # a query per order or code would pass 12
    with django_assert_max_num_queries(10):
        response, _ = _vault(client)
    assert len(response.context["rows"]) == 8
    assert OrderPageView.objects.count() == 4


def test_vault_links_to_find_my_codes(client, me):
    client.force_login(me)
    _, html = _vault(client)
    assert reverse("sales:find-codes") in html


# --- Expiry reminders ------------------------------------------------------------


def test_expiry_reminder_goes_out_once_seven_days_before(
    active_listing, buy, mailoutbox
):
    listing = active_listing(codes=4, title="Monthly Pass", validity_days=30)
    due = _fulfilled_days_ago(buy(listing, email="due@example.com"), 25)
    early = _fulfilled_days_ago(buy(listing, email="early@example.com"), 20)
    _fulfilled_days_ago(buy(listing, email="lapsed@example.com"), 31)
    mailoutbox.clear()

    assert orders_expiry_remind() == [due.pk]
    assert orders_expiry_remind() == []  # once
    [mail] = mailoutbox
    assert mail.to == ["due@example.com"]
    date = due.expires_at.strftime("%Y-%m-%d")
    assert "Monthly Pass" in mail.subject
    assert date in mail.subject
    assert date in mail.body
    assert f"{django_settings.SITE_URL}{listing.get_absolute_url()}" in mail.body
    assert f"{django_settings.SITE_URL}{due.get_absolute_url()}" in mail.body
    for value in _values(due):
        assert value not in _texts(mail)
    due.refresh_from_db()
    early.refresh_from_db()
    assert due.expiry_reminded_at is not None
    assert early.expiry_reminded_at is None


def test_expiry_reminder_waits_for_its_day(
    active_listing, buy, mailoutbox, monkeypatch
):
    order = buy(active_listing(codes=2, validity_days=30))
    mailoutbox.clear()
    start = timezone.now()

    def remind_at(days):
        monkeypatch.setattr(timezone, "now", lambda: start + timedelta(days=days))
        return orders_expiry_remind()

    assert remind_at(0) == []
    assert remind_at(22.9) == []  # 7.1 days left
    assert remind_at(23.1) == [order.pk]
    assert remind_at(29) == []
    assert remind_at(31) == []
    assert len(mailoutbox) == 1


def test_no_expiry_reminder_without_validity_short_validity_or_live_codes(
    active_listing, buy, mailoutbox, django_capture_on_commit_callbacks
):
    plain = active_listing(codes=2)
    _fulfilled_days_ago(buy(plain), 3650)
    week = active_listing(codes=2, validity_days=7)  # would arrive with the codes
    _fulfilled_days_ago(buy(week), 3)
    monthly = active_listing(codes=4, validity_days=30)
    refunded = _fulfilled_days_ago(buy(monthly), 25)
    revoked = _fulfilled_days_ago(buy(monthly), 25)
    with django_capture_on_commit_callbacks(execute=True):
        order_refund(order=refunded)
        sold_code_cancel(
            code=_codes(revoked)[0], by=monthly.seller, refund=False, reason="Abuse"
        )
    mailoutbox.clear()
    assert orders_expiry_remind() == []
    assert not mailoutbox


def test_expiry_reminder_claimed_by_another_run_is_not_sent_again(
    active_listing, buy, mailoutbox
):
    order = _fulfilled_days_ago(buy(active_listing(codes=2, validity_days=30)), 25)
    mailoutbox.clear()
    Order.objects.filter(pk=order.pk).update(expiry_reminded_at=timezone.now())
    assert order_expiry_remind(order_id=order.pk) is False
    assert orders_expiry_remind() == []
    assert not mailoutbox


def test_expiry_reminder_that_failed_to_send_goes_out_next_run(
    active_listing, buy, mailoutbox, monkeypatch
):
    order = _fulfilled_days_ago(buy(active_listing(codes=2, validity_days=30)), 25)
    mailoutbox.clear()
    with monkeypatch.context() as m:

        def refuse(self, fail_silently=False):
            raise ConnectionError("mail server down")

        m.setattr(EmailMultiAlternatives, "send", refuse)
        assert orders_expiry_remind() == []
    order.refresh_from_db()
    assert order.expiry_reminded_at is None
    assert orders_expiry_remind() == [order.pk]
    assert len(mailoutbox) == 1


def test_expiry_reminder_is_in_the_buyers_language(active_listing, buy, mailoutbox):
    order = _fulfilled_days_ago(buy(active_listing(codes=2, validity_days=30)), 25)
    Order.objects.filter(pk=order.pk).update(language="es")
    mailoutbox.clear()
    enqueue("sales.tasks.orders_expiry_remind")  # the beat task, eager here
    [mail] = mailoutbox
    assert f"Pedido n.º {order.reference}" in mail.body


# --- Find my codes ---------------------------------------------------------------


def _ask(client, email, capture, **extra):
    with capture(execute=True):
        return client.post(reverse("sales:find-codes"), {"email": email}, **extra)


def _link_path(mail):
    [url] = re.findall(r"https?://\S+/find-my-codes/\S+/", mail.body)
    assert url.startswith(django_settings.SITE_URL)
    return urlsplit(url).path


def test_find_codes_page_has_a_labelled_email_field(client):
    html = client.get(reverse("sales:find-codes")).content.decode()
    assert '<label for="id_email">Email address</label>' in html


def test_find_codes_answers_the_same_for_known_and_unknown_addresses(
    client, active_listing, buy, mailoutbox, django_capture_on_commit_callbacks
):
    buy(active_listing(codes=2), email="known@example.com")
    mailoutbox.clear()
    answers = []
    for email in ("Known@Example.com", "unknown@example.com"):
        response = _ask(client, email, django_capture_on_commit_callbacks)
        page = client.get(response["Location"])
        answers.append(
            (
                response.status_code,
                response["Location"],
                [str(m) for m in page.context["messages"]],
            )
        )
    assert answers[0] == answers[1]
    assert answers[0][0] == 302
    assert "If we have orders for that address" in answers[0][2][0]
    [mail] = mailoutbox
    assert mail.to == ["known@example.com"]


def test_find_codes_sends_nothing_for_unpaid_checkouts(
    client, active_listing, buy, mailoutbox, django_capture_on_commit_callbacks
):
    buy(active_listing(codes=2), email="unpaid@example.com", pay=False)
    mailoutbox.clear()
    assert _ask(client, "unpaid@example.com", django_capture_on_commit_callbacks)
    assert not mailoutbox


def test_find_codes_link_lists_the_addresss_orders_and_no_code(
    client, active_listing, buy, mailoutbox, django_capture_on_commit_callbacks
):
    listing = active_listing(codes=5, title="Arcade Pass")
    first = buy(listing, email="guest@example.com")
    second = buy(listing, quantity=2, email="guest@example.com")
    other = buy(listing, email="other@example.com")
    mailoutbox.clear()
    _ask(client, "guest@example.com", django_capture_on_commit_callbacks)
    [mail] = mailoutbox
    values = _values(first, second)
    for value in values:
        assert value not in _texts(mail)

    response = client.get(_link_path(mail))
    html = response.content.decode()
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert response["Referrer-Policy"] == "same-origin"
    for order in (first, second):
        assert f'href="{order.get_absolute_url()}">#{order.reference}<' in html
    assert "Arcade Pass" in html
    assert other.get_absolute_url() not in html
    for value in values:
        assert value not in html
    # The order page it leads to holds the codes.
    assert _values(first)[0] in client.get(first.get_absolute_url()).content.decode()


def test_find_codes_link_refuses_tampered_foreign_and_expired_tokens(
    client, monkeypatch
):
    def get(token):
        return client.get(reverse("sales:find-codes-orders", args=[token]))

    token = find_codes_token(email="guest@example.com")
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    unsalted = signing.dumps("guest@example.com")  # a signature made for another use
    for bad in (tampered, unsalted, "guest@example.com"):
        response = get(bad)
        assert response.status_code == 400
        assert "This link doesn't work" in response.content.decode()
        assert response["Referrer-Policy"] == "same-origin"
    with monkeypatch.context() as m:
        m.setattr(
            signing.TimestampSigner,
            "timestamp",
            lambda self: signing.b62_encode(int(time.time()) - 3601),
        )
        old = find_codes_token(email="guest@example.com")
    response = get(old)
    assert response.status_code == 410
    html = response.content.decode()
    assert "This link has expired" in html
    assert reverse("sales:find-codes") in html
    assert response["Cache-Control"] == "no-store"
    assert get(token).status_code == 200


def test_find_codes_is_rate_limited_per_network_and_per_address(
    client, settings, monkeypatch, mailoutbox, django_capture_on_commit_callbacks
):
    settings.FIND_CODES_PER_HOUR = 2
    # one fixed hour, whenever the test runs
    monkeypatch.setattr(vault_services, "time", SimpleNamespace(time=lambda: 7200.0))

    def ask(email, ip):
        return _ask(client, email, django_capture_on_commit_callbacks, REMOTE_ADDR=ip)

    assert ask("a@example.com", "10.0.0.1").status_code == 302
    assert ask("b@example.com", "10.0.0.1").status_code == 302
    limited = ask("c@example.com", "10.0.0.1")
    assert limited.status_code == 429
    assert "Too many requests" in limited.content.decode()
    # one address from many networks: limited too (no flooding someone's inbox)
    assert ask("victim@example.com", "10.0.1.1").status_code == 302
    assert ask("victim@example.com", "10.0.2.1").status_code == 302
    assert ask("victim@example.com", "10.0.3.1").status_code == 429
    # IPv6: a whole /64 counts as one network
    assert ask("d@example.com", "2001:db8::1").status_code == 302
    assert ask("e@example.com", "2001:db8::2").status_code == 302
    assert ask("f@example.com", "2001:db8::3").status_code == 429
    assert ask("g@example.com", "10.0.4.1").status_code == 302


def test_a_find_my_codes_link_does_not_carry_the_address():

    token = find_codes_token(email="guest@example.com")
    payload = token.split(":")[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert b"guest@example.com" not in decoded
    assert find_codes_email(token=token) == "guest@example.com"
