"""The waitlist: sign-up and confirmation, then "back in stock" emails in FIFO order,
never more people at once than the stock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.mail.backends.locmem import EmailBackend
from django.utils import timezone, translation

from distribly import emails
from listings.exceptions import ListingError, WaitlistLimited
from listings.models import Listing, WaitlistEntry
from listings.services import (
    WAITLIST_CONFIRMATIONS_PER_DAY,
    WAITLIST_SIGNUPS_PER_HOUR,
    listing_pause,
    listing_resume,
    waitlist_confirm,
    waitlist_join,
    waitlist_leave,
    waitlist_notice_send,
    waitlist_notify,
    waitlists_sweep,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def sold_out(listing_factory):
    """An approved listing with no codes left."""

    def make(**fields):
        listing = listing_factory(status=Listing.Status.SOLD_OUT, **fields)
        listing.refresh_from_db()  # the price as a Decimal
        return listing

    return make


@pytest.fixture
def restock(upload, approve):
    """Add `n` approved codes, as a seller and staff do (listing_sync_stock runs)."""
    made = iter(range(10**6))

    def run(listing, n):
        values = "\n".join(f"RESTOCK-{next(made):06}-{listing.pk}-XQ" for _ in range(n))
        approve(batch=upload(listing, values))
        listing.refresh_from_db()
        return listing

    return run


def join(listing, email, *, user=None, network="", language="en"):
    return waitlist_join(
        listing_id=listing.pk,
        email=email,
        user=user,
        language=language,
        network=network,
    )


def line_up(listing, n):
    """`n` confirmed entries, first to last."""
    now = timezone.now()
    return [
        WaitlistEntry.objects.create(
            listing=listing, email=f"fan{i}@example.com", confirmed_at=now
        )
        for i in range(n)
    ]


def told(mailoutbox):
    return [m.to[0] for m in mailoutbox if "is back in stock" in m.subject]


def test_a_guest_gets_a_confirmation_link_and_waits_unconfirmed(
    sold_out, mailoutbox, django_capture_on_commit_callbacks, settings
):
    listing = sold_out(title="Game key")
    with django_capture_on_commit_callbacks(execute=True):
        joined = join(listing, " Guest@Example.com ")
    entry = joined.entry
    assert (entry.email, joined.created, joined.confirmed) == (
        "guest@example.com",
        True,
        False,
    )
    [mail] = mailoutbox
    assert mail.to == ["guest@example.com"]
    assert mail.subject == 'Confirm: email me when "Game key" is back'
    assert f"{settings.SITE_URL}/waitlist/{entry.token}/confirm/" in mail.body
    leave = f"{settings.SITE_URL}/waitlist/{entry.token}/leave/"
    assert leave in mail.body
    assert mail.extra_headers["List-Unsubscribe"] == f"<{leave}>"
    assert mail.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    waitlist_confirm(entry=entry)
    assert entry.confirmed_at is not None


def test_a_signed_in_user_with_a_verified_address_is_in_line_at_once(
    sold_out, user_factory, mailoutbox, django_capture_on_commit_callbacks
):
    user = user_factory("fan@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        joined = join(sold_out(), "FAN@example.com", user=user)
    assert joined.confirmed
    assert joined.own_address
    assert joined.entry.user == user
    assert mailoutbox == []


def test_an_unverified_or_other_address_of_a_signed_in_user_must_be_confirmed(
    sold_out, user_factory, mailoutbox, django_capture_on_commit_callbacks
):
    listing = sold_out()
    unverified = user_factory("new@example.com", verified=False)
    verified = user_factory("me@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        first = join(listing, "new@example.com", user=unverified)
        second = join(listing, "someone-else@example.com", user=verified)
    assert not first.confirmed
    assert not second.confirmed
    assert sorted(m.to[0] for m in mailoutbox) == [
        "new@example.com",
        "someone-else@example.com",
    ]


def test_signing_up_twice_is_a_no_op(
    sold_out, user_factory, django_capture_on_commit_callbacks
):
    listing = sold_out()
    user = user_factory("twice@example.com")
    first = join(listing, "twice@example.com", user=user)
    second = join(listing, "Twice@Example.com", user=user)
    assert (first.created, second.created, second.confirmed) == (True, False, True)
    assert WaitlistEntry.objects.get() == first.entry
    assert second.entry.created_at == first.entry.created_at  # keeps its place


def test_a_guest_signing_up_again_gets_the_link_again_within_a_daily_cap(
    sold_out, mailoutbox, django_capture_on_commit_callbacks
):
    listings = [sold_out() for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        for listing in [*listings, listings[0]]:
            join(listing, "victim@example.com")
    assert WaitlistEntry.objects.count() == 3
    assert len(mailoutbox) == WAITLIST_CONFIRMATIONS_PER_DAY == 3


def test_sign_ups_are_rate_limited_per_network(sold_out):
    listing = sold_out()
    for i in range(WAITLIST_SIGNUPS_PER_HOUR):
        join(listing, f"a{i}@example.com", network="203.0.113.7")
    with pytest.raises(WaitlistLimited, match="Too many waitlist sign-ups"):
        join(listing, "one-more@example.com", network="203.0.113.7")
    join(listing, "elsewhere@example.com", network="198.51.100.1")
    assert WaitlistEntry.objects.count() == WAITLIST_SIGNUPS_PER_HOUR + 1


def test_a_listing_on_sale_or_not_public_takes_no_sign_ups(
    active_listing, listing_factory
):
    with pytest.raises(ListingError, match="on sale now"):
        join(active_listing(codes=1), "late@example.com")
    with pytest.raises(ListingError, match="not available"):
        join(listing_factory(status=Listing.Status.PENDING_REVIEW), "x@example.com")
    assert not WaitlistEntry.objects.exists()


def test_restock_emails_the_first_in_line_never_more_than_the_new_stock(
    sold_out, restock, mailoutbox, settings
):
    listing = sold_out(title="Game key", price="12.50")
    entries = line_up(listing, 5)
    restock(listing, 2)  # sold out → active: the line runs after commit
    assert listing.status == Listing.Status.ACTIVE
    assert told(mailoutbox) == ["fan0@example.com", "fan1@example.com"]
    mail = mailoutbox[-1]
    assert mail.subject == '"Game key" is back in stock'
    assert "12.50 USD" in mail.body
    assert f"{settings.SITE_URL}/items/{listing.pk}/" in mail.body
    assert "first come, first served" in mail.body
    leave = f"{settings.SITE_URL}/waitlist/{entries[1].token}/leave/"
    assert leave in mail.body
    assert mail.extra_headers["List-Unsubscribe"] == f"<{leave}>"
    picked = WaitlistEntry.objects.filter(notified_at__isnull=False)
    assert set(picked) == set(entries[:2])
    assert all(e.notice_sent_at for e in picked)


def test_the_next_in_line_are_emailed_once_the_window_passes_with_stock_left(
    sold_out, restock, mailoutbox, django_capture_on_commit_callbacks, settings
):
    listing = sold_out()
    line_up(listing, 5)
    restock(listing, 2)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert waitlist_notify(listing_id=listing.pk) == 0  # the first two's window
        assert waitlists_sweep() == [listing.pk]
    assert mailoutbox == []

    hours = settings.WAITLIST_WINDOW_HOURS
    WaitlistEntry.objects.filter(notified_at__isnull=False).update(
        notified_at=timezone.now() - timedelta(hours=hours, minutes=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        waitlists_sweep()
    assert told(mailoutbox) == ["fan2@example.com", "fan3@example.com"]


def test_a_stock_rise_while_on_sale_reaches_the_next_in_line(
    sold_out, restock, mailoutbox, django_capture_on_commit_callbacks
):
    listing = sold_out()
    line_up(listing, 5)
    restock(listing, 1)
    assert told(mailoutbox) == ["fan0@example.com"]
    restock(listing, 2)  # still active, no transition: at the latest, the sweep
    with django_capture_on_commit_callbacks(execute=True):
        waitlists_sweep()
    assert told(mailoutbox) == [f"fan{i}@example.com" for i in range(3)]


def test_unconfirmed_entries_are_skipped(
    sold_out, restock, mailoutbox, django_capture_on_commit_callbacks
):
    listing = sold_out()
    with django_capture_on_commit_callbacks(execute=True):
        join(listing, "unconfirmed@example.com")
    line_up(listing, 1)
    mailoutbox.clear()
    restock(listing, 1)
    assert told(mailoutbox) == ["fan0@example.com"]
    assert (
        WaitlistEntry.objects.get(email="unconfirmed@example.com").notified_at is None
    )


def test_people_who_left_are_never_emailed(
    sold_out, restock, mailoutbox, django_capture_on_commit_callbacks
):
    listing = sold_out()
    first, second, third = line_up(listing, 3)
    waitlist_leave(entry=first)
    restock(listing, 1)
    assert told(mailoutbox) == ["fan1@example.com"]
    # Picked, then left before its email went out: the email is not sent.
    WaitlistEntry.objects.filter(pk=second.pk).update(
        notified_at=timezone.now() - timedelta(days=2)
    )
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=False):
        assert waitlist_notify(listing_id=listing.pk) == 1
    waitlist_leave(entry=third)
    assert waitlist_notice_send(entry_id=third.pk) is False
    assert mailoutbox == []


def test_two_runs_never_email_one_person_twice(sold_out, restock, mailoutbox):
    listing = sold_out()
    [entry] = line_up(listing, 1)
    restock(listing, 3)
    assert waitlist_notify(listing_id=listing.pk) == 0
    assert waitlist_notice_send(entry_id=entry.pk) is False  # claimed already
    assert told(mailoutbox) == ["fan0@example.com"]


def test_resuming_a_paused_listing_runs_the_line(
    active_listing, mailoutbox, django_capture_on_commit_callbacks
):
    listing = listing_pause(listing=active_listing(codes=2))
    line_up(listing, 3)
    with django_capture_on_commit_callbacks(execute=True):
        listing_resume(listing=listing)
    assert told(mailoutbox) == ["fan0@example.com", "fan1@example.com"]


def test_a_notice_failing_transiently_is_sent_by_the_sweep(
    sold_out, restock, mailoutbox, monkeypatch, django_capture_on_commit_callbacks
):
    listing = restock(sold_out(), 1)
    [entry] = line_up(listing, 1)
    real = EmailBackend.send_messages

    def down(self, messages):
        raise ConnectionError("smtp down")

    monkeypatch.setattr(EmailBackend, "send_messages", down)
    with django_capture_on_commit_callbacks(execute=False):
        assert waitlist_notify(listing_id=listing.pk) == 1
    # The task's retries are Celery's; here the service is called as a try would.
    with pytest.raises(ConnectionError):
        waitlist_notice_send(entry_id=entry.pk)
    entry.refresh_from_db()
    assert entry.notified_at is not None
    assert entry.notice_sent_at is None
    monkeypatch.setattr(EmailBackend, "send_messages", real)
    WaitlistEntry.objects.filter(pk=entry.pk).update(
        notified_at=timezone.now() - timedelta(minutes=10)
    )
    with django_capture_on_commit_callbacks(execute=True):
        waitlists_sweep()
    assert told(mailoutbox) == ["fan0@example.com"]


def test_a_listing_sold_out_again_before_the_email_puts_the_entry_back_in_line(
    sold_out, restock, django_capture_on_commit_callbacks, mailoutbox
):
    listing = restock(sold_out(), 1)
    [entry] = line_up(listing, 1)
    with django_capture_on_commit_callbacks(execute=False):
        assert waitlist_notify(listing_id=listing.pk) == 1
    Listing.objects.filter(pk=listing.pk).update(status=Listing.Status.SOLD_OUT)
    assert waitlist_notice_send(entry_id=entry.pk) is False
    entry.refresh_from_db()
    assert entry.notified_at is None
    assert entry.notice_sent_at is None
    assert told(mailoutbox) == []


def test_the_emails_are_in_the_language_of_the_sign_up(
    sold_out, restock, monkeypatch, django_capture_on_commit_callbacks
):
    seen = []
    real = emails._render
    monkeypatch.setattr(
        emails,
        "_render",
        lambda name, *a: (
            seen.append((name, translation.get_language())) or real(name, *a)
        ),
    )
    listing = sold_out()
    with django_capture_on_commit_callbacks(execute=True):
        entry = join(listing, "es@example.com", language="es").entry
    waitlist_confirm(entry=entry)
    restock(listing, 1)
    assert [s for s in seen if s[0].startswith("waitlist")] == [
        ("waitlist-confirm", "es"),
        ("waitlist-back", "es"),
    ]


def test_signing_up_again_after_an_email_goes_to_the_end_of_the_line(
    sold_out, restock, user_factory, django_capture_on_commit_callbacks
):
    listing = sold_out()
    user = user_factory("again@example.com")
    first = join(listing, "again@example.com", user=user).entry
    line_up(listing, 1)
    restock(listing, 1)
    first.refresh_from_db()
    assert first.notified_at is not None
    Listing.objects.filter(pk=listing.pk).update(status=Listing.Status.SOLD_OUT)
    again = join(listing, "again@example.com", user=user)
    assert again.created
    assert again.confirmed
    assert again.entry.notified_at is None
    line = WaitlistEntry.objects.filter(notified_at__isnull=True).order_by(
        "created_at", "id"
    )
    assert [e.email for e in line] == ["fan0@example.com", "again@example.com"]


def test_the_sweep_drops_entries_never_confirmed_within_a_week(sold_out):
    listing = sold_out()
    old = join(listing, "old@example.com").entry
    join(listing, "new@example.com")
    WaitlistEntry.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(days=8)
    )
    waitlists_sweep()
    assert [e.email for e in WaitlistEntry.objects.all()] == ["new@example.com"]
