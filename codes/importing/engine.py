"""The import engine: numbered lines in, codes and a line-by-line report out.

Every line is either accepted or reported with its number and reason (DESIGN
invariant 8). Lines stream through in constant memory:

1. each line is normalised and validated (codes/importing/text.py); valid values are
   digested and encrypted in Python;
2. rows go into a per-connection TEMP staging table, by COPY on PostgreSQL and
   by chunked inserts on SQLite;
3. one transaction merges the staging rows into `codes_code` with
   `INSERT … ON CONFLICT (seller_id, digest) DO NOTHING` in line order, and
   derives the duplicate report from the database: a staged row whose digest
   now belongs to another (batch, line) is a duplicate of that code. Just before,
   in the same transaction, one query counts the staged codes that another seller
   already holds (`count_foreign_duplicates`).

Case-insensitive listings (Listing.codes_case_insensitive) store the digest of
the upper-cased value (`case_fold`, as look-ups try it), so "abc-1" and "ABC-1"
are one code; the ciphertext keeps the value as uploaded. The staging step does
not know the batch's listing, only its seller: for a seller with such a listing
it stages both digests of a value that has lower case, and the merge, which
knows the listing, uses the one that listing stores (`_resolve_case`).

Because step 3 is a single transaction and the staging table dies with the
connection, a crash anywhere leaves no partial batch: a re-run starts again
from the file and creates no duplicates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.utils.translation import gettext as _

from codes.crypto import get_keyring
from listings.models import Listing

from .analysis import Analyzer
from .reader import Line
from .text import InvalidCode, case_fold, mask, normalise

logger = logging.getLogger(__name__)

FLUSH_ROWS = 20_000
RAW_KEEP_CHARS = 1000
STAGE = "codes_import_stage"


class ImportFailed(Exception):
    """The whole batch cannot be imported; the message is shown to the seller."""


@dataclass
class ImportReport:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    skipped_blank: int = 0
    lines: int = 0
    valid: int = 0  # staged lines that are well-formed codes
    warnings: list[str] = field(default_factory=list)
    analysis: list[str] = field(default_factory=list)
    sample: list[str] = field(default_factory=list)


# (line, digest, ciphertext, key_id, reason, alt)
Row = tuple[int, bytes | None, bytes | None, int | None, str | None, bytes | None]


class Stage:
    """The TEMP staging table of this connection, loaded in chunks.

    `digest` is the digest of the value as uploaded. `alt`, staged only when
    `folds` (the seller has a case-insensitive listing) and the value has lower
    case, is the digest of its upper-cased form; `dup_of` marks a code that the
    seller holds in the other form (see `_resolve_case`).
    """

    def __init__(self, *, folds: bool = False) -> None:
        self.vendor = connection.vendor
        self.rows: list[Row] = []
        self.folds = folds
        self.alternatives = 0  # staged rows with an `alt`
        with connection.cursor() as c:
            if self.vendor == "postgresql":
                c.execute(
                    f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} (line integer NOT NULL, "
                    "digest bytea, ciphertext bytea, key_id bigint, reason text, "
                    "alt bytea, dup_of bigint)"
                )
                c.execute(f"TRUNCATE {STAGE}")
            else:
                c.execute(
                    f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} (line INTEGER NOT NULL, "
                    "digest BLOB, ciphertext BLOB, key_id INTEGER, reason TEXT, "
                    "alt BLOB, dup_of INTEGER)"
                )
                c.execute(f"DELETE FROM {STAGE}")

    def add(self, row: Row) -> None:
        self.rows.append(row)
        if row[5] is not None:
            self.alternatives += 1

    def flush(self) -> None:
        if not self.rows:
            return
        with connection.cursor() as c:
            if self.vendor == "postgresql":
                raw = c.cursor  # psycopg 3 cursor: COPY in binary format
                with raw.copy(
                    f"COPY {STAGE} (line, digest, ciphertext, key_id, reason, alt) FROM STDIN (FORMAT BINARY)"
                ) as copy:
                    copy.set_types(["int4", "bytea", "bytea", "int8", "text", "bytea"])
                    for row in self.rows:
                        copy.write_row(row)
            else:
                c.executemany(
                    f"INSERT INTO {STAGE} (line, digest, ciphertext, key_id, reason, alt) VALUES (%s, %s, %s, %s, %s, %s)",
                    self.rows,
                )
        self.rows.clear()

    def drop(self) -> None:
        with connection.cursor() as c:
            c.execute(f"DROP TABLE IF EXISTS {STAGE}")


def _seal_raw(text: str, seller_id: int) -> tuple[bytes, int]:
    keyring = get_keyring()
    # Undecodable bytes are shown as U+FFFD in the seller's download.
    safe = text[:RAW_KEEP_CHARS].encode("utf-8", "replace").decode("utf-8")
    return keyring.encrypt(safe, seller_id=seller_id)


class _LineStager:
    """Turns each numbered line into a staged row (a code or a reported line)."""

    def __init__(self, seller_id: int, encoding_name: Callable[[], str]) -> None:
        keyring = get_keyring()
        self.encrypt, self.digest = keyring.encrypt, keyring.digest
        self.seller_id = seller_id
        self.encoding_name = encoding_name
        # A listing's flag is fixed at its creation, before any batch of it: a batch
        # of a case-insensitive listing always finds the flag here.
        self.folds = Listing.objects.filter(
            seller_id=seller_id, codes_case_insensitive=True
        ).exists()
        self.stage = Stage(folds=self.folds)
        self.report = ImportReport()
        self.analyzer = Analyzer()
        self.invisible_chars = self.invisible_lines = 0

    def reject(self, number: int, raw: str, reason: str) -> None:
        ciphertext, key_id = _seal_raw(raw, self.seller_id)
        self.stage.add((number, None, ciphertext, key_id, reason, None))

    def add(self, number: int, text: str | None) -> None:
        if text is None:
            reason = _("Could not be decoded as %(encoding)s text") % {
                "encoding": self.encoding_name()
            }
            self.reject(number, "(undecodable bytes)", reason)
            return
        try:
            normalised = normalise(text)
        except InvalidCode as e:
            self.reject(number, text.strip(), str(e))
            return
        if normalised.invisible_removed:
            self.invisible_chars += normalised.invisible_removed
            self.invisible_lines += 1
        value = normalised.value
        if not value:
            self.report.skipped_blank += 1
            return
        ciphertext, key_id = self.encrypt(value, seller_id=self.seller_id)
        alt = None
        if self.folds and (folded := case_fold(value)) != value:
            alt = self.digest(folded)
        self.stage.add((number, self.digest(value), ciphertext, key_id, None, alt))
        self.report.valid += 1
        self.analyzer.feed(value)
        if len(self.report.sample) < 5:
            self.report.sample.append(mask(value))

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


def stage_lines(
    *,
    lines: Iterable[Line],
    seller_id: int,
    has_header: bool,
    encoding_name: Callable[[], str],
    progress: Callable[[int], None],
) -> tuple[Stage, ImportReport]:
    """Validate, digest, encrypt and stage every line. Raises ImportFailed."""
    stager = _LineStager(seller_id, encoding_name)
    stage, report = stager.stage, stager.report
    max_lines = settings.CODES_UPLOAD_MAX_LINES
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
        if number == 1 and has_header:
            continue
        stager.add(number, line.text)
        if len(stage.rows) >= FLUSH_ROWS:
            stage.flush()
            progress(number)
    stage.flush()
    progress(report.lines)
    return stage, stager.finish()


_MERGE_INTO = """
INSERT INTO codes_code (seller_id, listing_id, batch_id, line, digest, ciphertext, key_id,
                        status, approved, created_at)
