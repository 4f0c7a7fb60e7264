"""Emails about listings."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse

from distribly.emails import make_message

from .models import Listing, ListingRevision, WaitlistEntry


def listing_reviewed_message(listing: Listing) -> EmailMultiAlternatives:
    return make_message(
        "listing-reviewed",
        listing.seller.email,
        {"listing": listing, "approved": listing.status != Listing.Status.REJECTED},
        listing.seller.language,
    )


def listing_revision_reviewed_message(
    revision: ListingRevision,
) -> EmailMultiAlternatives:
    seller = revision.listing.seller
    return make_message(
        "listing-changes-reviewed",
        seller.email,
        {
            "revision": revision,
            "listing": revision.listing,
            "approved": revision.status == ListingRevision.Status.APPROVED,
        },
        seller.language,
    )


def _waitlist_message(name: str, entry: WaitlistEntry) -> EmailMultiAlternatives:
    """A waitlist email, in the language the visitor signed up in, with a leave link
    in the body and the RFC 8058 one-click headers: mail apps show their own
    Unsubscribe button, which POSTs to the same link (no page, no cookie)."""
    leave_url = settings.SITE_URL + reverse(
        "listings:waitlist-leave", args=[entry.token]
    )
    message = make_message(
        name,
        entry.email,
        {
            "listing": entry.listing,
            "confirm_url": settings.SITE_URL
            + reverse("listings:waitlist-confirm", args=[entry.token]),
            "leave_url": leave_url,
        },
        entry.language,
    )
    message.extra_headers["List-Unsubscribe"] = f"<{leave_url}>"
    message.extra_headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return message


def waitlist_confirm_message(entry: WaitlistEntry) -> EmailMultiAlternatives:
    return _waitlist_message("waitlist-confirm", entry)


def waitlist_notice_message(entry: WaitlistEntry) -> EmailMultiAlternatives:
    return _waitlist_message("waitlist-back", entry)
