"""Running a batch's import: claim it, read and merge every line, report.

Every line is accepted or reported (DESIGN invariant 8). A worker claims a batch
with a conditional UPDATE and a token, beats a heartbeat while reading, and
merges in one transaction that commits only if it still holds that token, so a
crash at any point leaves no partial codes behind and a stale claim is simply run
again. (On PostgreSQL the file is read while that transaction is open, to overlap
reading with merging: see codes/importing/engine.py.)
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from codes import uploads
from codes.crypto import DecryptionError
from codes.importing.engine import ImportFailed, ImportJob
from codes.importing.generator import GeneratorOptions, generate
from codes.importing.reader import Line, ReadState, UnreadableFile, iter_lines
from codes.models import CodeBatch
from codes.services.stats import codes_analyze_after
from codes.signals import codes_approved
from distribly.tasks import enqueue
from listings.services import listing_stock_move, listing_sync_stock

logger = logging.getLogger(__name__)

B = CodeBatch.Status
IMPORT_TASK = "codes.tasks.code_batch_import"
MAX_ATTEMPTS = 3
PROGRESS_EVERY_SECONDS = 0.5


def _stale_after() -> timedelta:
    """An import whose worker has not reported progress for this long is presumed dead."""
    return timedelta(seconds=settings.CODES_IMPORT_STALE_SECONDS)


def _claim(batch_id: int) -> str | None:
    """Claim a batch for import; None if another worker holds it or it is done."""
    token = uuid.uuid4().hex
    now = timezone.now()
    claimable = Q(status=B.RECEIVED) | Q(
        status=B.IMPORTING, heartbeat_at__lt=now - _stale_after()
    )
    claimed = CodeBatch.objects.filter(claimable, pk=batch_id).update(
        status=B.IMPORTING,
        import_token=token,
        heartbeat_at=now,
        import_attempts=F("import_attempts") + 1,
        lines_processed=0,
        bytes_processed=0,
    )
    return token if claimed == 1 else None


def code_batch_import(*, batch_id: int) -> CodeBatch:
    """Import one batch: every line accepted or reported (DESIGN invariant 8).

    Idempotent: a finished batch is left alone, a batch another worker is
    importing (fresh heartbeat) is skipped, and a stale one is re-run from the
    start. The merge happens in one transaction guarded by the claim token, so
    a crash at any point leaves no partial codes behind.
    """
    token = _claim(batch_id)
    batch = CodeBatch.objects.select_related("listing", "seller").get(pk=batch_id)
    if token is None:
        return batch
    # Reasons and warnings are stored as text: write them in the seller's language.
    with translation.override(batch.seller.language or settings.LANGUAGE_CODE):
        return _import_claimed(batch, token)


class _Heartbeat:
    """The progress callback: records lines and bytes read at most every
    PROGRESS_EVERY_SECONDS, while this worker still holds the claim.

    It writes through the connection of the thread that calls it. On PostgreSQL the
    engine reads the file while the import's transaction is open, and calls it from
    its reader thread, whose own connection commits each beat: inside the
    transaction a beat would stay invisible until the end, and the stalled-import
    sweep would take the batch for dead.
    """

    def __init__(self, batch_id: int, token: str) -> None:
        self.batch_id = batch_id
        self.token = token
        self.last_beat = timezone.now()

    def __call__(self, lines: int, bytes_read: int) -> None:
        now = timezone.now()
        if (now - self.last_beat).total_seconds() < PROGRESS_EVERY_SECONDS:
            return
        self.last_beat = now
        CodeBatch.objects.filter(pk=self.batch_id, import_token=self.token).update(
            lines_processed=lines, bytes_processed=bytes_read, heartbeat_at=now
        )


@contextmanager
def _lines_of(batch: CodeBatch, state: ReadState) -> Iterator[Iterator[Line]]:
    """The batch's numbered lines: its file's, or the generator's."""
    if batch.source == CodeBatch.Source.GENERATED:
        options = GeneratorOptions(**batch.generator)
        yield (
            Line(number, value)
            for number, value in enumerate(generate(options), start=1)
        )
        return
    try:
        handle = uploads.upload_open(batch.upload_name)
    except OSError as e:
        raise ImportFailed(
            _("The uploaded file is no longer available; please upload it again.")
        ) from e
    with handle:
        yield iter_lines(handle, state)


def _still_claimed(batch_id: int, token: str) -> bool:
    return CodeBatch.objects.filter(
        pk=batch_id, import_token=token, status=B.IMPORTING
    ).exists()