"""
# The first line of a value wins; later lines become "duplicate of line N".
MERGE_CODES_SQL = {
    # DISTINCT ON keeps the earliest line per digest, and inserting in digest
    # order walks the (seller, digest) unique index in order: much faster than
    # random inserts into a big B-tree.
    "postgresql": f"""{_MERGE_INTO}
SELECT DISTINCT ON (digest) %s, %s, %s, line, digest, ciphertext, key_id, 'available', %s,
       CURRENT_TIMESTAMP
FROM {STAGE} WHERE digest IS NOT NULL AND dup_of IS NULL
ORDER BY digest, line
ON CONFLICT (seller_id, digest) DO NOTHING
""",
    "sqlite": f"""{_MERGE_INTO}
SELECT %s, %s, %s, line, digest, ciphertext, key_id, 'available', %s, CURRENT_TIMESTAMP
FROM {STAGE} WHERE digest IS NOT NULL AND dup_of IS NULL
ORDER BY line
ON CONFLICT (seller_id, digest) DO NOTHING
""",
}

REJECTED_SQL = f"""
INSERT INTO codes_batchissue (batch_id, line, kind, reason, ciphertext, key_id)
SELECT %s, line, 'rejected', reason, ciphertext, key_id FROM {STAGE} WHERE reason IS NOT NULL
"""

# A staged code whose digest belongs to a different (batch, line) is a duplicate:
# of an earlier line of this file, or of a code the seller already had.
DUPLICATES_SQL = f"""
INSERT INTO codes_batchissue (batch_id, line, kind, reason, ciphertext, key_id)
SELECT %s, s.line, 'duplicate',
       CASE WHEN c.batch_id = %s
            THEN REPLACE(%s, '{{line}}', CAST(c.line AS TEXT))
            ELSE REPLACE(REPLACE(%s, '{{batch}}', CAST(c.batch_id AS TEXT)),
                         '{{title}}', SUBSTR(l.title, 1, 120))
       END,
       s.ciphertext, s.key_id
