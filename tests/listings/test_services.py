"""Writes of the listings app: review emails and the stored exchange rates."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from listings.models import ExchangeRate
from listings.services import exchange_rates_refresh
from tests.helpers import ECB_SAMPLE

pytestmark = pytest.mark.django_db


def test_review_emails_reach_the_seller(
    seller, listing_factory, upload, approve, mailoutbox
):
    listing = listing_factory(seller=seller)
    approve(listing=listing, batch=upload(listing, "EMAIL-CODE-12345\n"))
    subjects = sorted(m.subject for m in mailoutbox)
    assert subjects == [
        f'Your codes for "{listing.title}" are approved',
        f'Your listing "{listing.title}" is approved',
    ]
    assert all(m.to == [seller.email] for m in mailoutbox)
    assert "EMAIL-CODE" not in "".join(m.body for m in mail.outbox)


def test_refresh_stores_the_rates_and_staff_can_edit_them(client, user_factory):
    assert exchange_rates_refresh(xml=ECB_SAMPLE) == 7
    assert ExchangeRate.objects.get(currency="GBP").rate == Decimal("0.831250")
    assert exchange_rates_refresh(xml=ECB_SAMPLE) == 7  # idempotent
    assert ExchangeRate.objects.count() == 7
    client.force_login(user_factory(is_staff=True, is_superuser=True))
    assert (
        client.get(reverse("admin:listings_exchangerate_changelist")).status_code == 200
    )
