"""An import reads, encrypts and merges its file in chunks (issue 15): whatever the
chunk size, every line is accepted or reported once, with its own line number,
and a code's first line wins across chunk edges. On PostgreSQL the reader thread
probes on a connection of its own when the import is not inside a caller's
transaction; the `detached` tests run that way."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from codes.crypto import get_keyring
from codes.importing import engine
from codes.importing.text import case_fold
from codes.models import BatchIssue, Code, CodeBatch
from codes.services import imports
from codes.services.batches import batch_create_upload
from codes.services.imports import code_batch_import
from tests.helpers import codes_of, issues_of

Factory = Callable[..., Any]

IN_FILE = "Duplicate of line {} in this file"
# Line 1 is a header. Blank lines, rejects and duplicates (of this file and of an
# earlier batch) fall on every chunk edge for some chunk size below; lines 20-22
# take the per-line normalising path (non-ASCII).
LINES = [
    "code",  # 1 header
    "AAA-0001",  # 2
    "",  # 3 blank
    "BBB-0002",  # 4
    "<b>x</b>",  # 5 rejected: HTML
    "AAA-0001",  # 6 duplicate of 2
    "OLD-CODE-0001",  # 7 duplicate of the earlier batch
    "SHARED-0001",  # 8 another seller has it
    "  CCC-0003  ",  # 9
    "y" * 256,  # 10 rejected: too long
    "BBB-0002",  # 11 duplicate of 4
    "SHARED-0001",  # 12 duplicate of 8
    "SHARED-0002",  # 13 another seller has it
    "AAA-0001",  # 14 duplicate of 2
    "   ",  # 15 blank
    "DDD-0004",  # 16
    "OLD-CODE-0001",  # 17 duplicate of the earlier batch
    "TAB\tX",  # 18 rejected: control character
    "DDD-0004",  # 19 duplicate of 16
    "ÄÖÜ-0005",  # 20
    "ZW\u200bSP-0006",  # 21 (an invisible character removed)
    "ZWSP-0006",  # 22 duplicate of 21
]
CHUNK_SIZES = [1, 2, 3, 4, 7, 64]


@pytest.fixture
def scenario(user_factory: Factory, listing_factory: Factory, upload: Factory) -> Any:
    """A seller with an earlier batch, another seller holding two of the codes, and
    the file above for a new batch; returns (listing, run, expected summary)."""
    seller = user_factory()
    listing = listing_factory(seller=seller)
    old = upload(listing, "OLD-CODE-0001\n")
    upload(listing_factory(seller=user_factory()), "SHARED-0001\nSHARED-0002\n")
    elsewhere = (
        f'Duplicate of a code you already have (batch #{old.pk} of "{listing.title}")'
    )
    expected = {
        "codes": [
            "AAA-0001",
            "BBB-0002",
            "SHARED-0001",
            "CCC-0003",
            "SHARED-0002",
            "DDD-0004",
            "ÄÖÜ-0005",
            "ZWSP-0006",
        ],
        "issues": [
            (5, "rejected", "Contains HTML, which can't be used in codes"),
            (6, "duplicate", IN_FILE.format(2)),
            (7, "duplicate", elsewhere),
            (10, "rejected", "Too long: 256 characters; the limit is 255"),
            (11, "duplicate", IN_FILE.format(4)),
            (12, "duplicate", IN_FILE.format(8)),
            (14, "duplicate", IN_FILE.format(2)),
            (17, "duplicate", elsewhere),
            (18, "rejected", "Contains a control character (U+0009 TAB) at column 4"),
            (19, "duplicate", IN_FILE.format(16)),
            (22, "duplicate", IN_FILE.format(21)),
        ],
        "counts": (8, 8, 3, 2, 2, 22),
        "status": CodeBatch.Status.IMPORTED,
    }
    return listing, expected


def _summary(batch: CodeBatch) -> dict[str, Any]:
    batch.refresh_from_db()
    codes = codes_of(batch)
    return {
        "codes": codes,
        "issues": issues_of(batch),
        "counts": (
            batch.accepted,
            len(codes),
            batch.rejected,
            batch.skipped_blank,
            batch.foreign_duplicates,
            batch.lines_processed,
        ),
        "status": batch.status,
    }


def _check(batch: CodeBatch, expected: dict[str, Any]) -> None:
    summary = _summary(batch)
    assert summary == expected
    assert batch.duplicates == len(
        [i for i in expected["issues"] if i[1] == "duplicate"]
    )
    assert batch.warnings == [
        "Removed 1 invisible character(s) (zero-width spaces, joiners or byte-order "
        "marks) from 1 line(s).",
        "Skipped 2 blank line(s).",
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("rows", CHUNK_SIZES)
def test_every_chunk_size_gives_the_same_report(
    rows: int, scenario: Any, upload: Factory, monkeypatch: Any
) -> None:
    listing, expected = scenario
    monkeypatch.setattr(engine, "CHUNK_ROWS", rows)
    batch = upload(listing, "\n".join(LINES) + "\n", has_header=True)
    _check(batch, expected)


@pytest.mark.django_db
def test_the_command_numbers_lines_across_chunks(
    listing_factory: Factory, tmp_path: Any, capsys: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(engine, "CHUNK_ROWS", 2)
    path = tmp_path / "codes.csv"
    path.write_text("code\nK-1\nK-2\n\nK-1\n<p>x</p>\nK-3\nK-2\nK-3\n")
    call_command(
        "import_codes", str(listing_factory().pk), str(path), "--header", "--json"
    )
    data = json.loads(capsys.readouterr().out)
    assert data["accepted"] == 3
    assert data["skipped_blank"] == 1
    assert data["rejected"] == [
        {"line": 6, "reason": "Contains HTML, which can't be used in codes"}
    ]
    assert data["duplicates"] == [
        {"line": 5, "reason": IN_FILE.format(2)},
        {"line": 8, "reason": IN_FILE.format(3)},
        {"line": 9, "reason": IN_FILE.format(7)},
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("rows", [1, 2, 4])
def test_case_variants_across_chunks(
    rows: int,
    seller: Any,
    user_factory: Factory,
    listing_factory: Factory,
    upload: Factory,
    monkeypatch: Any,
) -> None:
    upload(listing_factory(seller=user_factory()), "FOLD-7\n")
    held = listing_factory(seller=seller, codes_case_insensitive=True)
    first = upload(held, "held-9\n")
    monkeypatch.setattr(engine, "CHUNK_ROWS", rows)
    folded = upload(
        listing_factory(seller=seller, codes_case_insensitive=True),
        "abc-1\nXYZ-2\nABC-1\nAbc-1\nxyz-2\nnew-3\nHELD-9\n",
    )
    assert codes_of(folded) == ["abc-1", "XYZ-2", "new-3"]
    elsewhere = (
        f'Duplicate of a code you already have (batch #{first.pk} of "{held.title}")'
    )
    assert issues_of(folded) == [
        (3, "duplicate", IN_FILE.format(1)),
        (4, "duplicate", IN_FILE.format(1)),
        (5, "duplicate", IN_FILE.format(2)),
        (7, "duplicate", elsewhere),
    ]
    # A listing that tells case apart: two codes, one code between sellers (one
    # foreign duplicate), and a code a case-insensitive listing holds in upper case.
    exact = upload(listing_factory(seller=seller), "fold-7\np-1\nq-2\nFOLD-7\nheld-9\n")
    assert codes_of(exact) == ["fold-7", "p-1", "q-2", "FOLD-7"]
    assert exact.foreign_duplicates == 1
    assert issues_of(exact) == [
        (
            5,
            "duplicate",
            "Duplicate of a code you already have, ignoring upper and lower case "
            f'(batch #{first.pk} of "{held.title}")',
        )
    ]


@pytest.mark.django_db
def test_a_foreign_code_in_a_late_chunk_holds_back_the_whole_batch(
    user_factory: Factory,
    listing_factory: Factory,
    upload: Factory,
    approve: Factory,
    monkeypatch: Any,
) -> None:
    upload(listing_factory(seller=user_factory()), "FOREIGN-1\n")
    trusted = user_factory(is_trusted_seller=True)
    listing = listing_factory(seller=trusted)
    approve(listing=listing)
    monkeypatch.setattr(engine, "CHUNK_ROWS", 3)
    content = "\n".join([f"TRUSTED-{n:02}" for n in range(8)] + ["FOREIGN-1"])
    batch = upload(listing, content)
    assert (batch.status, batch.foreign_duplicates) == (CodeBatch.Status.IMPORTED, 1)
    assert batch.accepted == 9
    assert not Code.objects.filter(batch=batch, approved=True).exists()


def _crash_on_third_insert(monkeypatch: Any) -> None:
    real = engine._Merger._insert_codes
    calls = {"n": 0}

    def insert(self: Any, *args: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:  # two chunks are in the table by now
            raise ConnectionResetError("worker lost its database connection")
        real(self, *args)

    monkeypatch.setattr(engine._Merger, "_insert_codes", insert)


def _crash_then_rerun(
    listing: Any, expected: dict[str, Any], monkeypatch: Any, django_capture: Any
) -> None:
    monkeypatch.setattr(engine, "CHUNK_ROWS", 3)
    with monkeypatch.context() as m:  # queued, but no worker picks it up
        m.setattr(imports, "enqueue", lambda *a, **k: None)
        m.setattr("codes.services.batches.enqueue_on_commit", lambda *a, **k: None)
        batch = batch_create_upload(
            listing=listing,
            file=io.BytesIO(("\n".join(LINES) + "\n").encode()),
            filename="c.csv",
            has_header=True,
        )
    with monkeypatch.context() as m:
        _crash_on_third_insert(m)
        with pytest.raises(ConnectionResetError):
            code_batch_import(batch_id=batch.pk)
    assert not Code.objects.filter(batch=batch).exists()
    assert not BatchIssue.objects.filter(batch=batch).exists()
    batch.refresh_from_db()
    assert batch.status == CodeBatch.Status.RECEIVED
    with django_capture(execute=True):
        code_batch_import(batch_id=batch.pk)
    _check(batch, expected)
    assert batch.import_attempts == 2


@pytest.mark.django_db
def test_a_crash_after_some_chunks_leaves_nothing_and_a_rerun_completes(
    scenario: Any, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    listing, expected = scenario
    _crash_then_rerun(
        listing, expected, monkeypatch, django_capture_on_commit_callbacks
    )


# PostgreSQL, outside any caller's transaction: the reader probes on its own connection.


@pytest.mark.parametrize("rows", [1, 3, 7, 64])
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_detached_every_chunk_size_gives_the_same_report(
    rows: int, scenario: Any, upload: Factory, monkeypatch: Any
) -> None:
    listing, expected = scenario
    monkeypatch.setattr(engine, "CHUNK_ROWS", rows)
    seen = []
    real = engine._Merger.merge

    def merge(self: Any, chunk: engine.Chunk) -> None:
        seen.append(chunk.hits is not None)  # probed by the reader
        real(self, chunk)

    monkeypatch.setattr(engine._Merger, "merge", merge)
    batch = upload(listing, "\n".join(LINES) + "\n", has_header=True)
    _check(batch, expected)
    assert seen
    assert all(seen)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_detached_crash_after_some_chunks_leaves_nothing(
    scenario: Any, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    listing, expected = scenario
    _crash_then_rerun(
        listing, expected, monkeypatch, django_capture_on_commit_callbacks
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_detached_the_heartbeat_shows_while_the_transaction_is_open(
    listing_factory: Factory, upload: Factory, monkeypatch: Any
) -> None:
    monkeypatch.setattr(engine, "CHUNK_ROWS", 5)
    monkeypatch.setattr(imports, "PROGRESS_EVERY_SECONDS", 0)
    watched: list[tuple[str, int]] = []
    real = engine._Merger.merge

    def merge(self: Any, chunk: engine.Chunk) -> None:
        real(self, chunk)
        if chunk.last_line == 10:  # two chunks merged, nothing committed yet

            def look() -> None:  # another connection, as the stalled-import sweep
                watched.append(
                    CodeBatch.objects.values_list("status", "lines_processed").get(
                        pk=self.batch_id
                    )
                )
                connection.close()

            thread = threading.Thread(target=look)
            thread.start()
            thread.join()

    monkeypatch.setattr(engine._Merger, "merge", merge)
    batch = upload(listing_factory(), "\n".join(f"BEAT-{n:03}" for n in range(30)))
    assert batch.accepted == 30
    [(status, lines)] = watched
    assert status == CodeBatch.Status.IMPORTING
    assert lines >= 10


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_detached_a_sellers_imports_take_turns(
    seller: Any, listing_factory: Factory, monkeypatch: Any
) -> None:
    """Two imports of one seller sharing codes, at once: one waits for the other,
    and the second reports the shared codes as duplicates of the first."""
    monkeypatch.setattr(engine, "CHUNK_ROWS", 4)
    monkeypatch.setattr(
        "codes.services.batches.enqueue_on_commit", lambda *a, **k: None
    )
    batches = [
        batch_create_upload(
            listing=listing_factory(seller=seller),
            file=io.BytesIO(
                "\n".join(f"TURN-{n:03}" for n in range(first, first + 40)).encode()
            ),
            filename="c.csv",
            has_header=False,
        )
        for first in (0, 20)
    ]
    errors: list[BaseException] = []

    def run(batch_id: int) -> None:
        try:
            code_batch_import(batch_id=batch_id)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=[b.pk]) for b in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    done = [CodeBatch.objects.get(pk=b.pk) for b in batches]
    assert sorted((b.accepted, b.duplicates) for b in done) == [(20, 20), (40, 0)]
    assert Code.objects.filter(seller_id=seller.pk).count() == 60


@pytest.mark.django_db
def test_codes_are_digested_and_sealed_as_the_keyring_does(
    listing_factory: Factory, upload: Factory
) -> None:
    """The engine digests and encrypts a chunk at a time; look-ups and reveals use
    the keyring one code at a time: they must agree."""
    listing = listing_factory(codes_case_insensitive=True)
    batch = upload(listing, "plain-1\nMIXED-case-2\nÄÖÜ-3\n")
    keyring = get_keyring()
    for code in Code.objects.filter(batch=batch):
        value = code.reveal()  # Keyring.decrypt, bound to the seller
        assert bytes(code.digest) == keyring.digest(case_fold(value))