FROM {STAGE} s
JOIN codes_code c ON c.seller_id = %s AND c.digest = s.digest
JOIN listings_listing l ON l.id = c.listing_id
WHERE s.digest IS NOT NULL AND s.dup_of IS NULL
  AND NOT (c.batch_id = %s AND c.line = s.line)
"""

# `_resolve_case`, for a batch of a case-insensitive listing: the listing stores the
# upper-cased form, so that becomes the staged digest (the form as uploaded moves to
# `alt`). A code is unique per seller across listings of both kinds, so a value the
# seller already has exactly as uploaded, in any listing, is a duplicate of that
# code. (Right-hand sides read the row as it was, on PostgreSQL and SQLite alike:
# the subquery sees the digest as uploaded.)
FOLD_CASE_SQL = f"""
UPDATE {STAGE} SET digest = alt, alt = digest,
    dup_of = (SELECT c.id FROM codes_code c
              WHERE c.seller_id = %s AND c.digest = {STAGE}.digest)
WHERE alt IS NOT NULL
"""

# For a batch of any other listing of such a seller: a value that one of the seller's
# case-insensitive listings holds in upper case is a duplicate of that code.
_HELD_FOLDED = f"""SELECT c.id FROM codes_code c
    JOIN listings_listing l ON l.id = c.listing_id
    WHERE c.seller_id = %s AND c.digest = {STAGE}.alt AND l.codes_case_insensitive"""
MARK_HELD_FOLDED_SQL = f"""
UPDATE {STAGE} SET dup_of = ({_HELD_FOLDED})
WHERE alt IS NOT NULL AND EXISTS ({_HELD_FOLDED})
"""

# Staged codes marked by either statement above, reported like other duplicates.
HELD_IN_OTHER_FORM_DUPLICATES_SQL = f"""
INSERT INTO codes_batchissue (batch_id, line, kind, reason, ciphertext, key_id)
SELECT %s, s.line, 'duplicate',
       REPLACE(REPLACE(%s, '{{batch}}', CAST(c.batch_id AS TEXT)),
               '{{title}}', SUBSTR(l.title, 1, 120)),
       s.ciphertext, s.key_id
