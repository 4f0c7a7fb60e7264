"""Batches of codes: created from an upload, the API or the generator, then reviewed
by staff (approve / reject) or withdrawn by their seller.

Creating a batch stores its file privately and queues its import after commit
(`codes.services.imports` runs it). Approval puts the batch's codes on sale.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import IO, Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from codes import uploads
from codes.exceptions import CodesError
from codes.importing.generator import GeneratorOptions
from codes.models import Code, CodeBatch
from codes.services.imports import IMPORT_TASK
from codes.signals import codes_approved
from distribly.tasks import enqueue_on_commit
from listings.models import Listing
from listings.services import listing_sync_stock

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
        enqueue_on_commit(REVIEWED_TASK, batch.pk)
        codes_approved.send(sender=CodeBatch, listing_id=batch.listing_id)
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
        enqueue_on_commit(REVIEWED_TASK, batch.pk)
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
        for_sale = Code.objects.for_sale().filter(listing=listing)
        extra = list(for_sale.order_by("-id").values_list("id", flat=True)[keep:])
        count = Code.objects.filter(id__in=extra, status=Code.Status.AVAILABLE).update(
            status=Code.Status.WITHDRAWN, status_changed_at=timezone.now()
        )
        listing_sync_stock(listing_id=listing.pk)
    return count
