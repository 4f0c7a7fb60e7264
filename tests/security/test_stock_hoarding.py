"""Unpaid reservations are capped per buyer, and checkout starts per address
(issue 11, "Stock hoarding").

Before: anonymous checkouts held up to a listing's per-order maximum (100) each,
for 31 minutes, with no limit: two requests emptied a listing."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from codes.models import Code
from sales.models import Order

pytestmark = pytest.mark.django_db


@pytest.fixture
def big_listing(active_listing, settings):
    settings.CHECKOUT_MAX_OPEN_CODES = 20
    return active_listing(codes=200, max_per_order=100)


def _checkout(client, listing, quantity, email, address="203.0.113.9"):
    response = client.post(
        f"/items/{listing.pk}/buy/",
        {"quantity": quantity, "email": email},
        REMOTE_ADDR=address,
    )
    return response, [str(m) for m in get_messages(response.wsgi_request)]


def _reserved(listing) -> int:
    return Code.objects.filter(listing=listing, status="reserved").count()


def test_two_checkouts_cannot_empty_a_listing(big_listing):
    client = Client()
    _response, said = _checkout(client, big_listing, 100, "a@example.com")
    assert _reserved(big_listing) == 0
    assert any("at most 20 can wait at once" in m for m in said)

    _checkout(client, big_listing, 20, "a@example.com")
    assert _reserved(big_listing) == 20
    # Another browser on the same network, another email: counted together.
    _response, said = _checkout(Client(), big_listing, 5, "b@example.com")
    assert _reserved(big_listing) == 20
    assert any("waiting for payment" in m for m in said)


def test_starting_again_releases_the_earlier_unpaid_checkout(big_listing):
    """A buyer back from the payment page (they cancelled there) can buy again at once,
    even when the listing allows one per order; the first reservation goes back."""
    client = Client()
    _checkout(client, big_listing, 20, "a@example.com")
    _checkout(client, big_listing, 3, "a@example.com")
    assert _reserved(big_listing) == 3
    statuses = sorted(Order.objects.values_list("status", flat=True))
    assert statuses == ["failed", "pending"]


def test_the_cap_follows_the_email_across_networks_and_browsers(
    big_listing, active_listing
):
    other = active_listing(codes=50, max_per_order=50)
    _checkout(Client(), big_listing, 20, "same@example.com", address="198.51.100.1")
    _response, said = _checkout(Client(), other, 1, "same@example.com", "198.51.100.2")
    assert _reserved(big_listing) == 20
    assert _reserved(other) == 0
    assert said


def test_an_ipv6_network_counts_as_one_address(big_listing):
    _checkout(Client(), big_listing, 20, "v6a@example.com", address="2001:db8:1:2::1")
    _checkout(Client(), big_listing, 5, "v6b@example.com", address="2001:db8:1:2::ffff")
    assert _reserved(big_listing) == 20


def test_other_buyers_are_not_affected(big_listing):
    _checkout(Client(), big_listing, 20, "one@example.com", address="198.51.100.1")
    _checkout(Client(), big_listing, 20, "two@example.com", address="198.51.100.2")
    assert _reserved(big_listing) == 40


def test_paying_frees_the_buyer_to_check_out_again(big_listing):
    client = Client()
    response, _said = _checkout(client, big_listing, 20, "payer@example.com")
    pay_page = response["Location"]
    client.post(pay_page, {"decision": "pay"})
    assert Order.objects.get(email="payer@example.com").status == Order.Status.FULFILLED
    _checkout(client, big_listing, 20, "payer@example.com")
    assert _reserved(big_listing) == 20


def test_checkout_starts_are_rate_limited_per_address(active_listing, settings):
    settings.CHECKOUT_STARTS_PER_MINUTE = 3
    listing = active_listing(codes=20, max_per_order=1)
    for n in range(3):
        _checkout(Client(), listing, 1, f"r{n}@example.com")
    _response, said = _checkout(Client(), listing, 1, "r9@example.com")
    assert _reserved(listing) == 3
    assert any("Too many checkouts from your network" in m for m in said)