FROM {STAGE} s
JOIN codes_code c ON c.id = s.dup_of
JOIN listings_listing l ON l.id = c.listing_id
WHERE s.dup_of IS NOT NULL
"""


# Staged codes new to this seller (those the merge is about to accept) whose digest
# another seller already holds, in any status (issue 12). Digests are keyed by one
# platform key, so equal codes have equal digests whoever uploaded them.
# - MAX(...) = 0: someone holds the code and it is not this seller. Neither NULL
#   (nobody holds it) nor 1 (this seller has it already, so the merge reports it
#   as a duplicate instead of accepting it) counts.
# - A correlated scalar subquery is one probe of code_digest_idx per staged code,
#   whatever the statistics say. Written as joins (EXISTS / NOT EXISTS, or a GROUP
#   BY), the same count made PostgreSQL hash all of a big seller's codes, or the
#   whole codes table when its statistics were stale (autovacuum is off here).
# - Probing in digest order (the ORDER BY keeps the subquery from being flattened)
#   walks the index leaf by leaf: ~30% faster than in line order on 100k codes.
# - It runs before the merge inserts this batch, so that a probe meets only other
#   batches' rows: a clean file costs one index probe per code and no heap visit.
# - DISTINCT: a code repeated in the file is one code.
FOREIGN_DUPLICATES_SQL = f"""
SELECT COUNT(DISTINCT s.digest)
FROM (SELECT digest FROM {STAGE} WHERE digest IS NOT NULL ORDER BY digest) s
WHERE (SELECT MAX(CASE WHEN c.seller_id = %s THEN 1 ELSE 0 END)
       FROM codes_code c WHERE c.digest = s.digest) = 0
"""
# The same count when some staged codes have a second, upper-cased form (`alt`: the
# seller has case-insensitive listings). It runs before the merge knows which form
# the batch's listing stores, so it reads both: a code counts when another seller
# holds it in either form and this seller in neither, and codes that differ only
# in case count once (COALESCE(alt, digest) is the upper-cased form's digest).
# Between sellers, codes that differ only in case are in practice one code.
# - Still one scalar subquery per staged code, now of two probes of
#   code_digest_idx, each `c.digest = <one value>`. Written as `c.digest IN
#   (s.digest, s.alt)`, the planner filtered the whole (seller, digest) index
#   instead when statistics were stale; with one subquery per form, it copied
#   both into the comparison and ran them twice.
FOREIGN_DUPLICATES_EITHER_FORM_SQL = f"""
SELECT COUNT(DISTINCT COALESCE(s.alt, s.digest))
FROM (SELECT digest, alt FROM {STAGE} WHERE digest IS NOT NULL ORDER BY digest) s
WHERE (SELECT MAX(h.mine)
       FROM (SELECT CASE WHEN c.seller_id = %s THEN 1 ELSE 0 END AS mine
             FROM codes_code c WHERE c.digest = s.digest
             UNION ALL
             SELECT CASE WHEN c.seller_id = %s THEN 1 ELSE 0 END
             FROM codes_code c WHERE c.digest = s.alt) h) = 0
