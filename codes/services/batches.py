"""Batches of codes: created from an upload, the API or the generator, then reviewed
by staff (approve / reject) or withdrawn by their seller.

Creating a batch stores its file privately and queues its import after commit
(`codes.services.imports` runs it). Approval puts the batch's codes on sale.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from typing import IO, Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from codes import uploads
from codes.exceptions import CodesError
from codes.importing.generator import GeneratorOptions
from codes.models import Code, CodeBatch
from codes.services.imports import IMPORT_TASK
from codes.services.stats import codes_analyze_after
from codes.signals import codes_approved
from distribly.tasks import enqueue, enqueue_on_commit
from listings.models import Listing
from listings.services import (
    listing_stock_deferred,
    listing_stock_move,
    listing_sync_stock,
)

B = CodeBatch.Status
REVIEWED_TASK = "codes.tasks.email_batch_reviewed"


def batch_create_upload(
    *,
    listing: Listing,
    file: UploadedFile[bytes] | IO[bytes],
    filename: str,
    has_header: bool,
    source: str = CodeBatch.Source.UPLOAD,
) -> CodeBatch:
    """Store an uploaded file privately and queue its import (after commit)."""
    if isinstance(file, UploadedFile):
        chunks: Iterator[bytes] = file.chunks()
    else:
        chunks = iter(lambda: file.read(1 << 20), b"")
    name, size = uploads.upload_store(chunks)
    if size > settings.CODES_UPLOAD_MAX_BYTES:
        uploads.upload_delete(name)
        raise CodesError(
            _("The file is %(size).1f MB; the limit is %(limit).0f MB.")
            % {"size": size / 2**20, "limit": settings.CODES_UPLOAD_MAX_BYTES / 2**20}
        )
    try:
        with transaction.atomic():
            batch = CodeBatch.objects.create(
                listing=listing,
                seller_id=listing.seller_id,
                source=source,
                original_filename=filename[:255],
                upload_name=name,
                has_header=has_header,
                bytes_total=size,
            )
            enqueue_on_commit(IMPORT_TASK, batch.pk)
    except BaseException:
        uploads.upload_delete(name)
        raise
    return batch


def batch_create_generated(*, listing: Listing, options: GeneratorOptions) -> CodeBatch:
    options.validate(max_count=settings.CODES_GENERATE_MAX)
    with transaction.atomic():
        batch = CodeBatch.objects.create(
            listing=listing,
            seller_id=listing.seller_id,
            source=CodeBatch.Source.GENERATED,
            generator=options.as_dict(),
        )
        enqueue_on_commit(IMPORT_TASK, batch.pk)
    return batch


def batch_create_from_values(*, listing: Listing, values: list[str]) -> CodeBatch:
    """A batch from a list of values (the API's JSON body): stored like an upload."""
    data = "\n".join(v.replace("\r", " ").replace("\n", " ") for v in values).encode(
        "utf-8"
    )
    return batch_create_upload(
        listing=listing,
        file=io.BytesIO(data),
        filename="codes.json",
        has_header=False,
        source=CodeBatch.Source.API,
    )


A = CodeBatch.Action
ACTION_TASK = "codes.tasks.batch_action_run"


def _action_start(batch: CodeBatch, action: str, total: int) -> None:
    """Set a locked batch up for `action` over all its lines, from the start."""
    batch.pending_action = action
    batch.action_cursor = 0
    batch.action_end = (
        Code.objects.filter(batch_id=batch.pk).aggregate(end=Max("line"))["end"] or 0
    )
    batch.action_done = 0
    batch.action_total = total
    batch.action_heartbeat_at = timezone.now()


def _action_chunk(batch: CodeBatch) -> int:
    """One chunk of a locked batch's action: the codes of the next
    CODES_REVIEW_CHUNK lines (the (batch, line) index), with the stock counters and
    the cursor in the same transaction. Returns the codes changed."""
    lines = {
        "batch_id": batch.pk,
        "line__gt": batch.action_cursor,
        "line__lte": batch.action_cursor + settings.CODES_REVIEW_CHUNK,
        "status": Code.Status.AVAILABLE,
    }
    if batch.pending_action == A.APPROVE:
        changed = Code.objects.filter(**lines, approved=False).update(approved=True)
        listing_stock_move(listing_id=batch.listing_id, available=changed)
    else:  # withdraw: only approved codes were counted as stock
        now = timezone.now()
        on_sale = Code.objects.filter(**lines, approved=True).update(
            status=Code.Status.WITHDRAWN, status_changed_at=now
        )
        unreviewed = Code.objects.filter(**lines, approved=False).update(
            status=Code.Status.WITHDRAWN, status_changed_at=now
        )
        listing_stock_move(listing_id=batch.listing_id, available=-on_sale)
        changed = on_sale + unreviewed
    batch.action_cursor = min(
        batch.action_end, batch.action_cursor + settings.CODES_REVIEW_CHUNK
    )
    batch.action_done += changed
    batch.action_heartbeat_at = timezone.now()
    return changed


def _action_finish(batch: CodeBatch) -> None:
    """The action's last chunk is done (same transaction): tell who needs to know."""
    if batch.pending_action == A.APPROVE:
        enqueue_on_commit(REVIEWED_TASK, batch.pk)
        codes_approved.send(sender=CodeBatch, listing_id=batch.listing_id)
    batch.pending_action = A.NONE
    codes_analyze_after(batch.action_done)


def batch_action_step(batch_id: int) -> bool:
    """Run one chunk of a batch's pending action in its own transaction. Returns
    whether there is more to do. Safe to run twice at once (the batch's lock
    orders them) and after a crash (the cursor is committed with each chunk)."""
    with transaction.atomic():
        batch = CodeBatch.objects.select_for_update().get(pk=batch_id)
        if not batch.pending_action:
            return False
        _action_chunk(batch)
        done = batch.action_cursor >= batch.action_end
        if done:
            _action_finish(batch)
        batch.save()
        listing_sync_stock(listing_id=batch.listing_id)
    return not done


def batch_action_run(*, batch_id: int) -> None:
    """The task: run a batch's pending action to the end, chunk by chunk."""
    while batch_action_step(batch_id):
        pass


def batches_resume_actions() -> list[int]:
    """Batches whose action stopped (a worker died): queue them again. Runs every
    minute; a chunk takes well under CODES_IMPORT_STALE_SECONDS."""
    stale = timezone.now() - timedelta(seconds=settings.CODES_IMPORT_STALE_SECONDS)
    ids = list(
        CodeBatch.objects.exclude(pending_action=A.NONE)
        .filter(action_heartbeat_at__lt=stale)
        .values_list("pk", flat=True)
    )
    for batch_id in ids:
        enqueue(ACTION_TASK, batch_id)
    return ids


def _action_begin(batch: CodeBatch) -> bool:
    """Inside the caller's transaction, with `batch` locked and set up by
    _action_start: a batch of at most CODES_REVIEW_CHUNK codes is done now, all or
    nothing with the caller; a bigger one is queued to run in chunks after commit.
    Returns whether it is done."""
    if batch.action_total <= settings.CODES_REVIEW_CHUNK:
        # One counter move at the end: a file of few codes can still span many
        # chunks of lines, and buyers of the listing wait on its counter row.
        with listing_stock_deferred():
            while batch.action_cursor < batch.action_end:
                _action_chunk(batch)
            _action_finish(batch)
            batch.save()
        listing_sync_stock(listing_id=batch.listing_id)
        return True
    batch.save()
    enqueue_on_commit(ACTION_TASK, batch.pk)
    return False


def batch_approve(*, batch: CodeBatch, by: Any) -> CodeBatch:
    """Put a batch's available codes on sale; brings a sold-out listing back.

    A big batch is approved at once and its codes go on sale in chunks by a task
    (`pending_action`, with progress), each chunk a short transaction: one
    transaction over two million codes took longer than a web request may."""
    with transaction.atomic():
        batch = CodeBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status != B.IMPORTED or batch.pending_action:
            raise CodesError(
                _("Only imported batches can be approved (this one is %(status)s).")
                % {"status": batch.get_status_display().lower()}
            )
        batch.status = B.APPROVED
        batch.reviewed_at = timezone.now()
        batch.reviewed_by = by
        batch.review_note = ""
        _action_start(batch, A.APPROVE, batch.accepted)
        _action_begin(batch)
    return batch


def batch_reject(*, batch: CodeBatch, by: Any, reason: str) -> CodeBatch:
    """Reject an imported batch: its codes are withdrawn (and still block re-use),
    in chunks by a task for a big batch (they were never on sale meanwhile)."""
    reason = reason.strip()
    if not reason:
        raise CodesError(_("Give the seller a reason for the rejection."))
    with transaction.atomic():
        batch = CodeBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status != B.IMPORTED or batch.pending_action:
            raise CodesError(_("Only imported batches can be rejected."))
        batch.status = B.REJECTED
        batch.reviewed_at = timezone.now()
        batch.reviewed_by = by
        batch.review_note = reason
        _action_start(batch, A.WITHDRAW, batch.accepted)
        _action_begin(batch)
        enqueue_on_commit(REVIEWED_TASK, batch.pk)
    return batch


def batch_withdraw_unsold(*, batch: CodeBatch) -> int | None:
    """The seller takes the unsold codes of a batch off sale. Returns how many, or
    None when a task does it in chunks (the batch page shows its progress); an
    approval still running stops where it is."""
    with transaction.atomic():
        batch = CodeBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status not in (B.IMPORTED, B.APPROVED):
            raise CodesError(
                _("Only imported or approved batches have codes to withdraw.")
            )
        if batch.pending_action == A.WITHDRAW:
            return None
        # At most the accepted codes are unsold: enough to choose request or task.
        _action_start(batch, A.WITHDRAW, batch.accepted)
        if not _action_begin(batch):
            return None
    return batch.action_done


def codes_withdraw_surplus(*, listing: Listing, keep: int) -> int:
    """Withdraw the newest codes for sale beyond `keep` (demo data top-up)."""
    with transaction.atomic():
        for_sale = Code.objects.for_sale().filter(listing=listing)
        extra = list(for_sale.order_by("-id").values_list("id", flat=True)[keep:])
        count = Code.objects.filter(id__in=extra, status=Code.Status.AVAILABLE).update(
            status=Code.Status.WITHDRAWN, status_changed_at=timezone.now()
        )
        listing_stock_move(listing_id=listing.pk, available=-count)
        listing_sync_stock(listing_id=listing.pk)
    return count