def _merge(batch: CodeBatch, token: str, job: ImportJob, state: ReadState) -> CodeBatch:
    """Merge the lines and record the report, if this worker still holds the claim.

    The codes, their issues and the batch's result commit together. Codes that
    another seller already holds are counted in the same transaction (issue 12).
    Such a batch waits for staff even when its seller is trusted: resold or leaked
    codes may not work for buyers.
    """
    with transaction.atomic():
        if not _still_claimed(batch.pk, token):
            logger.warning(
                "batch %s: claim lost to another worker, discarding", batch.pk
            )
            return CodeBatch.objects.get(pk=batch.pk)
        report = job.merge()
        locked = CodeBatch.objects.select_for_update().get(pk=batch.pk)
        if locked.import_token != token or locked.status != B.IMPORTING:
            logger.warning(
                "batch %s: claim lost to another worker, discarding", batch.pk
            )
            transaction.set_rollback(True)
            return locked
        auto_approve = report.approved
        locked.foreign_duplicates = report.foreign_duplicates
        if auto_approve:
            listing_stock_move(listing_id=batch.listing_id, available=report.accepted)
            # On sale now, as after staff approve: backorders get these codes first.
            codes_approved.send(sender=CodeBatch, listing_id=batch.listing_id)
        now = timezone.now()
        locked.status = B.APPROVED if auto_approve else B.IMPORTED
        if auto_approve:
            locked.reviewed_at = now
            locked.review_note = "Approved automatically: trusted seller."
        locked.accepted = report.accepted
        locked.duplicates = report.duplicates
        locked.rejected = report.rejected
        locked.skipped_blank = report.skipped_blank
        locked.lines_processed = report.lines
        locked.bytes_processed = state.bytes_read or locked.bytes_total
        locked.encoding = (
            state.encoding if batch.source != CodeBatch.Source.GENERATED else ""
        )
        locked.warnings = report.warnings
        locked.analysis = report.analysis
        locked.sample = report.sample
        locked.imported_at = now
        locked.heartbeat_at = now
        locked.upload_name = ""
        locked.save()
        # The plaintext file goes first and whatever happens after: robust callbacks
        # run even when another one fails.
        transaction.on_commit(
            lambda: uploads.upload_delete(batch.upload_name), robust=True
        )
        if auto_approve:
            transaction.on_commit(
                lambda: listing_sync_stock(listing_id=batch.listing_id), robust=True
            )
        codes_analyze_after(report.accepted)
    return locked


def _import_claimed(batch: CodeBatch, token: str) -> CodeBatch:
    state = ReadState()
    beat = _Heartbeat(batch.pk, token)
    job: ImportJob | None = None
    try:
        with _lines_of(batch, state) as lines:
            job = ImportJob(
                lines=lines,
                state=state,
                batch_id=batch.pk,
                listing_id=batch.listing_id,
                seller_id=batch.seller_id,
                has_header=batch.has_header,
                generated=batch.source == CodeBatch.Source.GENERATED,
                trusted=batch.seller.is_trusted_seller,
                progress=beat,
            )
            job.stage()
            return _merge(batch, token, job, state)
    except (ImportFailed, UnreadableFile) as e:
        return _fail(batch.pk, token, str(e), upload_name=batch.upload_name)
    except DecryptionError:  # the stored file was damaged or its key removed
        message = _("The uploaded file could not be read back; please upload it again.")
        return _fail(batch.pk, token, message, upload_name=batch.upload_name)
    except Exception:
        # A crash on our side (database gone, a bug). Never log values: only the id.
        logger.exception(
            "batch %s: import crashed (attempt %s)", batch.pk, batch.import_attempts + 1
        )
        if batch.import_attempts + 1 >= MAX_ATTEMPTS:
            _fail(
                batch.pk,
                token,
                _(
                    "The import failed on our side and our team has been told. Please try again later."
                ),
                upload_name=batch.upload_name,
            )
        else:  # hand it back so that a retry (or the stalled-import sweep) runs it again
            CodeBatch.objects.filter(pk=batch.pk, import_token=token).update(
                status=B.RECEIVED
            )
        raise
    finally:
        if job is not None:
            job.discard()


def _fail(batch_id: int, token: str, reason: str, *, upload_name: str) -> CodeBatch:
    CodeBatch.objects.filter(pk=batch_id, import_token=token).update(
        status=B.FAILED,
        failure_reason=reason,
        heartbeat_at=timezone.now(),
        upload_name="",
    )
    uploads.upload_delete(upload_name)
    return CodeBatch.objects.get(pk=batch_id)


def batches_resume_stalled() -> list[int]:
    """Re-queue batches whose import never started or whose worker died."""
    now = timezone.now()
    stalled = CodeBatch.objects.filter(
        Q(status=B.RECEIVED, created_at__lt=now - _stale_after())
        | Q(status=B.IMPORTING, heartbeat_at__lt=now - _stale_after())
    ).values_list("pk", flat=True)
    ids = list(stalled[:100])
    for batch_id in ids:
        enqueue(IMPORT_TASK, batch_id)
    return ids