"""


def _tune_merge_transaction(c: CursorWrapper) -> None:
    if connection.vendor != "postgresql":
        return
    # Don't wait for the WAL flush of a million rows at COMMIT. Should the
    # PostgreSQL server itself crash within the next few hundred ms, the whole
    # merge is lost atomically: the batch is `importing` again, the stalled-import
    # sweep re-runs it, and if its file was already deleted the seller is told
    # to upload it again. Never a partial batch, never a silent loss.
    c.execute("SET LOCAL synchronous_commit TO OFF")
    # Sort the staged lines in memory rather than in temp files.
    c.execute("SET LOCAL work_mem = '256MB'")


def count_foreign_duplicates(*, stage: Stage, seller_id: int) -> int:
    """How many staged codes, new to this seller, another seller already holds.

    One set-based query over the staging table, never one per code. Call it in
    the merge's transaction, before `merge_stage` inserts the codes it counts.
    Only a number comes out: nothing about the other sellers.
    """
    if not connection.in_atomic_block:
        raise RuntimeError(
            "count_foreign_duplicates must run inside the merge's transaction"
        )
    with connection.cursor() as c:
        _tune_merge_transaction(c)
        if stage.alternatives:
            c.execute(FOREIGN_DUPLICATES_EITHER_FORM_SQL, [seller_id, seller_id])
        else:
            c.execute(FOREIGN_DUPLICATES_SQL, [seller_id])
        row = c.fetchone()
    return int(row[0]) if row else 0


def _resolve_case(
    c: CursorWrapper, *, stage: Stage, listing_id: int, seller_id: int
) -> bool:
    """Make the staged digest the one the listing stores, and mark the staged codes
    that the seller holds in their other form. Returns whether the listing's codes
    are case-insensitive. Costs nothing more for a seller without such listings
    (nothing is staged in a second form)."""
    case_insensitive = (
        Listing.objects.filter(pk=listing_id)
        .values_list("codes_case_insensitive", flat=True)
        .get()
    )
    if case_insensitive and not stage.folds:
        # Not possible while the flag is fixed at creation; a re-run stages both forms.
        raise RuntimeError("a case-insensitive listing's batch was staged unfolded")
    if stage.alternatives:
        if case_insensitive:
            c.execute(FOLD_CASE_SQL, [seller_id])
        else:
            c.execute(MARK_HELD_FOLDED_SQL, [seller_id, seller_id])
    return case_insensitive


def merge_stage(
    *,
    stage: Stage,
    report: ImportReport,
    batch_id: int,
    listing_id: int,
    seller_id: int,
    approved: bool,
) -> None:
    """Move staged rows into codes and issues. Must run inside transaction.atomic()."""
    if not connection.in_atomic_block:
        raise RuntimeError("merge_stage must run inside a transaction")
    with connection.cursor() as c:
        _tune_merge_transaction(c)
        case_insensitive = _resolve_case(
            c, stage=stage, listing_id=listing_id, seller_id=seller_id
        )
        c.execute(
            MERGE_CODES_SQL[connection.vendor],
            [seller_id, listing_id, batch_id, approved],
        )
        report.accepted = c.rowcount
        c.execute(REJECTED_SQL, [batch_id])
        report.rejected = c.rowcount
        if report.accepted < report.valid:
            # Only when some staged code was not inserted is there anything to find:
            # a clean file skips a million index probes.
            # The reasons are translated here (the import runs in the seller's language)
            # and filled in by the database.
            in_file = _("Duplicate of line {line} in this file")
            elsewhere = _(
                'Duplicate of a code you already have (batch #{batch} of "{title}")'
            )
            c.execute(
                DUPLICATES_SQL,
                [batch_id, batch_id, in_file, elsewhere, seller_id, batch_id],
            )
            report.duplicates = c.rowcount
            if stage.alternatives:
                held = (
                    elsewhere
                    if case_insensitive  # the seller has this very value
                    else _(
                        "Duplicate of a code you already have, ignoring upper and "
                        'lower case (batch #{batch} of "{title}")'
                    )
                )
                c.execute(HELD_IN_OTHER_FORM_DUPLICATES_SQL, [batch_id, held])
                report.duplicates += c.rowcount
        if (
            report.accepted + report.duplicates != report.valid
        ):  # invariant 8: never a silent drop
            raise RuntimeError("import merge lost track of a staged line")


def discard_stage(stage: Stage) -> None:
    try:
        with transaction.atomic():
            stage.drop()
    except Exception:  # noqa: BLE001 - the connection may be gone after a crash; nothing to keep
        logger.warning("could not drop the import staging table", exc_info=False)
