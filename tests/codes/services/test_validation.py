"""Look-ups forgive what a code's own rules allow (issue 13): generated Crockford
codes in any case and with O/0, I/L/1 confused; a case-insensitive listing's codes
in any case. Everything else matches exactly, only the seller's own codes are
found, and a look-up stays one query."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from codes.crypto import get_keyring
from codes.exceptions import CodeNotFound
from codes.services.validation import code_lookup, code_redeem, code_verify
from tests.codes.generated import generate_code

pytestmark = pytest.mark.django_db

Factory = Callable[..., Any]

SYMBOLS = "01ABC0DE1F"  # generated as 01ABC-0DE1F
COPIES = [
    "01abc-0de1f",  # lower case
    "OIABC-ODELF",  # O for 0, I and L for 1
    "oiabc-Ode1f",  # both
    "01ABC 0DE1F",  # a space between the groups
    "01abc0de1f",  # no separators
    "  oLabc \u2013 0dEIf ",  # all of it, pasted with an en dash
]


def _found(seller: Any, value: str) -> Any:
    try:
        return code_lookup(seller_id=seller.pk, value=value)
    except CodeNotFound:
        return None


@pytest.mark.parametrize("copy", COPIES)
def test_a_generated_crockford_code_is_found_by_a_forgiving_copy(
    listing_factory: Factory, copy: str
) -> None:
    listing = listing_factory()
    code, value = generate_code(listing, SYMBOLS)
    assert value == "01ABC-0DE1F"
    assert _found(listing.seller, copy) == code


def test_a_prefixed_generated_code_is_found_in_any_case(
    listing_factory: Factory,
) -> None:
    listing = listing_factory()
    code, value = generate_code(listing, SYMBOLS, prefix="GIFT-")
    assert value == "GIFT-01ABC-0DE1F"
    assert _found(listing.seller, "gift-01abc-0de1f") == code
    # The prefix is the seller's text, not Crockford's: its I stays an I.
    assert _found(listing.seller, "GIFT-OIABC-ODELF") is None


def test_other_generated_alphabets_match_exactly(listing_factory: Factory) -> None:
    listing = listing_factory()
    code, value = generate_code(listing, "ABCDEF0123", alphabet="hex")
    assert _found(listing.seller, value) == code
    assert _found(listing.seller, value.lower()) is None


def test_an_uploaded_code_matches_exactly(
    listing_factory: Factory, upload: Factory
) -> None:
    listing = listing_factory()
    upload(listing, "abc-1\nABC-100\n")
    assert _found(listing.seller, "abc-1") is not None
    assert _found(listing.seller, "ABC-1") is None
    assert _found(listing.seller, "abc-100") is None
    # Its Crockford reading is an uploaded code's digest, but only generated codes
    # are read that way.
    assert _found(listing.seller, "ABC-l00") is None


def test_a_case_insensitive_listings_code_is_found_in_any_case(
    listing_factory: Factory, upload: Factory
) -> None:
    listing = listing_factory(codes_case_insensitive=True)
    batch = upload(listing, "abc-1\nXYZ-100\n")
    first, second = batch.codes.order_by("line")
    assert first.reveal() == "abc-1"  # kept as uploaded
    assert bytes(first.digest) == get_keyring().digest("ABC-1")
    for copy in ("abc-1", "ABC-1", "aBc-1"):
        assert _found(listing.seller, copy) == first
    assert _found(listing.seller, "xyz-100") == second
    # Case only: a case-insensitive listing does not read O as 0.
    assert _found(listing.seller, "xyz-1OO") is None


def test_a_case_insensitive_listings_generated_code_keeps_its_prefix_case(
    listing_factory: Factory,
) -> None:
    listing = listing_factory(codes_case_insensitive=True)
    code, value = generate_code(listing, SYMBOLS, prefix="gift-")
    assert value == "gift-01ABC-0DE1F"
    for copy in (value, value.upper(), "Gift-01abc-0de1f"):
        assert _found(listing.seller, copy) == code


def test_the_exact_value_wins_over_a_forgiving_match(
    listing_factory: Factory, upload: Factory
) -> None:
    listing = listing_factory()
    generated, value = generate_code(listing, SYMBOLS)
    uploaded = upload(listing, value.lower()).codes.get()
    assert _found(listing.seller, value.lower()) == uploaded
    assert _found(listing.seller, value) == generated
    assert _found(listing.seller, "OIABC-ODELF") == generated


def test_a_forgiving_match_never_crosses_sellers(
    user_factory: Factory, listing_factory: Factory, upload: Factory
) -> None:
    mine, theirs = user_factory(), user_factory()
    generate_code(listing_factory(seller=theirs), SYMBOLS)
    upload(listing_factory(seller=theirs, codes_case_insensitive=True), "abc-1")
    for copy in (*COPIES, "01ABC-0DE1F", "abc-1", "ABC-1"):
        assert _found(mine, copy) is None
    assert _found(theirs, "ABC-1") is not None


@pytest.mark.parametrize(
    "value",
    ["oiabc-ode1f", "01ABC-0DE1F", "ZZZZZ-ZZZZZ", "<b>x</b>", ""],
    ids=["forgiving", "exact", "unknown", "malformed", "blank"],
)
def test_a_look_up_is_one_query(
    listing_factory: Factory, django_assert_num_queries: Any, value: str
) -> None:
    listing = listing_factory()
    generate_code(listing, SYMBOLS)
    with django_assert_num_queries(1):
        try:
            state = code_verify(seller_id=listing.seller_id, value=value)
        except CodeNotFound:
            state = None
    assert (state is not None) == (value in ("oiabc-ode1f", "01ABC-0DE1F"))
    if state is not None:
        assert state.listing_title == listing.title


def test_a_forgiving_copy_redeems_a_sold_code(
    listing_factory: Factory, approve: Factory, buy: Factory
) -> None:
    listing = listing_factory()
    code, _ = generate_code(listing, SYMBOLS)
    approve(listing=listing, batch=code.batch)
    order = buy(listing)
    code.refresh_from_db()
    assert code.order_id == order.pk
    state = code_redeem(seller_id=listing.seller_id, value="oiabc-ode1f", account="a")
    assert (state.code.pk, state.status) == (code.pk, "redeemed")


@pytest.mark.postgres
def test_for_update_locks_the_rows_it_reads(listing_factory: Factory) -> None:
    listing = listing_factory()
    code, _ = generate_code(listing, SYMBOLS)
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        found = code_lookup(
            seller_id=listing.seller_id, value="oiabc-ode1f", for_update=True
        )
    assert found == code
    assert len(queries) == 1
    assert 'FOR UPDATE OF "codes_code"' in queries[0]["sql"]
