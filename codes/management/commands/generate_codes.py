from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from codes.importing.generator import (
    ALPHABETS,
    DEFAULT_GROUP,
    DEFAULT_LENGTH,
    GeneratorOptions,
    GeneratorOptionsError,
)
from codes.services.batches import batch_create_generated
from codes.services.imports import code_batch_import
from listings.models import Listing


class Command(BaseCommand):
    help = "Generate a batch of cryptographically random codes for a listing."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("listing_id", type=int)
        parser.add_argument("count", type=int)
        parser.add_argument("--length", type=int, default=DEFAULT_LENGTH)
        parser.add_argument(
            "--groups",
            type=int,
            default=DEFAULT_GROUP,
            help="Group size (0: no dashes)",
        )
        parser.add_argument(
            "--alphabet", choices=sorted(ALPHABETS), default="crockford"
        )
        parser.add_argument("--prefix", default="")

    def handle(self, *args: Any, listing_id: int, count: int, **o: Any) -> None:
        listing = Listing.objects.filter(pk=listing_id).first()
        if listing is None:
            raise CommandError(f"No listing with id {listing_id}.")
        options = GeneratorOptions(
            count=count,
            length=o["length"],
            group=o["groups"],
            alphabet=o["alphabet"],
            prefix=o["prefix"],
        )
        try:
            options.validate(max_count=settings.CODES_GENERATE_MAX)
            batch = batch_create_generated(listing=listing, options=options)
        except GeneratorOptionsError as e:
            raise CommandError(f"{e.field}: {e.message}") from e
        batch = code_batch_import(batch_id=batch.pk)
        self.stdout.write(
            f"Batch #{batch.pk}: generated {batch.accepted} code(s) ({batch.get_status_display()})."
        )
