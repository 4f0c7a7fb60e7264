"""Reads about codes that views need and that are more than one filter."""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.db.models import Count

from codes.models import Code, CodeBatch


def buyer_email_for(code: Code) -> str:
    """The buyer's email of a sold code, for Validate a code.

    Orders belong to sales, a layer above codes, so the model is read through the
    app registry rather than imported: the one read that crosses the layers upward.
    """
    if code.order_id is None:
        return ""
    order_model = apps.get_model("sales", "Order")
    email: str | None = (
        order_model.objects.filter(pk=code.order_id)
        .values_list("email", flat=True)
        .first()
    )
    return email or ""


@dataclass(frozen=True)
class ForeignHolder:
    """Another seller's batch holding some of a batch's codes. Staff only."""

    batch_id: int
    listing_id: int
    listing_title: str
    seller_email: str
    common: int  # codes of the reviewed batch that this other batch also holds


def batch_foreign_holders(*, batch: CodeBatch, limit: int = 50) -> list[ForeignHolder]:
    """Other sellers' batches that hold codes of `batch`, most codes in common first.

    For staff review of a batch with foreign duplicates (issue 12); never shown to
    the batch's seller, who learns only the count. One query: the batch's digests
    (code_batch_line_idx) matched against everyone's (code_digest_idx), grouped by
    the other batch; nothing is decrypted. That is one index probe per code of the
    batch (~0.8 s for 100k codes against 1M), so batches without any foreign
    duplicates found at import (or never checked) skip the query.
    """
    if not batch.foreign_duplicates:
        return []
    own_digests = Code.objects.filter(batch_id=batch.pk).values("digest")
    rows = (
        Code.objects.filter(digest__in=own_digests)
        .exclude(seller_id=batch.seller_id)
        .values("batch_id", "listing_id", "listing__title", "seller__email")
        .annotate(common=Count("id"))
        .order_by("-common", "batch_id")[:limit]
    )
    return [
        ForeignHolder(
            batch_id=row["batch_id"],
            listing_id=row["listing_id"],
            listing_title=row["listing__title"],
            seller_email=row["seller__email"],
            common=row["common"],
        )
        for row in rows
    ]
