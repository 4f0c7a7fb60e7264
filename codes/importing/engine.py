"""The import engine: numbered lines in, codes and a line-by-line report out.

Every line is either accepted or reported with its number and reason (DESIGN
invariant 8). Lines stream through in chunks of CHUNK_ROWS, in constant memory:

1. `_Chunker` normalises and validates each line (codes/importing/text.py), then
   digests and encrypts the chunk's valid values in one pass (one read of the OS
   random source for all their nonces), and sorts them by digest.
2. A probe finds which of the chunk's digests the seller or another seller
   already holds: the digests go to a TEMP table, and one query looks each up in
   code_digest_idx, in digest order.
3. `_Merger` decides line by line and inserts the new codes (binary COPY on
   PostgreSQL, INSERTs on SQLite) with the chunk's issues: rejected lines, and
   duplicates with the line or batch they repeat. The first line of a code wins:
   a later line, in this chunk or an earlier one, is "duplicate of line N". Codes
   new to this seller that another seller holds are counted (issue 12), each once.
4. All chunks merge in the one transaction that also records the batch's result
   (`ImportJob.merge`, called by codes/services/imports.py), so a crash anywhere
   leaves no partial batch, and a re-run starts again from the file and creates
   no duplicates.

PostgreSQL, where both cores work (issue 15): a reader thread does steps 1 and 2
for chunk n+1 while the import's transaction inserts chunk n. The probe runs on
the reader's own connection, that is on the other database backend: it sees
committed codes (other sellers', the seller's other batches), not the rows this
transaction has inserted, so the reader also keeps a Bloom filter of the digests
of earlier chunks, and the few lines it flags are looked up again inside the
transaction. The inserting backend is the limit (COPY into the indexed codes
table: ~6.5 µs of its CPU a code, where INSERT ... SELECT from a staging table
took ~7.5 µs and came after all the reading); the reader's Python (~4 µs) and its
probes (~1.7 µs) share the other core. A second Python process would only contend
for the same two cores (make bench). The reader's connection also beats the
progress heartbeat, which an update inside the open transaction would hide until
the end. A seller's imports take turns (an advisory lock, taken before the first
probe): chunks of two imports inserting the same codes would otherwise deadlock
or fail on the unique index. When the caller's own transaction is already open
(the claim not committed, as in tests), no other connection could see the batch:
everything then runs on the caller's connection, the reader thread still
overlapping the Python with the database.

SQLite, where a writer blocks every other writer: the file is staged in full
outside the transaction, then merged chunk by chunk in a short one, through the
same `_Merger`, probing on its connection.

Case-insensitive listings (Listing.codes_case_insensitive) store the digest of
the upper-cased value (`case_fold`, as look-ups try it), so "abc-1" and "ABC-1"
are one code; the ciphertext keeps the value as uploaded. For a seller with such
a listing every value that has lower case is probed in both forms: a batch of a
case-insensitive listing duplicates a code the seller holds exactly as uploaded,
in any listing; a batch of another listing duplicates a code that one of the
seller's case-insensitive listings holds in upper case.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import queue
import re
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from codes.crypto import NONCE_BYTES, get_keyring
from listings.models import Listing

from .analysis import Analyzer
from .reader import Line, ReadState
from .text import MAX_CODE_LENGTH, InvalidCode, case_fold, mask, normalise

logger = logging.getLogger(__name__)

CHUNK_ROWS = 32_768
# The first chunks are smaller, and double up to CHUNK_ROWS: the database starts
# inserting after ~4,000 lines have been read rather than ~32,000 (which matters
# for small files: the pipeline fills sooner).
FIRST_CHUNK_ROWS = 4096
RAW_KEEP_CHARS = 1000
PROBE = "codes_import_probe"
COUNTED = "codes_import_counted"
STAGE = "codes_import_stage"  # SQLite: the whole file, staged before the merge

# progress(lines read, bytes read)
Progress = Callable[[int, int], None]
# (line, reason, ciphertext of the line, key id)
Rejected = tuple[int, str, bytes, int]
# (line, kind, reason, ciphertext, key id)
Issue = tuple[int, str, str, bytes, int]
# One form of a code, as the probe found it: (another seller holds it, and the
# batch, line and listing of the seller's own code, or None three times)
Hit = tuple[bool, int | None, int | None, int | None]
# line -> [the value as uploaded, its upper-cased form]
Hits = dict[int, list[Hit | None]]


class ImportFailed(Exception):
    """The whole batch cannot be imported; the message is shown to the seller."""


@dataclass
class ImportReport:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    skipped_blank: int = 0
    lines: int = 0
    valid: int = 0  # lines that are well-formed codes
    warnings: list[str] = field(default_factory=list)
    analysis: list[str] = field(default_factory=list)
    sample: list[str] = field(default_factory=list)
    # Codes new to this seller that another seller holds; None: not checked
    # (generated codes: a clash is chance, not resale).
    foreign_duplicates: int | None = None
    # Whether the codes went in approved: a trusted seller's batch without foreign codes.
    approved: bool = False


@dataclass(eq=False)
class Chunk:
    """Consecutive lines of the file: their valid codes and their rejects.

    `sort` orders the codes by the digest they are stored under (`keys`), then by
    line: the lines of one code are next to each other, the first one first.
    """

    lines: list[int] = field(default_factory=list)
    digests: list[bytes] = field(default_factory=list)  # of the value as uploaded
    # Of the upper-cased value, where it differs and the seller folds; else None.
    alts: list[bytes | None] | None = None
    ciphertexts: list[bytes] = field(default_factory=list)
    key_id: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    last_line: int = 0
    bytes_read: int = 0
    keys: list[bytes] = field(default_factory=list)  # set by `sort`
    # Set by `pack` (PostgreSQL), on the reader thread: the probe table's binary
    # COPY data, and each code's COPY fields (line, digest, ciphertext), which then
    # hold the ciphertexts (`ciphertext`) in place of `ciphertexts` and `digests`.
    probe_copy: bytes = b""
    fields: list[bytes] | None = None
    # Set by the reader when it probes on its own connection: what the probe found
    # of committed codes, and the codes whose digest an earlier chunk may have had.
    hits: Hits | None = None
    earlier: list[int] = field(default_factory=list)

    def sort(self, case_insensitive: bool) -> None:
        digests, alts = self.digests, self.alts
        if case_insensitive and alts is not None:
            keys = [a or d for d, a in zip(digests, alts, strict=True)]
        else:
            keys = digests
        order = sorted(range(len(keys)), key=keys.__getitem__)  # stable: line order
        self.keys = [keys[i] for i in order]
        self.lines = [self.lines[i] for i in order]
        self.digests = [digests[i] for i in order]
        self.ciphertexts = [self.ciphertexts[i] for i in order]
        if alts is not None:
            self.alts = [alts[i] for i in order]

    def pack(self) -> None:
        lines, digests, alts = self.lines, self.digests, self.alts
        probe = _PROBE_ROW.pack
        if alts is None:  # the digests are the keys, in order already
            rows = [
                probe(3, 4, n, 2, 0, 32, d) for n, d in zip(lines, digests, strict=True)
            ]
        else:
            both = [(d, n, 0) for d, n in zip(digests, lines, strict=True)]
            both += [(a, n, 1) for a, n in zip(alts, lines, strict=True) if a]
            both.sort()
            rows = [probe(3, 4, n, 2, form, 32, d) for d, n, form in both]
        self.probe_copy = b"".join([COPY_SIGNATURE, *rows, COPY_TRAILER])
        head = _CODE_FIELDS.pack
        self.fields = [
            head(4, n, 32, k, len(ct)) + ct
            for n, k, ct in zip(lines, self.keys, self.ciphertexts, strict=True)
        ]
        # In probe_copy and fields now:
        self.digests = []
        self.ciphertexts = []

    def ciphertext(self, i: int) -> bytes:
        if self.fields is not None:
            return self.fields[i][_CODE_FIELDS.size :]
        return self.ciphertexts[i]


# PostgreSQL's binary COPY format: a signature, rows of (field count, then each
# field's length and bytes, big-endian), a trailer.
COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
COPY_TRAILER = b"\xff\xff"
_PROBE_ROW = struct.Struct(">hiiihi32s")  # (line int4, form int2, digest bytea)
_CODE_FIELDS = struct.Struct(">iii32si")  # line int4, digest bytea, ciphertext length
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
# What normalise() could change or refuse in an ASCII line, other than surrounding
# spaces: control characters, HTML, CSV quotes.
_SPECIAL_RE = re.compile(r'[\x00-\x1f\x7f<"]')


def _seal_raw(text: str, seller_id: int) -> tuple[bytes, int]:
    keyring = get_keyring()
    # Undecodable bytes are shown as U+FFFD in the seller's download.
    safe = text[:RAW_KEEP_CHARS].encode("utf-8", "replace").decode("utf-8")
    return keyring.encrypt(safe, seller_id=seller_id)


def _plain_ascii(texts: list[str]) -> bool:
    """Whether normalise() would only strip spaces from each of these lines."""
    joined = " ".join(texts)
    return joined.isascii() and not _SPECIAL_RE.search(joined)


class _Chunker:
    """Turns numbered lines into chunks of digested, encrypted codes and rejects.

    Touches no database: on PostgreSQL it runs on the reading thread.
    """

    def __init__(
        self,
        *,
        seller_id: int,
        folds: bool,
        case_insensitive: bool,
        has_header: bool,
        state: ReadState,
        pack: bool,
    ) -> None:
        keyring = get_keyring()
        # Keyring.encrypt and Keyring.digest, unrolled over a chunk: the same
        # AES-GCM (nonce + ciphertext, the seller id as associated data) and HMAC.
        self.key_id = keyring.primary_id
        self.encrypt = keyring.ciphers[keyring.primary_id].encrypt
        # HMAC keyed once, copied per value: ~30% faster than hmac.digest each time.
        self.hmac = hmac.new(keyring.digest_key, digestmod=hashlib.sha256)
        self.aad = seller_id.to_bytes(8, "big")
        self.seller_id = seller_id
        self.folds = folds
        self.case_insensitive = case_insensitive
        self.has_header = has_header
        self.state = state
        self.pack = pack
        self.report = ImportReport()
        self.analyzer = Analyzer()
        self.invisible_chars = self.invisible_lines = 0

    def chunks(self, lines: Iterable[Line]) -> Iterator[Chunk]:
        report = self.report
        max_lines = settings.CODES_UPLOAD_MAX_LINES
        rows = min(FIRST_CHUNK_ROWS, CHUNK_ROWS)
        numbers: list[int] = []
        texts: list[str | None] = []
        for line in lines:
            number = report.lines = line.number
            if number > max_lines:
                raise ImportFailed(
                    _(
                        "The file has more than %(max)s lines. Split it into smaller files "
                        "and upload them as separate batches."
                    )
                    % {"max": f"{max_lines:,}"}
                )
            if number == 1 and self.has_header:
                continue
            numbers.append(number)
            texts.append(line.text)
            if len(numbers) >= rows:
                yield self._chunk(numbers, texts, number)
                numbers, texts = [], []
                rows = min(2 * rows, CHUNK_ROWS)
        if numbers or report.lines:
            yield self._chunk(numbers, texts, report.lines)

    def _chunk(self, numbers: list[int], texts: list[str | None], last: int) -> Chunk:
        chunk = Chunk(key_id=self.key_id, last_line=last)
        chunk.bytes_read = self.state.bytes_read
        values: list[str] = []
        lines = chunk.lines
        if None not in texts and _plain_ascii(texts):  # type: ignore[arg-type]
            for number, text in zip(numbers, texts, strict=True):
                value = text.strip()  # type: ignore[union-attr]
                if not value:
                    self.report.skipped_blank += 1
                elif len(value) > MAX_CODE_LENGTH:
                    self._add(chunk, values, number, text)
                else:
                    lines.append(number)
                    values.append(value)
        else:
            for number, text in zip(numbers, texts, strict=True):
                self._add(chunk, values, number, text)
        self._seal(chunk, values)
        chunk.sort(self.case_insensitive)
        if self.pack:
            chunk.pack()
        return chunk

    def _add(
        self, chunk: Chunk, values: list[str], number: int, text: str | None
    ) -> None:
        if text is None:
            reason = _("Could not be decoded as %(encoding)s text") % {
                "encoding": self.state.encoding.upper()
            }
            self._reject(chunk, number, "(undecodable bytes)", reason)
            return
        try:
            normalised = normalise(text)
        except InvalidCode as e:
            self._reject(chunk, number, text.strip(), str(e))
            return
        if normalised.invisible_removed:
            self.invisible_chars += normalised.invisible_removed
            self.invisible_lines += 1
        if not normalised.value:
            self.report.skipped_blank += 1
            return
        chunk.lines.append(number)
        values.append(normalised.value)

    def _reject(self, chunk: Chunk, number: int, raw: str, reason: str) -> None:
        ciphertext, key_id = _seal_raw(raw, self.seller_id)
        chunk.rejected.append((number, reason, ciphertext, key_id))

    def _seal(self, chunk: Chunk, values: list[str]) -> None:
        encoded = [v.encode() for v in values]
        chunk.digests = self._digests(encoded)
        if self.folds:
            folded = [case_fold(v) for v in values]
            others = self._digests(
                [f.encode() for f, v in zip(folded, values, strict=True) if f != v]
            )
            alts = iter(others)
            chunk.alts = [
                next(alts) if f != v else None
                for f, v in zip(folded, values, strict=True)
            ]
        nonces = os.urandom(NONCE_BYTES * len(encoded))
        encrypt, aad = self.encrypt, self.aad
        ciphertexts = chunk.ciphertexts
        for i, data in enumerate(encoded):
            nonce = nonces[NONCE_BYTES * i : NONCE_BYTES * (i + 1)]
            ciphertexts.append(nonce + encrypt(nonce, data, aad))
        self.report.valid += len(values)
        self.analyzer.feed_many(values)
        sample = self.report.sample
        if len(sample) < 5:
            sample.extend(mask(v) for v in values[: 5 - len(sample)])

    def _digests(self, encoded: list[bytes]) -> list[bytes]:
        """Keyring.digest of each value (already encoded)."""
        copy = self.hmac.copy
        digests = []
        for data in encoded:
            h = copy()
            h.update(data)
            digests.append(h.digest())
        return digests

    def finish(self) -> ImportReport:
        report = self.report
        if self.invisible_chars:
            report.warnings.append(
                _(
                    "Removed %(chars)s invisible character(s) (zero-width spaces, joiners or "
                    "byte-order marks) from %(lines)s line(s)."
                )
                % {
                    "chars": f"{self.invisible_chars:,}",
                    "lines": f"{self.invisible_lines:,}",
                }
            )
        if report.skipped_blank:
            report.warnings.append(
                _("Skipped %(count)s blank line(s).")
                % {"count": f"{report.skipped_blank:,}"}
            )
        report.analysis = self.analyzer.warnings()
        return report


# The probe: for each staged digest (one row per form of a code), whether another
# seller holds it, and where this seller holds it (the unique (seller, digest) index
# allows one such code). Only digests someone holds come back.
# - A LATERAL aggregate is one probe of code_digest_idx per staged digest, whatever
#   the statistics say (autovacuum is off here, and they go stale after a bulk
#   load). Written as a join, the planner hashed a big seller's codes, or the
#   whole codes table, when its statistics were stale.
# - The probe table is loaded in digest order, so the probes walk the index leaf by
#   leaf: ~30% faster than in line order.
PROBE_SQL = {
    "postgresql": f"""
