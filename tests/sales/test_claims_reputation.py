"""Reputation: the share of a seller's delivered sales with an upheld claim (replaced
or refunded), shown after REPUTATION_MIN_SALES sales; staff list the sellers at or
above REPUTATION_ALERT_PERCENT, worst first."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

from codes.models import Code
from sales.models import Claim

pytestmark = pytest.mark.django_db

SELLERS_PAGE = "admin:sales_claim_sellers"


def _sellers_page(client, user_factory):
    """The staff list, seen by a superuser (signed in after the sales were made)."""
    client.force_login(user_factory(is_staff=True, is_superuser=True))
    response = client.get(reverse(SELLERS_PAGE))
    assert response.status_code == 200
    return response


@pytest.fixture(autouse=True)
def _many_checkouts(settings):
    settings.CHECKOUT_STARTS_PER_MINUTE = 1000  # one test client buys it all


@pytest.fixture
def seller_with(
    client, user_factory, active_listing, buy, django_capture_on_commit_callbacks
):
    """A seller with `sales` delivered orders, some of them reported and answered
    (`answers`: "replace", "refund" or "reject", one order each)."""

    def make(email, *, sales, answers=()):
        seller = user_factory(email)
        listing = active_listing(codes=sales + len(answers), seller=seller)
        orders = [buy(listing, email=f"buyer{n}.{email}") for n in range(sales)]
        assert all(order.status == "fulfilled" for order in orders)
        for order, action in zip(orders, answers, strict=False):
            code = Code.objects.get(order_id=order.pk)
            client.logout()
            with django_capture_on_commit_callbacks(execute=True):
                client.post(
                    reverse("sales:claim-report", args=[order.token, code.pk]),
                    {"reason": "not_accepted", "message": "Store says invalid"},
                )
            claim = Claim.objects.get(code=code)
            client.force_login(seller)
            with django_capture_on_commit_callbacks(execute=True):
                client.post(
                    reverse("sales:claim-answer", args=[claim.pk, action]),
                    {"message": "It works: see the instructions."},
                )
            claim.refresh_from_db()
            assert claim.status == {"replace": "replaced", "refund": "refunded"}.get(
                action, "rejected"
            )
        client.logout()
        return seller

    return make


@pytest.fixture
def sellers(settings, seller_with):
    """Four sellers around a 4-sale minimum and a 25% threshold, created so that
    neither their ids nor their emails give the expected order."""
    settings.REPUTATION_MIN_SALES = 4
    settings.REPUTATION_ALERT_PERCENT = 25
    return {
        # exactly at the threshold and the minimum: listed
        "at": seller_with("a-at@example.com", sales=4, answers=["refund"]),
        # 1 of 5 upheld (20%): a rejected report does not count against them
        "below": seller_with(
            "b-below@example.com", sales=5, answers=["replace", "reject"]
        ),
        # every sale upheld, but too few sales to judge
        "few": seller_with(
            "c-few@example.com", sales=3, answers=["refund", "replace", "refund"]
        ),
        # 2 of 4 upheld (50%): the worst, listed first
        "worst": seller_with(
            "d-worst@example.com", sales=4, answers=["replace", "refund"]
        ),
    }


def test_staff_see_the_sellers_above_the_threshold_worst_first(
    client, user_factory, sellers
):
    response = _sellers_page(client, user_factory)
    rows = [
        (r["seller__email"], r["sales"], r["upheld"], str(r["percent"]))
        for r in response.context["rows"]
    ]
    assert rows == [
        ("d-worst@example.com", 4, 2, "50.0"),
        ("a-at@example.com", 4, 1, "25.0"),
    ]
    html = response.content.decode()
    worst, at = html.index("d-worst@example.com"), html.index("a-at@example.com")
    assert worst < at
    assert "50.0%" in html
    assert "25.0%" in html
    assert "b-below@example.com" not in html
    assert "c-few@example.com" not in html
    assert f"?seller__id__exact={sellers['worst'].pk}" in html
    assert "at least 4 delivered sales, where 25% or more" in html


def test_a_lower_minimum_of_sales_lists_the_seller_with_fewer_sales(
    client, user_factory, sellers, settings
):
    settings.REPUTATION_MIN_SALES = 3
    emails = [
        r["seller__email"] for r in _sellers_page(client, user_factory).context["rows"]
    ]
    assert emails == ["c-few@example.com", "d-worst@example.com", "a-at@example.com"]


def test_with_no_seller_above_the_threshold_the_page_says_so(
    client, user_factory, seller_with, settings
):
    settings.REPUTATION_MIN_SALES = 2
    settings.REPUTATION_ALERT_PERCENT = 60
    seller_with("half@example.com", sales=2, answers=["refund"])  # 50%
    response = _sellers_page(client, user_factory)
    assert response.context["rows"] == []
    assert "No seller is above the threshold." in response.content.decode()


def test_the_sellers_list_is_for_staff_with_the_claim_view_permission(
    client, user_factory
):
    url = reverse(SELLERS_PAGE)
    client.force_login(user_factory())
    assert client.get(url).status_code == 302  # to the admin's login
    client.force_login(user_factory(is_staff=True))
    assert client.get(url).status_code == 403


def test_reputation_appears_at_the_default_minimum_of_twenty_sales(
    client, settings, active_listing, buy
):
    assert settings.REPUTATION_MIN_SALES == 20  # the default, not a test value
    listing = active_listing(codes=21)  # one left: the page still offers it
    for n in range(19):
        assert buy(listing, email=f"buyer{n}@example.com").status == "fulfilled"
    page = client.get(listing.get_absolute_url()).content.decode()
    assert "with a problem upheld" not in page
    storefront = reverse("listings:storefront", args=[listing.seller_id])
    assert "% of 19 sales" not in client.get(storefront).content.decode()
    assert buy(listing, email="twentieth@example.com").status == "fulfilled"
    cache.clear()  # the reputation is cached for a few minutes
    page = client.get(listing.get_absolute_url()).content.decode()
    assert "20 sales, 0.0% with a problem upheld" in page
    assert "0.0% of 20 sales" in client.get(storefront).content.decode()
