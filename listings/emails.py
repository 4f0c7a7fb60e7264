"""Emails about listings."""

from __future__ import annotations

from django.core.mail import EmailMultiAlternatives

from distribly.emails import make_message

from .models import Listing, ListingRevision


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
