"""Code values leaving the vault: one code shown to its seller, or a batch's codes
or reported lines downloaded. Each is recorded in the audit trail (CodeReveal)
before a single value is produced. Callers check ownership first.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.utils.translation import gettext as _

from codes.crypto import get_keyring
from codes.exceptions import CodesError
from codes.models import BatchIssue, Code, CodeBatch, CodeReveal

B = CodeBatch.Status
EXPORT_CHUNK = 5000

ExportRow = tuple[int, str, str]


def code_reveal(*, code: Code, user: Any, ip: str | None, kind: str) -> str:
    """The plaintext of one code, recorded in the audit trail. Callers check ownership."""
    CodeReveal.objects.create(
        user=user, kind=kind, batch_id=code.batch_id, code=code, ip=ip
    )
    return code.reveal()


def batch_codes_export(
    *, batch: CodeBatch, user: Any, ip: str | None
) -> Iterator[ExportRow]:
    """(line, code, status) of every code of a generated batch.

    Not a generator itself: the checks run and the audit row is written when this
    is called, before the response starts; only decryption streams.
    """
    if batch.source != CodeBatch.Source.GENERATED:
        raise CodesError(
            _(
                "Only generated batches can be downloaded: you already have the codes you uploaded."
            )
        )
    if batch.status not in (B.IMPORTED, B.APPROVED, B.REJECTED):
        raise CodesError(_("The codes are not ready yet."))
    CodeReveal.objects.create(
        user=user,
        kind=CodeReveal.Kind.BATCH_DOWNLOAD,
        batch=batch,
        count=batch.accepted,
        ip=ip,
    )
    rows = (
        Code.objects.filter(batch=batch)
        .order_by("line")
        .values_list("line", "ciphertext", "key_id", "status")
    )
    return _decrypted(rows, seller_id=batch.seller_id)


def batch_issues_export(
    *, batch: CodeBatch, user: Any, ip: str | None
) -> Iterator[ExportRow]:
    """(line, reason, original text) of every reported line; audited when called."""
    CodeReveal.objects.create(
        user=user,
        kind=CodeReveal.Kind.REJECTED_DOWNLOAD,
        batch=batch,
        count=batch.rejected + batch.duplicates,
        ip=ip,
    )
    rows = (
        BatchIssue.objects.filter(batch=batch)
        .order_by("line")
        .values_list("line", "ciphertext", "key_id", "reason")
    )
    return (
        (line, reason, text)
        for line, text, reason in _decrypted(rows, seller_id=batch.seller_id)
    )


def _decrypted(rows: Any, *, seller_id: int) -> Iterator[ExportRow]:
    """(line, plaintext, extra) from (line, ciphertext, key_id, extra) rows, streamed."""
    keyring = get_keyring()
    for line, blob, key_id, extra in rows.iterator(chunk_size=EXPORT_CHUNK):
        text = (
            ""
            if blob is None
            else keyring.decrypt(blob, key_id=key_id, seller_id=seller_id)
        )
        yield line, text, extra
