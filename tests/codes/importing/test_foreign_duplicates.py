"""Codes another seller already holds (issue 12): counted at import, in the merge's
transaction, by digest (no decryption); a seller's own codes never count."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction

from codes.importing.engine import PROBE, PROBE_SQL, _Merger
from codes.importing.generator import GeneratorOptions
from codes.models import Code, CodeBatch
from codes.services.batches import batch_create_generated, batch_withdraw_unsold
from listings.models import Listing

pytestmark = pytest.mark.django_db

Factory = Callable[..., Any]


def _codes(first: int, last: int) -> str:
    return "\n".join(f"SHARED-KEY-{n:05}" for n in range(first, last + 1))


def test_codes_another_seller_holds_are_counted_on_the_later_batch(
    user_factory: Factory, listing_factory: Factory, upload: Factory
) -> None:
    first = upload(listing_factory(seller=user_factory()), _codes(1, 5))
    second = upload(listing_factory(seller=user_factory()), _codes(3, 8))
    assert first.foreign_duplicates == 0
    assert second.foreign_duplicates == 3
    # Other sellers' codes are not this seller's duplicates: all six are imported.
    assert (second.accepted, second.duplicates) == (6, 0)


def test_a_seller_reuploading_its_own_codes_is_not_foreign(
    seller: Any, listing_factory: Factory, upload: Factory
) -> None:
    upload(listing_factory(seller=seller), _codes(1, 5))
    again = upload(listing_factory(seller=seller), _codes(1, 7))
    assert again.foreign_duplicates == 0
    assert (again.accepted, again.duplicates) == (2, 5)


def test_counts_each_code_the_batch_adds_once(
    seller: Any, user_factory: Factory, listing_factory: Factory, upload: Factory
) -> None:
    other = user_factory()
    upload(listing_factory(seller=other), _codes(1, 4))
    upload(listing_factory(seller=seller), _codes(4, 4))  # seller and other hold 4
    content = "\n".join(
        [
            "SHARED-KEY-00001",  # held by other
            "SHARED-KEY-00001",  # the same code again in this file: one code
            "SHARED-KEY-00002",  # held by other
            "SHARED-KEY-00004",  # held by other, but the seller has it already
            "SHARED-KEY-00009",  # held by nobody
        ]
    )
    batch = upload(listing_factory(seller=seller), content)
    assert batch.foreign_duplicates == 2
    assert (batch.accepted, batch.duplicates) == (3, 2)


def test_withdrawn_codes_of_another_seller_count_too(
    user_factory: Factory, listing_factory: Factory, upload: Factory
) -> None:
    first = upload(listing_factory(seller=user_factory()), _codes(1, 3))
    batch_withdraw_unsold(batch=first)
    assert set(first.codes.values_list("status", flat=True)) == {"withdrawn"}
    second = upload(listing_factory(seller=user_factory()), _codes(1, 3))
    assert second.foreign_duplicates == 3


def test_generated_batches_are_not_checked(
    listing_factory: Factory, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_create_generated(
            listing=listing_factory(), options=GeneratorOptions(count=5)
        )
    batch.refresh_from_db()
    assert batch.status == CodeBatch.Status.IMPORTED
    assert batch.foreign_duplicates is None


def test_a_trusted_sellers_batch_with_foreign_codes_waits_for_staff(
    user_factory: Factory,
    listing_factory: Factory,
    upload: Factory,
    approve: Factory,
) -> None:
    upload(listing_factory(seller=user_factory()), _codes(1, 2))
    trusted = user_factory(is_trusted_seller=True)
    listing = listing_factory(seller=trusted)
    approve(listing=listing)
    held = upload(listing, _codes(2, 3))
    assert held.foreign_duplicates == 1
    assert held.status == CodeBatch.Status.IMPORTED
    assert not Code.objects.filter(batch=held, approved=True).exists()
    listing.refresh_from_db()
    assert listing.status == Listing.Status.SOLD_OUT
    clean = upload(listing, _codes(10, 11))
    assert (clean.status, clean.foreign_duplicates) == (CodeBatch.Status.APPROVED, 0)


@pytest.mark.postgres
def test_the_count_probes_the_digest_index_once_per_staged_code(
    seller: Any, user_factory: Factory, listing_factory: Factory, upload: Factory
) -> None:
    """One index probe per staged code, whatever the statistics: the probe that finds
    duplicates and counts foreign codes must not turn into a hash of the whole codes
    table (or of a big seller's codes)."""
    upload(listing_factory(seller=user_factory()), _codes(1, 3))
    with connection.cursor() as c:
        c.execute("ANALYZE codes_code")  # statistics from a nearly empty table
        # Then a bulk load that no ANALYZE follows, as after an import here.
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
                f"INSERT INTO {PROBE} (line, form, digest) "
                "SELECT i, 0, sha256(('bulk' || i * 7)::bytea) FROM generate_series(1, 5000) i"
            )
            params = [seller.pk] * 4
            c.execute("EXPLAIN " + PROBE_SQL["postgresql"], params)
            plan = "\n".join(row[0] for row in c.fetchall())
            c.execute(PROBE_SQL["postgresql"], params)
            rows = c.fetchall()
        transaction.set_rollback(True)
    assert "code_digest_idx" in plan, plan
    assert "Hash" not in plan, plan
    assert "Seq Scan on codes_code" not in plan, plan
    # i * 7 <= 30000 for i <= 4285: held by other sellers, not by this one
    assert len(rows) == 4285
    assert all(foreign and batch_id is None for _l, _f, foreign, batch_id, *_ in rows)


def _probe_table(seller_id: int) -> None:
    """The merge's TEMP probe table, as an import creates it."""
    _Merger(
        batch_id=0,
        listing_id=0,
        seller_id=seller_id,
        case_insensitive=False,
        check_foreign=True,
        trusted=False,
    ).setup(probes=True)
