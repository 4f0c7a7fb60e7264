"""Search (issue 14): what is found, filters, sorting, pages, and bad input.

The PostgreSQL-only tests cover full-text ranking, typos (pg_trgm), accents
(unaccent) and that the GIN expression index of migration 0009 is usable."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse

from listings.models import Listing
from listings.search import SearchFilters, Sort, search_listings

ACTIVE = Listing.Status.ACTIVE
SOLD_OUT = Listing.Status.SOLD_OUT


def titles(filters: SearchFilters, **kwargs) -> list[str]:
    return [listing.title for listing in search_listings(filters=filters, **kwargs)]


def card_titles(response) -> list[str]:
    html = response.content.decode()
    return re.findall(r'class="card-title"><a href="[^"]+">([^<]+)</a>', html)


@pytest.mark.django_db
def test_search_matches_title_description_and_seller_name(
    listing_factory, user_factory
):
    studio = user_factory(display_name="Pixel Forge")
    listing_factory(status=SOLD_OUT, title="Starfall licence", description="A game.")
    listing_factory(status=SOLD_OUT, title="Gift card", description="For Starfall.")
    listing_factory(status=SOLD_OUT, title="Soundtrack", seller=studio)
    listing_factory(status=SOLD_OUT, title="Unrelated", description="Nothing here.")

    assert sorted(titles(SearchFilters(query="starfall"))) == [
        "Gift card",
        "Starfall licence",
    ]
    assert titles(SearchFilters(query="pixel forge")) == ["Soundtrack"]
    assert titles(SearchFilters(query="nothing at all zzz")) == []


@pytest.mark.django_db
def test_only_discoverable_listings_are_found_and_sold_out_ones_are_marked(
    client, active_listing, listing_factory, user_factory
):
    on_sale = active_listing(codes=2, title="Orbit key on sale")
    sold_out = listing_factory(status=SOLD_OUT, title="Orbit key sold out")
    listing_factory(status=Listing.Status.PAUSED, title="Orbit key paused")
    listing_factory(status=Listing.Status.PENDING_REVIEW, title="Orbit key draft")
    gone = user_factory(is_active=False)
    listing_factory(status=ACTIVE, title="Orbit key of a gone seller", seller=gone)

    response = client.get(reverse("listings:search"), {"q": "orbit"})
    assert response.status_code == 200
    assert sorted(card_titles(response)) == [on_sale.title, sold_out.title]
    html = response.content.decode()
    card = html[html.index(sold_out.title) :]
    assert "Sold out" in card[: card.index("</li>")]

    in_stock = client.get(reverse("listings:search"), {"q": "orbit", "in_stock": "on"})
    assert card_titles(in_stock) == [on_sale.title]


@pytest.mark.django_db
def test_filters_by_category_platform_and_price(listing_factory):
    listing_factory(
        status=SOLD_OUT,
        title="Cheap steam key",
        category=Listing.Category.LICENCE_KEYS,
        platform=Listing.Platform.STEAM,
        price=Decimal("5.00"),
    )
    listing_factory(
        status=SOLD_OUT,
        title="Dear steam key",
        category=Listing.Category.LICENCE_KEYS,
        platform=Listing.Platform.STEAM,
        price=Decimal("50.00"),
    )
    listing_factory(
        status=SOLD_OUT,
        title="Xbox voucher",
        category=Listing.Category.GIFT_VOUCHERS,
        platform=Listing.Platform.XBOX,
        price=Decimal("20.00"),
    )

    keys = SearchFilters(category=Listing.Category.LICENCE_KEYS)
    assert sorted(titles(keys)) == ["Cheap steam key", "Dear steam key"]
    assert titles(SearchFilters(platform=Listing.Platform.XBOX)) == ["Xbox voucher"]
    assert titles(SearchFilters(min_price=Decimal("10"), max_price=Decimal("30"))) == [
        "Xbox voucher"
    ]
    assert titles(SearchFilters(min_price=Decimal("50"))) == ["Dear steam key"]


@pytest.mark.django_db
def test_sorts_by_price_newest_and_best_selling(active_listing, buy):
    cheap = active_listing(codes=3, title="Sort cheap", price=Decimal("1.00"))
    dear = active_listing(codes=3, title="Sort dear", price=Decimal("90.00"))
    middle = active_listing(codes=3, title="Sort middle", price=Decimal("10.00"))
    buy(middle, quantity=2)
    buy(cheap)

    def order(sort: str) -> list[str]:
        return titles(SearchFilters(query="sort", sort=sort))

    assert order(Sort.PRICE_LOW) == [cheap.title, middle.title, dear.title]
    assert order(Sort.PRICE_HIGH) == [dear.title, middle.title, cheap.title]
    assert order(Sort.NEWEST) == [middle.title, dear.title, cheap.title]
    assert order(Sort.BEST_SELLING) == [middle.title, cheap.title, dear.title]
    # Without a query, relevance means nothing: newest first.
    assert titles(SearchFilters(sort=Sort.RELEVANCE))[:3] == order(Sort.NEWEST)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"min_price": "abc"}, "Enter a number."),
        ({"max_price": "-3"}, "greater than or equal to 0"),
        ({"min_price": "30", "max_price": "10"}, "at least the lowest price"),
        ({"sort": "cheapest"}, "Select a valid choice"),
        ({"category": "weapons"}, "Select a valid choice"),
        ({"min_price": "1e400"}, "Ensure that there are no more than"),
    ],
)
def test_bad_filter_input_is_a_form_error_not_a_server_error(
    client, listing_factory, params, message
):
    listing_factory(status=SOLD_OUT, title="Some key")
    response = client.get(reverse("listings:search"), params)
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert 'class="error" role="alert"' in html
    assert card_titles(response) == []


@pytest.mark.django_db
def test_results_come_in_pages_of_24_that_keep_the_query(
    client, listing_factory, django_assert_max_num_queries
):
    for i in range(30):
        listing_factory(status=SOLD_OUT, title=f"Paged key {i:02d}")
    with django_assert_max_num_queries(12):
        first = client.get(reverse("listings:search"), {"q": "paged", "sort": "newest"})
    assert len(card_titles(first)) == 24
    assert card_titles(first)[0] == "Paged key 29"
    assert "q=paged&amp;sort=newest" in first.content.decode()
    second = client.get(
        reverse("listings:search"), {"q": "paged", "sort": "newest", "page": "2"}
    )
    assert card_titles(second) == [f"Paged key {i:02d}" for i in range(5, -1, -1)]
    # A page number past the end or not a number: the nearest page, never an error.
    assert client.get(reverse("listings:search"), {"page": "x"}).status_code == 200


@pytest.mark.django_db
def test_every_page_has_a_search_field_in_the_header_and_home_has_one(client):
    for path in (reverse("account_login"), reverse("sales:find-codes")):
        html = client.get(path).content.decode()
        assert (
            '<label for="site-search-q" class="visually-hidden">Search</label>' in html
        )
        assert f'action="{reverse("listings:search")}"' in html
    home = client.get("/").content.decode()
    assert '<label for="home-search-q">Search</label>' in home
    assert 'type="search" id="home-search-q" name="q"' in home
    # One field labelled Search on the home page: its own, not the header's too.
    assert home.count(">Search</label>") == 1


@pytest.mark.django_db
def test_category_pages_list_their_category_and_home_links_them(
    client, listing_factory
):
    listing_factory(
        status=SOLD_OUT, title="A serial key", category=Listing.Category.LICENCE_KEYS
    )
    listing_factory(
        status=SOLD_OUT, title="A gift voucher", category=Listing.Category.GIFT_VOUCHERS
    )
    home = client.get("/").content.decode()
    url = reverse("listings:category", args=["licence-keys"])
    assert url == "/c/licence-keys/"
    assert (
        f'<a href="{url}">Licence and serial keys</a> <span class="muted">(1)</span>'
        in home
    )
    assert "A serial key" in home  # recent listings
    assert "A gift voucher" in home

    page = client.get(url)
    assert page.status_code == 200
    assert card_titles(page) == ["A serial key"]
    assert "<h1>Licence and serial keys</h1>" in page.content.decode()
    # The category is fixed by the URL: no category filter, the others work.
    assert 'name="category"' not in page.content.decode()
    assert card_titles(client.get(url, {"q": "voucher"})) == []
    assert client.get("/c/weapons/").status_code == 404
    assert client.get("/c/licence_keys/").status_code == 404


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_ranks_title_over_description_over_seller_name(
    listing_factory, user_factory
):
    nebula = user_factory(display_name="Nebula Games")
    listing_factory(status=SOLD_OUT, title="Soundtrack", seller=nebula)
    listing_factory(status=SOLD_OUT, title="Art book", description="Nebula art.")
    listing_factory(status=SOLD_OUT, title="Nebula deluxe edition")
    assert titles(SearchFilters(query="nebula")) == [
        "Nebula deluxe edition",
        "Art book",
        "Soundtrack",
    ]


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_finds_through_typos_and_without_accents(listing_factory):
    listing_factory(status=SOLD_OUT, title="Windows 11 Pro licence")
    listing_factory(status=SOLD_OUT, title="Café gift voucher")
    listing_factory(status=SOLD_OUT, title="Garden tools")
    assert titles(SearchFilters(query="licnse")) == ["Windows 11 Pro licence"]
    assert titles(SearchFilters(query="windos licnse")) == ["Windows 11 Pro licence"]
    assert titles(SearchFilters(query="cafe")) == ["Café gift voucher"]
    assert titles(SearchFilters(query="CAFÉ")) == ["Café gift voucher"]
    assert titles(SearchFilters(query="cafe voucer")) == ["Café gift voucher"]
    assert titles(SearchFilters(query="qwertyuiop")) == []


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_understands_web_search_syntax(listing_factory):
    listing_factory(status=SOLD_OUT, title="Racing game for Steam")
    listing_factory(status=SOLD_OUT, title="Racing game for Xbox")
    listing_factory(status=SOLD_OUT, title="Game racing wheel")
    assert sorted(titles(SearchFilters(query="racing -steam"))) == [
        "Game racing wheel",
        "Racing game for Xbox",
    ]
    assert sorted(titles(SearchFilters(query='"racing game"'))) == [
        "Racing game for Steam",
        "Racing game for Xbox",
    ]
    assert sorted(titles(SearchFilters(query="steam or wheel"))) == [
        "Game racing wheel",
        "Racing game for Steam",
    ]


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_search_uses_the_gin_expression_index(listing_factory, user_factory):
    """The query's document is the index's expression, and a seller-name match is
    ORed in as constant ids: the plan is a BitmapOr of the GIN and seller indexes."""
    bulk = user_factory(display_name="Bulk")
    Listing.objects.bulk_create(
        Listing(
            seller=bulk,
            status=SOLD_OUT,
            title=f"Generic key {i}",
            description="Plain words. " * 20,
            price=Decimal("5.00"),
            instructions="-",
        )
        for i in range(2000)
    )
    listing_factory(status=SOLD_OUT, title="Indexed key")
    listing_factory(seller=user_factory(display_name="Indexed Games"), status=SOLD_OUT)
    qs = search_listings(filters=SearchFilters(query="indexed"))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE listings_listing")
        sql, params = qs.query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Bitmap Index Scan on listing_search_idx" in plan
    assert "BitmapOr" in plan
    assert len(list(qs)) == 2
