"""Notify me when it's back: the product page form, the confirm and leave links, and
what sellers see (how many wait, never who)."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from listings.models import Listing, WaitlistEntry
from listings.services import WAITLIST_SIGNUPS_PER_HOUR, listing_pause
from sales.models import Order

pytestmark = pytest.mark.django_db

NOTIFY = "Notify me when it's back"


@pytest.fixture
def sold_out(listing_factory):
    def make(**fields):
        return listing_factory(status=Listing.Status.SOLD_OUT, **fields)

    return make


def join_url(listing):
    return reverse("listings:waitlist-join", args=[listing.pk])


def post_join(client, listing, email, **extra):
    return client.post(join_url(listing), {"email": email}, follow=True, **extra)


def test_the_form_shows_only_when_the_item_cannot_be_bought(
    client, sold_out, active_listing
):
    on_sale = active_listing(codes=1)
    assert NOTIFY not in client.get(on_sale.get_absolute_url()).content.decode()
    html = client.get(sold_out().get_absolute_url()).content.decode()
    assert NOTIFY in html
    assert join_url_in(html)
    paused = listing_pause(listing=active_listing(codes=1))
    assert NOTIFY in client.get(paused.get_absolute_url()).content.decode()


def join_url_in(html):
    return 'action="/items/' in html and '/waitlist/"' in html


def test_a_guest_confirms_by_the_emailed_link_and_a_button(
    client, sold_out, mailoutbox, django_capture_on_commit_callbacks
):
    listing = sold_out(title="Game key")
    with django_capture_on_commit_callbacks(execute=True):
        response = post_join(client, listing, "guest@example.com")
    html = response.content.decode()
    assert response.redirect_chain == [(listing.get_absolute_url(), 302)]
    assert "we&#x27;ve emailed it a link" in html
    entry = WaitlistEntry.objects.get()
    assert entry.confirmed_at is None
    [mail] = mailoutbox
    confirm = reverse("listings:waitlist-confirm", args=[entry.token])
    assert confirm in mail.body

    page = client.get(confirm)  # what a mail scanner does: nothing changes
    assert "Yes, notify me" in page.content.decode()
    entry.refresh_from_db()
    assert entry.confirmed_at is None
    done = client.post(confirm, follow=True)
    assert done.redirect_chain == [(listing.get_absolute_url(), 302)]
    assert "You&#x27;re on the waitlist" in done.content.decode()
    entry.refresh_from_db()
    assert entry.confirmed_at is not None


def test_a_signed_in_user_finds_their_email_filled_in_and_joins_at_once(
    client, sold_out, user_factory, mailoutbox, django_capture_on_commit_callbacks
):
    user = user_factory("fan@example.com")
    client.force_login(user)
    listing = sold_out()
    assert (
        'value="fan@example.com"'
        in client.get(listing.get_absolute_url()).content.decode()
    )
    with django_capture_on_commit_callbacks(execute=True):
        first = post_join(client, listing, "fan@example.com")
        second = post_join(client, listing, "fan@example.com")
    assert "You&#x27;re on the waitlist: we&#x27;ll email fan@example.com" in (
        first.content.decode()
    )
    assert "You&#x27;re already on the waitlist" in second.content.decode()
    assert WaitlistEntry.objects.get().confirmed_at is not None
    assert mailoutbox == []


def test_the_answer_never_tells_whether_an_address_is_on_the_list(
    client, sold_out, user_factory
):
    listing = sold_out()
    WaitlistEntry.objects.create(
        listing=listing, email="member@example.com", confirmed_at=timezone.now()
    )
    client.force_login(user_factory("curious@example.com"))
    member = post_join(client, listing, "member@example.com").content.decode()
    stranger = post_join(client, listing, "stranger@example.com").content.decode()
    assert same_page(member.replace("member@", "X@")) == same_page(
        stranger.replace("stranger@", "X@")
    )
    assert "already on the waitlist" not in member
    owner = Client()
    owner.force_login(listing.seller)
    seller_html = owner.get(listing.get_absolute_url()).content.decode()
    assert "member@example.com" not in seller_html
    assert "1 person on the waitlist" in seller_html


def same_page(html):
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)


def test_a_bad_email_is_shown_by_the_field(client, sold_out):
    listing = sold_out()
    response = client.post(join_url(listing), {"email": "not-an-email"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="field has-error"' in html
    assert "Enter a valid email address." in html
    assert not WaitlistEntry.objects.exists()


def test_sign_ups_are_limited_per_network_with_a_clear_message(client, sold_out):
    listing = sold_out()
    for i in range(WAITLIST_SIGNUPS_PER_HOUR):
        post_join(client, listing, f"n{i}@example.com", REMOTE_ADDR="203.0.113.9")
    response = post_join(client, listing, "bomb@example.com", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 200
    assert "Too many waitlist sign-ups from your network" in response.content.decode()
    assert WaitlistEntry.objects.count() == WAITLIST_SIGNUPS_PER_HOUR


def test_a_listing_on_sale_or_hidden_answers_without_an_error(
    client, active_listing, listing_factory
):
    response = post_join(client, active_listing(codes=1), "late@example.com")
    assert "Good news: this item is on sale now." in response.content.decode()
    hidden = listing_factory(status=Listing.Status.PENDING_REVIEW)
    assert client.post(join_url(hidden), {"email": "x@example.com"}).status_code == 404
    assert client.get(join_url(hidden)).status_code == 405
    assert not WaitlistEntry.objects.exists()


def test_leaving_takes_one_click_and_works_from_mail_apps_without_a_cookie(
    client, sold_out
):
    listing = sold_out(title="Game key")
    entries = [
        WaitlistEntry.objects.create(listing=listing, email=f"l{i}@example.com")
        for i in range(2)
    ]
    leave = reverse("listings:waitlist-leave", args=[entries[0].token])
    page = client.get(leave)  # a mail scanner's GET leaves everyone in place
    assert "Leave the waitlist" in page.content.decode()
    assert WaitlistEntry.objects.count() == 2
    done = client.post(leave)
    assert "You've left the waitlist" in done.content.decode()
    assert "Game key" in done.content.decode()
    # RFC 8058: the mail app POSTs "List-Unsubscribe=One-Click", with no CSRF cookie.
    mail_app = Client(enforce_csrf_checks=True)
    one_click = mail_app.post(
        reverse("listings:waitlist-leave", args=[entries[1].token]),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert one_click.status_code == 200
    assert not WaitlistEntry.objects.exists()
    assert client.get(leave).status_code == 404  # gone: nothing to show
    assert (
        client.get(reverse("listings:waitlist-confirm", args=["nope"])).status_code
        == 404
    )


def test_items_im_selling_shows_the_waitlist_and_backorders_in_one_query(
    seller_client, seller, listing_factory, django_assert_max_num_queries
):
    now = timezone.now()

    def add_listing(waiting, backorders):
        listing = listing_factory(seller=seller, status=Listing.Status.SOLD_OUT)
        for i in range(waiting):
            WaitlistEntry.objects.create(
                listing=listing, email=f"w{i}@example.com", confirmed_at=now
            )
        # neither counts: not confirmed yet, told already
        WaitlistEntry.objects.create(listing=listing, email="unconfirmed@example.com")
        WaitlistEntry.objects.create(
            listing=listing, email="told@example.com", confirmed_at=now, notified_at=now
        )
        for status in ["backordered"] * backorders + ["fulfilled"]:
            Order.objects.create(
                listing=listing,
                seller=seller,
                email="buyer@example.com",
                quantity=1,
                unit_price=Decimal("9.99"),
                amount=Decimal("9.99"),
                currency="USD",
                status=status,
                reserved_until=now + timedelta(minutes=30),
            )
        return listing

    add_listing(waiting=3, backorders=2)
    with CaptureQueriesContext(connection) as one:
        seller_client.get(reverse("listings:listing-list"))
    with_one_listing = len(one)
    add_listing(waiting=0, backorders=0)
    add_listing(waiting=5, backorders=1)
    with django_assert_max_num_queries(with_one_listing):
        response = seller_client.get(reverse("listings:listing-list"))
    rows = response.context["page"].object_list
    assert [(r.waitlist, r.backorders) for r in rows] == [(5, 1), (0, 0), (3, 2)]
    html = response.content.decode()
    assert "Waitlist" in html
    assert "Backorders" in html
    assert "w0@example.com" not in html


def test_the_seller_sees_the_counts_on_their_product_page_instead_of_the_form(
    seller_client, seller, sold_out
):
    listing = sold_out(seller=seller)
    WaitlistEntry.objects.create(
        listing=listing, email="a@example.com", confirmed_at=timezone.now()
    )
    WaitlistEntry.objects.create(
        listing=listing, email="b@example.com", confirmed_at=timezone.now()
    )
    html = seller_client.get(listing.get_absolute_url()).content.decode()
    assert "2 people on the waitlist" in html
    assert "0 orders waiting for codes" in html
    assert NOTIFY not in html


def test_robots_keep_the_link_pages_out_of_search(client, db):
    assert "Disallow: /waitlist/" in client.get("/robots.txt").content.decode()
