from __future__ import annotations

from django.core.mail import EmailMultiAlternatives

from distribly.emails import make_message

from .models import CodeBatch


def batch_reviewed_message(batch: CodeBatch) -> EmailMultiAlternatives:
    return make_message(
        "batch-reviewed",
        batch.seller.email,
        {
            "batch": batch,
            "listing": batch.listing,
            "approved": batch.status == CodeBatch.Status.APPROVED,
        },
        batch.seller.language,
    )