SELECT s.line, s.form, h.foreign, h.batch_id, h.line, h.listing_id
FROM {PROBE} s
CROSS JOIN LATERAL (
    SELECT bool_or(c.seller_id <> %s) AS foreign,
           max(c.batch_id) FILTER (WHERE c.seller_id = %s) AS batch_id,
           max(c.line) FILTER (WHERE c.seller_id = %s) AS line,
           max(c.listing_id) FILTER (WHERE c.seller_id = %s) AS listing_id
    FROM codes_code c WHERE c.digest = s.digest
) h
WHERE h.foreign OR h.batch_id IS NOT NULL
""",
    "sqlite": f"""
SELECT * FROM (
    SELECT s.line, s.form,
           EXISTS (SELECT 1 FROM codes_code o
                   WHERE o.digest = s.digest AND o.seller_id <> %s) AS foreign_,
           m.batch_id, m.line, m.listing_id
    FROM {PROBE} s
    LEFT JOIN codes_code m ON m.seller_id = %s AND m.digest = s.digest
) WHERE foreign_ OR batch_id IS NOT NULL
""",
}

# Inside the transaction, for the codes the reader's Bloom filter flagged: which
# of them this batch has inserted already, at which line (one probe of the unique
# (seller, digest) index each).
EARLIER_SQL = """
SELECT k.digest, h.line
FROM unnest(%s::bytea[]) AS k(digest)
CROSS JOIN LATERAL (
    SELECT c.line FROM codes_code c
    WHERE c.seller_id = %s AND c.digest = k.digest AND c.batch_id = %s
    OFFSET 0
) h
"""


def _create_probe_table(c: CursorWrapper) -> None:
    """In a transaction: on PostgreSQL the table is dropped with it, committed or not."""
    if connection.vendor == "postgresql":
        c.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {PROBE} (line integer NOT NULL, "
            "form smallint NOT NULL, digest bytea NOT NULL) ON COMMIT DROP"
        )
        c.execute(f"TRUNCATE {PROBE}")
    else:
        c.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {PROBE} (line INTEGER NOT NULL, "
            "form INTEGER NOT NULL, digest BLOB NOT NULL)"
        )
        c.execute(f"DELETE FROM {PROBE}")


def _probe(c: CursorWrapper, chunk: Chunk, seller_id: int) -> Hits:
    """What the connection of `c` sees of the chunk's codes (see PROBE_SQL)."""
    me = seller_id
    hits: Hits = {}
    if not chunk.lines:
        return hits
    if connection.vendor == "postgresql":
        c.execute(f"TRUNCATE {PROBE}")
        if chunk.fields is None:
            chunk.pack()
        with c.cursor.copy(
            f"COPY {PROBE} (line, form, digest) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.write(chunk.probe_copy)
        chunk.probe_copy = b""
        c.execute(PROBE_SQL["postgresql"], [me, me, me, me])
    else:
        c.execute(f"DELETE FROM {PROBE}")
        rows = [(n, 0, d) for n, d in zip(chunk.lines, chunk.digests, strict=True)]
        if chunk.alts is not None:
            rows += [
                (n, 1, a) for n, a in zip(chunk.lines, chunk.alts, strict=True) if a
            ]
        c.executemany(
            f"INSERT INTO {PROBE} (line, form, digest) VALUES (%s, %s, %s)", rows
        )
        c.execute(PROBE_SQL["sqlite"], [me, me])
    for line, form, foreign, batch_id, held_line, listing_id in c.fetchall():
        hits.setdefault(line, [None, None])[form] = (
            bool(foreign),
            batch_id,
            held_line,
            listing_id,
        )
    return hits


class _Seen:
    """A Bloom filter of the digests of the chunks read so far (2 MB, 2 bits a code:
    ~1.4% false positives at a million codes, ~5% at the two-million-line limit).
    Digests are HMACs, evenly spread already: their first bytes are the hashes."""

    BITS = 1 << 24
    MASK = BITS - 1

    def __init__(self) -> None:
        self.bits = bytearray(self.BITS // 8)

    def flag_then_add(self, keys: list[bytes]) -> list[int]:
        """The indexes of the keys that may have been added before; then adds them all."""
        bits, mask, number = self.bits, self.MASK, int.from_bytes
        flagged = []
        spots = []
        for i, key in enumerate(keys):
            h = number(key[:8], "little")
            p, q = h & mask, (h >> 32) & mask
            if (bits[p >> 3] >> (p & 7)) & 1 and (bits[q >> 3] >> (q & 7)) & 1:
                flagged.append(i)
            spots.append((p, q))
        for p, q in spots:
            bits[p >> 3] |= 1 << (p & 7)
            bits[q >> 3] |= 1 << (q & 7)
        return flagged


_INSERT_CODES_SQLITE = """
INSERT INTO codes_code (seller_id, listing_id, batch_id, line, digest, ciphertext, key_id,
                        status, approved, created_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, 'available', %s, CURRENT_TIMESTAMP)
"""
_CODE_COLUMNS = (
    "seller_id, listing_id, batch_id, line, digest, ciphertext, key_id, status, "
    "approved, created_at"
)
_ISSUE_COLUMNS = "batch_id, line, kind, reason, ciphertext, key_id"


def _tune_transaction(c: CursorWrapper) -> None:
    if connection.vendor != "postgresql":
        return
    # Don't wait for the WAL flush of a million rows at COMMIT. Should the
    # PostgreSQL server itself crash within the next few hundred ms, the whole
    # merge is lost atomically: the batch is `importing` again, the stalled-import
    # sweep re-runs it, and if its file was already deleted the seller is told
    # to upload it again. Never a partial batch, never a silent loss.
    c.execute("SET LOCAL synchronous_commit TO OFF")
    # The probe runs once a chunk, and its estimates (from statistics that go stale
    # after a bulk load) are big enough for JIT: compiling took ~0.1 s a chunk, more
    # than the probe itself.
    c.execute("SET LOCAL jit TO OFF")


class _Merger:
    """Merges chunks into `codes_code` and `codes_batchissue`, inside one transaction."""

    def __init__(
        self,
        *,
        batch_id: int,
        listing_id: int,
        seller_id: int,
        case_insensitive: bool,
        check_foreign: bool,
        trusted: bool,
    ) -> None:
        self.vendor = connection.vendor
        self.batch_id = batch_id
        self.listing_id = listing_id
        self.seller_id = seller_id
        self.case_insensitive = case_insensitive
        self.check_foreign = check_foreign
        self.approved = trusted  # until a foreign code turns up
        self.inserted = 0
        self.duplicates = 0
        self.rejected = 0
        self.listings: dict[int, tuple[str, bool]] = {}
        # Reasons are translated here (the import runs in the seller's language).
        self.in_file = _("Duplicate of line {line} in this file")
        self.elsewhere = _(
            'Duplicate of a code you already have (batch #{batch} of "{title}")'
        )
        self.ignoring_case = _(
            "Duplicate of a code you already have, ignoring upper and "
            'lower case (batch #{batch} of "{title}")'
        )
        created = (timezone.now() - _PG_EPOCH) // timedelta(microseconds=1)
        head = struct.pack(">hiqiqiq", 10, 8, seller_id, 8, listing_id, 8, batch_id)
        self.copy_head = head
        self.copy_created = created

    def setup(self, *, probes: bool) -> None:
        """Temp tables, in the transaction. `probes`: chunks come unprobed."""
        if not connection.in_atomic_block:
            raise RuntimeError("the import merge must run inside a transaction")
        with connection.cursor() as c:
            _tune_transaction(c)
            if probes:
                _create_probe_table(c)
            if self.vendor == "postgresql":
                c.execute(
                    f"CREATE TEMP TABLE IF NOT EXISTS {COUNTED} (key bytea NOT NULL) "
                    "ON COMMIT DROP"
                )
                c.execute(f"TRUNCATE {COUNTED}")
            else:
                c.execute(
                    f"CREATE TEMP TABLE IF NOT EXISTS {COUNTED} (key BLOB NOT NULL)"
                )
                c.execute(f"DELETE FROM {COUNTED}")

    def merge(self, chunk: Chunk) -> None:
        with connection.cursor() as c:
            if chunk.hits is None:
                hits = _probe(c, chunk, self.seller_id)
            else:
                hits = chunk.hits
                if chunk.earlier:
                    self._add_earlier(c, chunk, hits)
            take, issues, foreign = self._decide(chunk, hits)
            if foreign:
                self._count_foreign(c, foreign)
            self._insert_codes(c, chunk, take)
            issues.extend(
                (line, "rejected", reason, ciphertext, key_id)
                for line, reason, ciphertext, key_id in chunk.rejected
            )
            self.rejected += len(chunk.rejected)
            if issues:
                self._insert_issues(c, issues)

    def _add_earlier(self, c: CursorWrapper, chunk: Chunk, hits: Hits) -> None:
        """The probe ran outside this transaction: add to its hits the codes that
        this batch inserted from an earlier chunk, as the probe would have seen them."""
        keys = chunk.keys
        c.execute(
            EARLIER_SQL,
            [[keys[i] for i in chunk.earlier], self.seller_id, self.batch_id],
        )
        found = {bytes(digest): line for digest, line in c.fetchall()}
        if not found:
            return
        ci, alts = self.case_insensitive, chunk.alts
        for i in chunk.earlier:
            line = found.get(keys[i])
            if line is None:
                continue
            # The form the code is stored under (see Chunk.sort).
            form = 1 if ci and alts is not None and alts[i] else 0
            forms = hits.setdefault(chunk.lines[i], [None, None])
            other = forms[form]
            foreign = other is not None and other[0]
            forms[form] = (foreign, self.batch_id, line, self.listing_id)

    def _listing(self, listing_id: int) -> tuple[str, bool]:
        if listing_id not in self.listings:
            title, ci = (
                Listing.objects.filter(pk=listing_id)
                .values_list("title", "codes_case_insensitive")
                .get()
            )
            self.listings[listing_id] = (title[:120], ci)
        return self.listings[listing_id]

    def _held(self, template: str, hit: Hit) -> str:
        _foreign, batch_id, line, listing_id = hit
        if batch_id == self.batch_id:
            return self.in_file.replace("{line}", str(line))
        title = self._listing(listing_id)[0]  # type: ignore[arg-type]
        return template.replace("{batch}", str(batch_id)).replace("{title}", title)

    def _reason(
        self, forms: list[Hit | None], alt: bytes | None, first: bool
    ) -> str | None:
        """Why a code the probe found is a duplicate (None: it is not, by the probe)."""
        exact, other = forms
        ci = self.case_insensitive
        if ci and alt and exact is not None and exact[1] is not None:
            # The seller holds this very value (in any listing).
            return self._held(self.elsewhere, exact)
        if (
            not ci
            and alt
            and other is not None
            and other[3] is not None
            and self._listing(other[3])[1]
        ):
            # One of the seller's case-insensitive listings holds its upper case.
            return self._held(self.ignoring_case, other)
        held = other if (ci and alt) else exact
        if first and held is not None and held[1] is not None:
            return self._held(self.elsewhere, held)
        return None

    def _decide(
        self, chunk: Chunk, hits: Hits
    ) -> tuple[bytearray, list[Issue], set[bytes]]:
        """Which codes of the (sorted) chunk to insert: the first line of a code the
        seller does not hold yet. The others are duplicates, with why. Also the
        codes new to this seller that another seller holds, by upper-cased form:
        between sellers, codes that differ only in case are one code."""
        keys, lines, alts, key_id = chunk.keys, chunk.lines, chunk.alts, chunk.key_id
        take = bytearray(len(lines))
        issues: list[Issue] = []
        foreign: set[bytes] = set()
        key: bytes | None = None
        taken = 0  # the line that has `key` in this chunk, if any
        for i, line in enumerate(lines):
            if keys[i] != key:
                key, taken = keys[i], 0
            forms = hits.get(line) if hits else None
            reason = None
            if forms is not None:
                alt = alts[i] if alts is not None else None
                mine = any(f is not None and f[1] is not None for f in forms)
                held = any(f is not None and f[0] for f in forms)
                if self.check_foreign and held and not mine:
                    foreign.add(alt or key)
                reason = self._reason(forms, alt, not taken)
            if reason is None:
                if not taken:
                    taken = line
                    take[i] = 1
                    continue
                reason = self.in_file.replace("{line}", str(taken))
            issues.append((line, "duplicate", reason, chunk.ciphertext(i), key_id))
        self.duplicates += len(issues)
        return take, issues, foreign

    def _count_foreign(self, c: CursorWrapper, keys: set[bytes]) -> None:
        # Counted distinct over the whole file at the end (`finish`): a code in two
        # chunks, or in two forms, is one code. Most files add nothing here.
        if self.vendor == "postgresql":
            row = struct.Struct(">hi32s").pack
            with c.cursor.copy(
                f"COPY {COUNTED} (key) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.write(
                    b"".join(
                        [COPY_SIGNATURE, *(row(1, 32, k) for k in keys), COPY_TRAILER]
                    )
                )
        else:
            c.executemany(
                f"INSERT INTO {COUNTED} (key) VALUES (%s)", [(k,) for k in keys]
            )
        if self.approved:
            # A trusted seller's batch with foreign codes waits for staff.
            self.approved = False
            if self.inserted:
                c.execute(
                    "UPDATE codes_code SET approved = %s WHERE batch_id = %s AND approved",
                    [False, self.batch_id],
                )

    def _insert_codes(self, c: CursorWrapper, chunk: Chunk, take: bytearray) -> None:
        count = take.count(1)
        if not count:
            return
        self.inserted += count
        if self.vendor != "postgresql":
            ids = (self.seller_id, self.listing_id, self.batch_id)
            key_id, approved = chunk.key_id, self.approved
            rows = [
                (*ids, line, chunk.keys[i], chunk.ciphertexts[i], key_id, approved)
                for i, line in enumerate(chunk.lines)
                if take[i]
            ]
            c.executemany(_INSERT_CODES_SQLITE, rows)
            return
        if chunk.fields is None:
            chunk.pack()
        fields = chunk.fields or []
        tail = struct.pack(
            ">iqi9si?iq",
            *(8, chunk.key_id, 9, b"available", 1, self.approved),
            *(8, self.copy_created),
        )
        head = self.copy_head
        # In digest order (the chunk's): the (seller, digest) and digest indexes take
        # them leaf by leaf. Each row is head + fields + tail, all joined in one go.
        if count < len(take):
            fields = [f for f, t in zip(fields, take, strict=True) if t]
        data = b"".join(
            [COPY_SIGNATURE, head, (tail + head).join(fields), tail, COPY_TRAILER]
        )
        with c.cursor.copy(
            f"COPY codes_code ({_CODE_COLUMNS}) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.write(data)

    def _insert_issues(self, c: CursorWrapper, issues: list[Issue]) -> None:
        if self.vendor == "postgresql":
            with c.cursor.copy(
                f"COPY codes_batchissue ({_ISSUE_COLUMNS}) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["int8", "int4", "text", "text", "bytea", "int8"])
                batch_id = self.batch_id
                for issue in issues:
                    copy.write_row((batch_id, *issue))
        else:
            c.executemany(
                f"INSERT INTO codes_batchissue ({_ISSUE_COLUMNS}) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                [(self.batch_id, *issue) for issue in issues],
            )

    def finish(self, report: ImportReport) -> None:
        report.accepted = self.inserted
        report.duplicates = self.duplicates
        report.rejected = self.rejected
        report.approved = self.approved
        if self.check_foreign:
            with connection.cursor() as c:
                c.execute(f"SELECT COUNT(DISTINCT key) FROM {COUNTED}")
                row = c.fetchone()
            report.foreign_duplicates = int(row[0]) if row else 0
        if report.accepted + report.duplicates != report.valid:
            # invariant 8: never a silent drop
            raise RuntimeError("import merge lost track of a staged line")


class _Reader:
    """Runs the chunker on a thread, one chunk ahead of the merge: while chunk n
    merges, chunk n+1 is read, encrypted, packed (and, `detached`, probed on this
    thread's own connection), then waits, so that at most two chunks are in memory.

    It starts reading once `start()` is called (the seller's turn has come); until
    then, and while it waits, a detached reader keeps the heartbeat going.
    """

    AHEAD = 2  # chunks read and not yet merged, the one merging included

    def __init__(
        self,
        chunks: Iterator[Chunk],
        *,
        detached: bool,
        seller_id: int,
        progress: Progress,
    ) -> None:
        self.chunks = chunks
        self.detached = detached
        self.seller_id = seller_id
        self.progress = progress
        self.position = (0, 0)  # lines, bytes read
        self.language = translation.get_language()
        self.queue: queue.SimpleQueue[Chunk | BaseException | None] = (
            queue.SimpleQueue()
        )
        self.room = threading.Semaphore(self.AHEAD)
        self.go = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=self._run, name="codes-import-reader", daemon=True
        )
        self.thread.start()

    def start(self) -> None:
        self.go.set()

    def _wait(self, ready: Callable[[], bool]) -> bool:
        """Wait until `ready()`, beating the heartbeat; False when stopped."""
        while not ready():
            if self.stop.is_set():
                return False
            if self.detached:
                self.progress(*self.position)
        return True

    def _run(self) -> None:
        try:
            # Rejection reasons are written in the seller's language, as on the caller.
            with translation.override(self.language):
                if not self._wait(lambda: self.go.wait(0.1)):
                    return
                try:
                    self._read()
                finally:
                    if self.detached:
                        connection.close()  # this thread's own connection
        except BaseException as e:  # noqa: BLE001 - handed to the merging thread
            self.queue.put(e)

    def _read(self) -> None:
        seen = _Seen() if self.detached else None
        while self._wait(lambda: self.room.acquire(timeout=0.1)):
            chunk = next(self.chunks, None)
            if chunk is not None and seen is not None:
                chunk.earlier = seen.flag_then_add(chunk.keys)
                chunk.hits = self._probe(chunk)
            self.queue.put(chunk)
            if chunk is None:
                return
            self.position = (chunk.last_line, chunk.bytes_read)
            if self.detached:
                self.progress(*self.position)

    def _probe(self, chunk: Chunk) -> Hits:
        """On this thread's own connection, one short transaction a chunk (a pooler
        in transaction mode would give each transaction its own server connection)."""
        with transaction.atomic(), connection.cursor() as c:
            c.execute("SET LOCAL jit TO off")  # see _tune_transaction
            _create_probe_table(c)
            return _probe(c, chunk, self.seller_id)

    def __iter__(self) -> Iterator[Chunk]:
        while True:
            item = self.queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
            self.room.release()  # merged: the next one may be read

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


@dataclass
class ImportJob:
    """One batch's import: `stage()` outside any transaction, then `merge()` inside
    the transaction that records the batch's result (codes/services/imports.py)."""

    lines: Iterable[Line]
    state: ReadState
    batch_id: int
    listing_id: int
    seller_id: int
    has_header: bool
    generated: bool
    trusted: bool
    progress: Progress
    staged: _SqliteStage | None = None
    chunker: _Chunker | None = None
    detached: bool = False

    def _make_chunker(self, *, pack: bool) -> _Chunker:
        # A listing's flag is fixed at its creation, before any batch of it: a batch
        # of a case-insensitive listing always finds the flag here.
        folds = Listing.objects.filter(
            seller_id=self.seller_id, codes_case_insensitive=True
        ).exists()
        case_insensitive = Listing.objects.filter(
            pk=self.listing_id, codes_case_insensitive=True
        ).exists()
        self.chunker = _Chunker(
            seller_id=self.seller_id,
            folds=folds,
            case_insensitive=case_insensitive,
            has_header=self.has_header,
            state=self.state,
            pack=pack,
        )
        return self.chunker

    def _merger(self, chunker: _Chunker, *, probes: bool) -> _Merger:
        merger = _Merger(
            batch_id=self.batch_id,
            listing_id=self.listing_id,
            seller_id=self.seller_id,
            case_insensitive=chunker.case_insensitive,
            check_foreign=not self.generated,
            trusted=self.trusted,
        )
        merger.setup(probes=probes)
        return merger

    def stage(self) -> None:
        """Outside the transaction. SQLite: read, encrypt and stage the whole file
        now. PostgreSQL: nothing yet (`merge` reads the file), but whether another
        connection can see the batch: then the reader probes on its own."""
        if connection.vendor == "postgresql":
            self.detached = not connection.in_atomic_block
            return
        chunker = self._make_chunker(pack=False)
        self.staged = _SqliteStage()
        for chunk in chunker.chunks(self.lines):
            self.staged.add(chunk)
            self.progress(chunk.last_line, chunk.bytes_read)

    def merge(self) -> ImportReport:
        """Merge every line into codes and issues. Must run inside transaction.atomic()."""
        if not connection.in_atomic_block:
            raise RuntimeError("the import merge must run inside a transaction")
        if self.staged is not None and self.chunker is not None:
            merger = self._merger(self.chunker, probes=True)
            for chunk in self.staged.chunks(self.chunker):
                merger.merge(chunk)
            report = self.chunker.finish()
            merger.finish(report)
            return report
        chunker = self._make_chunker(pack=True)
        merger = self._merger(chunker, probes=not self.detached)
        reader = _Reader(
            chunker.chunks(self.lines),
            detached=self.detached,
            seller_id=self.seller_id,
            progress=self.progress,
        )
        try:
            self._take_turn()
            reader.start()
            for chunk in reader:
                merger.merge(chunk)
                if not self.detached:
                    self.progress(chunk.last_line, chunk.bytes_read)
        finally:
            reader.close()
        report = chunker.finish()
        merger.finish(report)
        return report

    def _take_turn(self) -> None:
        """Wait for the seller's other imports (PostgreSQL): see the module docstring."""
        with connection.cursor() as c:
            while True:
                c.execute(
                    "SELECT pg_try_advisory_xact_lock(hashtext(%s))",
                    [f"codes-import:{self.seller_id}"],
                )
                row = c.fetchone()
                if row and row[0]:
                    return
                if not self.detached:
                    self.progress(0, 0)
                time.sleep(0.2)

    def discard(self) -> None:
        if self.staged is not None:
            self.staged.drop()
            self.staged = None


class _SqliteStage:
    """SQLite: the whole file's codes and rejects, staged before the merge."""

    def __init__(self) -> None:
        with connection.cursor() as c:
            c.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} (line INTEGER NOT NULL, "
                "digest BLOB, alt BLOB, ciphertext BLOB, key_id INTEGER, reason TEXT)"
            )
            c.execute(f"DELETE FROM {STAGE}")
        self.folds = False

    def add(self, chunk: Chunk) -> None:
        alts = chunk.alts if chunk.alts is not None else [None] * len(chunk.lines)
        self.folds = self.folds or chunk.alts is not None
        rows: list[tuple[Any, ...]] = [
            (n, d, a, ct, chunk.key_id, None)
            for n, d, a, ct in zip(
                chunk.lines, chunk.digests, alts, chunk.ciphertexts, strict=True
            )
        ]
        rows += [(n, None, None, ct, k, r) for n, r, ct, k in chunk.rejected]
        rows.sort(key=lambda row: row[0])  # rowid order is line order
        with connection.cursor() as c:
            c.executemany(
                f"INSERT INTO {STAGE} (line, digest, alt, ciphertext, key_id, reason) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                rows,
            )

    def chunks(self, chunker: _Chunker) -> Iterator[Chunk]:
        after = 0
        while True:
            with connection.cursor() as c:
                c.execute(
                    f"SELECT rowid, line, digest, alt, ciphertext, key_id, reason "
                    f"FROM {STAGE} WHERE rowid > %s ORDER BY rowid LIMIT %s",
                    [after, CHUNK_ROWS],
                )
                rows = c.fetchall()
            if not rows:
                return
            chunk = Chunk(key_id=chunker.key_id, alts=[] if self.folds else None)
            for rowid, line, digest, alt, ciphertext, key_id, reason in rows:
                after = rowid
                if reason is not None:
                    chunk.rejected.append((line, reason, bytes(ciphertext), key_id))
                    continue
                chunk.lines.append(line)
                chunk.digests.append(bytes(digest))
                chunk.ciphertexts.append(bytes(ciphertext))
                chunk.key_id = key_id
                if chunk.alts is not None:
                    chunk.alts.append(bytes(alt) if alt is not None else None)
            chunk.sort(chunker.case_insensitive)
            yield chunk

    def drop(self) -> None:
        try:
            with connection.cursor() as c:
                c.execute(f"DROP TABLE IF EXISTS {STAGE}")
        except Exception:  # noqa: BLE001 - the connection may be gone after a crash; nothing to keep
            logger.warning("could not drop the import staging table", exc_info=False)
