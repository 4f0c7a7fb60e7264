from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from codes.exceptions import CodesError
from codes.models import BatchIssue, CodeBatch
from codes.services.batches import batch_create_upload
from codes.services.imports import code_batch_import
from listings.models import Listing


def batch_summary(batch: CodeBatch) -> dict[str, Any]:
    """The stable --json shape of DESIGN.md."""
    issues = batch.issues.order_by("line").values_list("line", "kind", "reason")
    duplicates: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    for line, kind, reason in issues.iterator(chunk_size=5000):
        (duplicates if kind == BatchIssue.Kind.DUPLICATE else rejected).append(
            {"line": line, "reason": reason}
        )
    return {
        "batch": batch.pk,
        "status": batch.status,
        "accepted": batch.accepted,
        "duplicates": duplicates,
        "rejected": rejected,
        "skipped_blank": batch.skipped_blank,
        "warnings": [*batch.analysis, *batch.warnings],
    }


class Command(BaseCommand):
    help = "Import a file of codes (one per line) into a new batch of a listing, and wait for it."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("listing_id", type=int)
        parser.add_argument("path")
        parser.add_argument(
            "--header", action="store_true", help="The first line is a header"
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object")

    def handle(
        self,
        *args: Any,
        listing_id: int,
        path: str,
        header: bool,
        json: bool,
        **options: Any,
    ) -> None:
        listing = Listing.objects.filter(pk=listing_id).first()
        if listing is None:
            raise CommandError(f"No listing with id {listing_id}.")
        source = Path(path)
        try:
            handle = source.open("rb")
        except OSError as e:
            raise CommandError(f"Cannot read {path}: {e.strerror or e}") from e
        if source.is_dir():
            raise CommandError(f"Cannot read {path}: it is a directory.")
        try:
            with handle:
                batch = batch_create_upload(
                    listing=listing,
                    file=handle,
                    filename=source.name,
                    has_header=header,
                    source=CodeBatch.Source.COMMAND,
                )
        except CodesError as e:
            raise CommandError(str(e)) from e
        # Tasks may be queued to a worker: run the import here so the command waits.
        batch = code_batch_import(batch_id=batch.pk)
        if batch.status not in (CodeBatch.Status.IMPORTED, CodeBatch.Status.APPROVED):
            batch.refresh_from_db()
        if batch.status == CodeBatch.Status.FAILED:
            raise CommandError(batch.failure_reason)
        summary = batch_summary(batch)
        if json:
            self.stdout.write(_json_dumps(summary))
            return
        self.stdout.write(
            f"Batch #{batch.pk}: {batch.accepted} accepted, {len(summary['duplicates'])} duplicate(s), "
            f"{len(summary['rejected'])} rejected, {batch.skipped_blank} blank line(s) skipped."
        )
        for item in summary["rejected"] + summary["duplicates"]:
            self.stdout.write(f"  line {item['line']}: {item['reason']}")
        for warning in summary["warnings"]:
            self.stdout.write(self.style.WARNING(f"  warning: {warning}"))


def _json_dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)
