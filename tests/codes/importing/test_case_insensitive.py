"""Case-insensitive listings at import (issue 13): the digest of the upper-cased
value is stored, so codes that differ only in case are one code, reported as
duplicates with their line numbers; the value is kept as uploaded. A code stays
unique per seller across listings of both kinds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction

from codes.importing.engine import PROBE, PROBE_SQL
from tests.codes.generated import generate_code
from tests.codes.importing.test_foreign_duplicates import _probe_table
from tests.helpers import codes_of, issues_of

pytestmark = pytest.mark.django_db

Factory = Callable[..., Any]
CASE = "Duplicate of a code you already have, ignoring upper and lower case"


def test_codes_differing_only_in_case_are_one_code(
    listing_factory: Factory, upload: Factory
) -> None:
    listing = listing_factory(codes_case_insensitive=True)
    batch = upload(listing, "abc-1\nABC-1\nOTHER-2\nAbc-1\nother-2\n")
    assert codes_of(batch) == ["abc-1", "OTHER-2"]  # as uploaded
    assert issues_of(batch) == [
        (2, "duplicate", "Duplicate of line 1 in this file"),
        (4, "duplicate", "Duplicate of line 1 in this file"),
        (5, "duplicate", "Duplicate of line 3 in this file"),
    ]
    assert (batch.accepted, batch.duplicates) == (2, 3)


def test_and_across_the_sellers_batches(
    seller: Any, listing_factory: Factory, upload: Factory
) -> None:
    listing = listing_factory(seller=seller, codes_case_insensitive=True)
    first = upload(listing, "abc-1\n")
    again = upload(
        listing_factory(seller=seller, codes_case_insensitive=True), "x\nABC-1\n"
    )
    assert issues_of(again) == [
        (
            2,
            "duplicate",
            f'Duplicate of a code you already have (batch #{first.pk} of "{listing.title}")',
        )
    ]


def test_other_listings_still_tell_case_apart(
    seller: Any, listing_factory: Factory, upload: Factory
) -> None:
    upload(listing_factory(seller=seller, codes_case_insensitive=True), "zzz-9\n")
    batch = upload(listing_factory(seller=seller), "abc-1\nABC-1\n")
    assert codes_of(batch) == ["abc-1", "ABC-1"]


def test_a_value_the_seller_has_exactly_is_a_duplicate_in_a_case_insensitive_listing(
    seller: Any, listing_factory: Factory, upload: Factory
) -> None:
    plain = listing_factory(seller=seller)
    held = upload(plain, "abc-1\n")
    batch = upload(
        listing_factory(seller=seller, codes_case_insensitive=True), "abc-1\nnew-2\n"
    )
    assert codes_of(batch) == ["new-2"]
    assert issues_of(batch) == [
        (
            1,
            "duplicate",
            f'Duplicate of a code you already have (batch #{held.pk} of "{plain.title}")',
        )
    ]


def test_a_case_insensitive_listings_code_is_a_duplicate_in_any_case_elsewhere(
    seller: Any, listing_factory: Factory, upload: Factory
) -> None:
    folding = listing_factory(seller=seller, codes_case_insensitive=True)
    held = upload(folding, "abc-1\n")
    batch = upload(listing_factory(seller=seller), "Abc-1\nABC-1\nabc-1\nnew-2\n")
    assert codes_of(batch) == ["new-2"]
    where = f'(batch #{held.pk} of "{folding.title}")'
    assert issues_of(batch) == [
        (1, "duplicate", f"{CASE} {where}"),
        (2, "duplicate", f"Duplicate of a code you already have {where}"),
        (3, "duplicate", f"{CASE} {where}"),
    ]
    assert (batch.accepted, batch.duplicates) == (1, 3)


def test_generated_codes_of_a_case_insensitive_listing(
    listing_factory: Factory, upload: Factory
) -> None:
    listing = listing_factory(codes_case_insensitive=True)
    code, value = generate_code(listing, "01ABC0DE1F", prefix="gift-")
    batch = upload(listing, f"{value.upper()}\n")
    assert codes_of(batch) == []
    assert [kind for _, kind, _ in issues_of(batch)] == ["duplicate"]
    assert code.reveal() == "gift-01ABC-0DE1F"


def test_codes_another_seller_holds_in_either_case_are_counted(
    user_factory: Factory, listing_factory: Factory, upload: Factory
) -> None:
    upload(listing_factory(seller=user_factory()), "abc-1\n")
    upload(listing_factory(seller=user_factory(), codes_case_insensitive=True), "ABC-1")
    batch = upload(
        listing_factory(seller=user_factory(), codes_case_insensitive=True),
        "abc-1\nAbc-1\nfree-3\n",
    )
    assert batch.foreign_duplicates == 1
    assert (batch.accepted, batch.duplicates) == (2, 1)


@pytest.mark.postgres
def test_the_either_case_count_probes_the_digest_index(seller: Any) -> None:
    """Like the exact count (test_foreign_duplicates.py): index probes, no hash, for
    both forms of a code (each staged as a row of its own)."""
    with connection.cursor() as c:
        c.execute("ANALYZE codes_code")
        c.execute(
            "INSERT INTO codes_code (seller_id, listing_id, batch_id, line, digest, "
            "ciphertext, key_id, status, approved, created_at, redeemed_by, cancel_reason) "
            "SELECT 1000000 + i % 50, 1, 1, i, sha256(('bulk' || i)::bytea), '\\x00'::bytea, "
            "1, 'available', false, now(), '', '' FROM generate_series(1, 30000) i"
        )
    with transaction.atomic():
        _probe_table(seller.pk)
        with connection.cursor() as c:
            c.execute(
                f"INSERT INTO {PROBE} (line, form, digest) SELECT i, f, "
                "sha256(('bulk' || i * 7 + f)::bytea) "
                "FROM generate_series(1, 5000) i, generate_series(0, 1) f"
            )
            params = [seller.pk] * 4
            c.execute("EXPLAIN " + PROBE_SQL["postgresql"], params)
            plan = "\n".join(row[0] for row in c.fetchall())
            c.execute(PROBE_SQL["postgresql"], params)
            rows = c.fetchall()
        transaction.set_rollback(True)
    assert "Index Cond: (digest = s.digest)" in plan, plan
    assert "code_seller_digest_uniq" not in plan, plan
    assert "Hash" not in plan, plan
    assert "Seq Scan on codes_code" not in plan, plan
    # i * 7 <= 30000 and i * 7 + 1 <= 30000 for i <= 4285
    assert sorted({(line, form) for line, form, *_ in rows}) == [
        (i, f) for i in range(1, 4286) for f in (0, 1)
    ]
