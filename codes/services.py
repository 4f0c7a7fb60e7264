"""Writes to the code inventory: batches, imports, review, withdrawal, key rotation.

`codes/` owns every write to Code rows (STYLE.md 9.1). Import work runs in a
Celery task that takes only a batch id; `code_batch_import` is safe to run twice.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from listings.models import Listing
from listings.services import listing_sync_stock

from . import importer
from .crypto import get_keyring
from .exceptions import CodesError, OutOfStock
from .generator import GeneratorOptions, generate
from .models import BatchIssue, Code, CodeBatch, CodeReveal
from .reader import Line, ReadState, UnreadableFile, iter_lines
from .tasks import code_batch_import as code_batch_import_task
from .tasks import email_batch_reviewed as email_batch_reviewed_task

logger = logging.getLogger(__name__)

B = CodeBatch.Status


def _stale_after() -> timedelta:
    """An import whose worker has not reported progress for this long is presumed dead."""
    return timedelta(seconds=settings.CODES_IMPORT_STALE_SECONDS)


MAX_ATTEMPTS = 3
PROGRESS_EVERY_SECONDS = 0.5


def _upload_path(name: str) -> Path:
    return Path(settings.PRIVATE_UPLOAD_ROOT) / name


def _store_upload(chunks: Iterator[bytes]) -> tuple[str, int]:
    name = f"batches/{uuid.uuid4().hex}.upload"
    path = _upload_path(name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    size = 0
    with open(path, "xb") as out:
        path.chmod(0o600)
        for chunk in chunks:
            size += len(chunk)
            out.write(chunk)
    return name, size


def batch_create_upload(
    *,
    listing: Listing,
    file: UploadedFile | IO[bytes],
    filename: str,
    has_header: bool,
    source: str = CodeBatch.Source.UPLOAD,
) -> CodeBatch:
    """Store an uploaded file privately and queue its import (after commit)."""
    if isinstance(file, UploadedFile):
        chunks: Iterator[bytes] = file.chunks()
    else:
        chunks = iter(lambda: file.read(1 << 20), b"")
    name, size = _store_upload(chunks)
    if size > settings.CODES_UPLOAD_MAX_BYTES:
        _upload_path(name).unlink(missing_ok=True)
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
            code_batch_import_task.delay_on_commit(batch.pk)
    except BaseException:
        _upload_path(name).unlink(missing_ok=True)
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
        code_batch_import_task.delay_on_commit(batch.pk)
    return batch


def batch_create_from_values(*, listing: Listing, values: list[str]) -> CodeBatch:
    """A batch from a list of values (the API's JSON body): stored like an upload."""
    data = "\n".join(v.replace("\r", " ").replace("\n", " ") for v in values).encode(
        "utf-8"
    )
    return batch_create_upload(
        listing=listing,
        file=_BytesReader(data),
        filename="codes.json",
        has_header=False,
        source=CodeBatch.Source.API,
    )


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self._data, self._pos = data, 0

    def read(self, n: int = -1) -> bytes:
        end = len(self._data) if n < 0 else self._pos + n
        chunk = self._data[self._pos : end]
        self._pos += len(chunk)
        return chunk


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


def _generated_lines(options: GeneratorOptions) -> Iterator[Line]:
    for number, value in enumerate(generate(options), start=1):
        yield Line(number, value)


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


def _import_claimed(batch: CodeBatch, token: str) -> CodeBatch:
    batch_id = batch.pk

    state = ReadState()
    last_beat = [timezone.now()]

    def progress(lines: int) -> None:
        now = timezone.now()
        if (now - last_beat[0]).total_seconds() < PROGRESS_EVERY_SECONDS:
            return
        last_beat[0] = now
        CodeBatch.objects.filter(pk=batch_id, import_token=token).update(
            lines_processed=lines, bytes_processed=state.bytes_read, heartbeat_at=now
        )

    stage = None
    try:
        if batch.source == CodeBatch.Source.GENERATED:
            lines: Iterator[Line] = _generated_lines(
                GeneratorOptions(**batch.generator)
            )
            handle = None
        else:
            try:
                handle = open(_upload_path(batch.upload_name), "rb")  # noqa: SIM115
            except OSError as e:
                raise importer.ImportFailed(
                    _(
                        "The uploaded file is no longer available; please upload it again."
                    )
                ) from e
            lines = iter_lines(handle, state)
        try:
            stage, report = importer.stage_lines(
                lines=lines,
                seller_id=batch.seller_id,
                has_header=batch.has_header,
                encoding_name=lambda: state.encoding.upper(),
                progress=progress,
            )
        finally:
            if handle is not None:
                handle.close()
        auto_approve = batch.seller.is_trusted_seller
        with transaction.atomic():
            locked = CodeBatch.objects.select_for_update().get(pk=batch_id)
            if locked.import_token != token or locked.status != B.IMPORTING:
                logger.warning(
                    "batch %s: claim lost to another worker, discarding", batch_id
                )
                return locked
            importer.merge_stage(
                stage=stage,
                report=report,
                batch_id=batch_id,
                listing_id=batch.listing_id,
                seller_id=batch.seller_id,
                approved=auto_approve,
            )
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
            if auto_approve:
                transaction.on_commit(
                    lambda: listing_sync_stock(listing_id=batch.listing_id)
                )
            transaction.on_commit(lambda: _delete_upload(batch.upload_name))
        return locked
    except (importer.ImportFailed, UnreadableFile) as e:
        return _fail(batch_id, token, str(e), upload_name=batch.upload_name)
    except Exception:
        # A crash on our side (database gone, a bug). Never log values: only the id.
        logger.exception(
            "batch %s: import crashed (attempt %s)", batch_id, batch.import_attempts + 1
        )
        if batch.import_attempts + 1 >= MAX_ATTEMPTS:
            _fail(
                batch_id,
                token,
                _(
                    "The import failed on our side and our team has been told. Please try again later."
                ),
                upload_name=batch.upload_name,
            )
        else:  # hand it back so that a retry (or the stalled-import sweep) runs it again
            CodeBatch.objects.filter(pk=batch_id, import_token=token).update(
                status=B.RECEIVED
            )
        raise
    finally:
        if stage is not None:
            importer.discard_stage(stage)


def _delete_upload(name: str) -> None:
    if name:
        _upload_path(name).unlink(missing_ok=True)


def _fail(batch_id: int, token: str, reason: str, *, upload_name: str) -> CodeBatch:
    CodeBatch.objects.filter(pk=batch_id, import_token=token).update(
        status=B.FAILED,
        failure_reason=reason,
        heartbeat_at=timezone.now(),
        upload_name="",
    )
    _delete_upload(upload_name)
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
        code_batch_import_task.delay(batch_id)
    return ids


def batch_approve(*, batch: CodeBatch, by: Any) -> CodeBatch:
    """Put a batch's available codes on sale; brings a sold-out listing back."""
    with transaction.atomic():
        batch = CodeBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status != B.IMPORTED:
            raise CodesError(
                _("Only imported batches can be approved (this one is %(status)s).")
                % {"status": batch.get_status_display().lower()}
            )
        Code.objects.filter(batch=batch, status=Code.Status.AVAILABLE).update(
            approved=True
        )
        batch.status = B.APPROVED
        batch.reviewed_at = timezone.now()
        batch.reviewed_by = by
        batch.review_note = ""
        batch.save()
        listing_sync_stock(listing_id=batch.listing_id)
        email_batch_reviewed_task.delay_on_commit(batch.pk)
    return batch


def batch_reject(*, batch: CodeBatch, by: Any, reason: str) -> CodeBatch:
    """Reject an imported batch: its codes are withdrawn (and still block re-use)."""
    reason = reason.strip()
    if not reason:
        raise CodesError(_("Give the seller a reason for the rejection."))
    with transaction.atomic():
        batch = CodeBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status != B.IMPORTED:
            raise CodesError(_("Only imported batches can be rejected."))
        _withdraw(batch)
        batch.status = B.REJECTED
        batch.reviewed_at = timezone.now()
        batch.reviewed_by = by
        batch.review_note = reason
        batch.save()
        email_batch_reviewed_task.delay_on_commit(batch.pk)
    return batch


def _withdraw(batch: CodeBatch) -> int:
    return Code.objects.filter(batch=batch, status=Code.Status.AVAILABLE).update(
        status=Code.Status.WITHDRAWN, status_changed_at=timezone.now()
    )


def batch_withdraw_unsold(*, batch: CodeBatch) -> int:
    """The seller takes the unsold codes of a batch off sale. Returns how many."""
    with transaction.atomic():
        batch = CodeBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status not in (B.IMPORTED, B.APPROVED):
            raise CodesError(
                _("Only imported or approved batches have codes to withdraw.")
            )
        count = _withdraw(batch)
        listing_sync_stock(listing_id=batch.listing_id)
    return count


def codes_withdraw_surplus(*, listing: Listing, keep: int) -> int:
    """Withdraw the newest codes for sale beyond `keep` (demo data top-up)."""
    with transaction.atomic():
        for_sale = Code.objects.filter(
            listing=listing, status=Code.Status.AVAILABLE, approved=True
        )
        extra = list(for_sale.order_by("-id").values_list("id", flat=True)[keep:])
        count = Code.objects.filter(id__in=extra, status=Code.Status.AVAILABLE).update(
            status=Code.Status.WITHDRAWN, status_changed_at=timezone.now()
        )
        listing_sync_stock(listing_id=listing.pk)
    return count


def _audit(
    *, user: Any, kind: str, batch: CodeBatch, count: int, ip: str | None
) -> None:
    CodeReveal.objects.create(user=user, kind=kind, batch=batch, count=count, ip=ip)


def batch_codes_export(
    *, batch: CodeBatch, user: Any, ip: str | None
) -> Iterator[tuple[int, str, str]]:
    """(line, code, status) of every code of a generated batch, audited."""
    if batch.source != CodeBatch.Source.GENERATED:
        raise CodesError(
            _(
                "Only generated batches can be downloaded: you already have the codes you uploaded."
            )
        )
    if batch.status not in (B.IMPORTED, B.APPROVED, B.REJECTED):
        raise CodesError(_("The codes are not ready yet."))
    _audit(
        user=user,
        kind=CodeReveal.Kind.BATCH_DOWNLOAD,
        batch=batch,
        count=batch.accepted,
        ip=ip,
    )
    keyring = get_keyring()
    rows = (
        Code.objects.filter(batch=batch)
        .order_by("line")
        .values_list("line", "ciphertext", "key_id", "status")
    )
    for line, blob, key_id, status in rows.iterator(chunk_size=5000):
        yield (
            line,
            keyring.decrypt(blob, key_id=key_id, seller_id=batch.seller_id),
            status,
        )


def batch_issues_export(
    *, batch: CodeBatch, user: Any, ip: str | None
) -> Iterator[tuple[int, str, str]]:
    """(line, reason, original text) of every reported line, audited."""
    _audit(
        user=user,
        kind=CodeReveal.Kind.REJECTED_DOWNLOAD,
        batch=batch,
        count=batch.rejected + batch.duplicates,
        ip=ip,
    )
    keyring = get_keyring()
    rows = (
        BatchIssue.objects.filter(batch=batch)
        .order_by("line")
        .values_list("line", "reason", "ciphertext", "key_id")
    )
    for line, reason, blob, key_id in rows.iterator(chunk_size=5000):
        text = (
            keyring.decrypt(blob, key_id=key_id, seller_id=batch.seller_id)
            if blob is not None
            else ""
        )
        yield line, reason, text


def codes_rotate_keys(*, chunk: int = 2000) -> int:
    """Re-encrypt every code and reported line not under the primary key. Resumable."""
    keyring = get_keyring()
    total = 0
    for model in (Code, BatchIssue):
        while True:
            with transaction.atomic():
                rows = list(
                    model.objects.select_for_update(skip_locked=True)
                    .exclude(key_id=keyring.primary_id)
                    .exclude(key_id__isnull=True)
                    .select_related("batch")
                    .order_by("pk")[:chunk]
                )
                if not rows:
                    break
                for row in rows:
                    seller_id = (
                        row.seller_id if isinstance(row, Code) else row.batch.seller_id
                    )
                    value = keyring.decrypt(
                        row.ciphertext, key_id=row.key_id, seller_id=seller_id
                    )
                    row.ciphertext, row.key_id = keyring.encrypt(
                        value, seller_id=seller_id
                    )
                model.objects.bulk_update(rows, ["ciphertext", "key_id"])
                total += len(rows)
    return total


# --- Allocation (called by sales; DESIGN "Allocation") ---------------------------------


def codes_allocate(
    *, listing_id: int, order_id: int, quantity: int, reserved_until: Any
) -> list[int]:
    """Reserve `quantity` codes for sale of a listing for an order. Returns their ids.

    Must run inside the caller's transaction (sales.services.order_place or a
    payment confirmation). Picks candidates with `FOR UPDATE SKIP LOCKED` over the
    partial index of codes for sale, so concurrent buyers never queue behind each
    other, then claims them with a conditional UPDATE and checks the count: on
    SQLite, where FOR UPDATE is a no-op, IMMEDIATE transactions plus that check
    keep a code from being reserved twice. Raises OutOfStock (the caller's
    transaction then rolls back).
    """
    assert connection.in_atomic_block, "codes_allocate must run inside a transaction"
    ids = list(
        Code.objects.filter(
            listing_id=listing_id, status=Code.Status.AVAILABLE, approved=True
        )
        .order_by("id")
        .select_for_update(skip_locked=True)
        .values_list("id", flat=True)[:quantity]
    )
    if len(ids) < quantity:
        raise OutOfStock()
    updated = Code.objects.filter(id__in=ids, status=Code.Status.AVAILABLE).update(
        status=Code.Status.RESERVED,
        order_id=order_id,
        reserved_until=reserved_until,
        status_changed_at=timezone.now(),
    )
    if updated != quantity:  # somebody else claimed one between our read and write
        raise OutOfStock()
    return ids


def codes_release(*, order_id: int) -> int:
    """Return an order's reserved (never sold) codes to stock. Idempotent."""
    return Code.objects.filter(order_id=order_id, status=Code.Status.RESERVED).update(
        status=Code.Status.AVAILABLE,
        order_id=None,
        reserved_until=None,
        status_changed_at=timezone.now(),
    )


def codes_mark_sold(*, order_id: int) -> int:
    """Turn an order's reservations into sales. Returns how many were sold now.

    The caller holds the order's lock, which every release of a reservation also
    takes, so the reserved codes cannot change under it.
    """
    now = timezone.now()
    return Code.objects.filter(order_id=order_id, status=Code.Status.RESERVED).update(
        status=Code.Status.SOLD, reserved_until=None, sold_at=now, status_changed_at=now
    )


def codes_cancel(
    *, order_id: int, code_ids: list[int] | None = None, reason: str = ""
) -> list[int]:
    """Cancel sold or redeemed codes of an order (refund, revocation). They are never
    sold again, and the seller's webhook hears `code.cancelled` for each. Returns the
    ids cancelled now; already-cancelled ones are skipped."""
    from .webhooks import webhook_emit

    qs = Code.objects.filter(
        order_id=order_id, status__in=[Code.Status.SOLD, Code.Status.REDEEMED]
    )
    if code_ids is not None:
        qs = qs.filter(id__in=code_ids)
    codes = list(qs.select_for_update().select_related("listing").order_by("id"))
    now = timezone.now()
    Code.objects.filter(id__in=[c.pk for c in codes]).update(
        status=Code.Status.CANCELLED, status_changed_at=now, cancel_reason=reason[:300]
    )
    for code in codes:
        webhook_emit(
            seller_id=code.seller_id,
            event="code.cancelled",
            code=code,
            data={
                "listing": {"id": code.listing_id, "title": code.listing.title},
                "reason": reason,
                "order_id": order_id,
            },
        )
    return [c.pk for c in codes]


def codes_emit_sold(*, order_id: int, seller_id: int, buyer_email: str) -> int:
    """Tell the seller's webhook about each code sold to an order (`code.sold`).

    One query when the seller has no webhook endpoint (most sellers): this runs
    inside every payment confirmation.
    """
    from .models import WebhookDelivery, WebhookEndpoint
    from .webhooks import webhook_emit

    if not WebhookEndpoint.objects.filter(seller_id=seller_id, active=True).exists():
        return 0
    announced = WebhookDelivery.objects.filter(
        event="code.sold", code__order_id=order_id
    ).values("code_id")
    codes = list(
        Code.objects.filter(order_id=order_id, status=Code.Status.SOLD)
        .exclude(id__in=announced)  # safe to run twice
        .select_related("listing")
    )
    for code in codes:
        webhook_emit(
            seller_id=code.seller_id,
            event="code.sold",
            code=code,
            data={
                "listing": {"id": code.listing_id, "title": code.listing.title},
                "order_id": order_id,
                "buyer_email": buyer_email,
                "sold_at": code.sold_at.isoformat() if code.sold_at else None,
            },
        )
    return len(codes)


def code_reveal(*, code: Code, user: Any, ip: str | None, kind: str) -> str:
    """The plaintext of one code, recorded in the audit trail. Callers check ownership."""
    CodeReveal.objects.create(
        user=user, kind=kind, batch_id=code.batch_id, code=code, ip=ip
    )
    return code.reveal()
