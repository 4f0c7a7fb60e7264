"""load_exchange_rates: store ECB reference rates for the display currency.

`make run` calls `load_exchange_rates --sample --keep-existing`, so a fresh
development database converts prices offline, out of the box, from the small ECB
file shipped in listings/data/. Without --sample or --file it fetches
EXCHANGE_RATES_URL, as the daily beat task does. The write goes through
listings.services.exchange_rates_refresh, like the beat task's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from listings.selectors import exchange_rates
from listings.services import exchange_rates_refresh

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "eurofxref-sample.xml"


class Command(BaseCommand):
    help = "Store ECB reference rates: the shipped sample (--sample), a file, or today's from the ECB."

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group()
        source.add_argument(
            "--sample",
            action="store_true",
            help="the development sample shipped in listings/data/ (no network)",
        )
        source.add_argument(
            "--file", type=Path, help="an eurofxref-daily.xml file to load"
        )
        parser.add_argument(
            "--keep-existing",
            action="store_true",
            help="do nothing when rates are already stored (keeps fresher ones)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["keep_existing"] and exchange_rates():
            self.stdout.write("Exchange rates already stored: kept.")
            return
        path: Path | None = SAMPLE if options["sample"] else options["file"]
        xml: bytes | None = None
        if path is not None:
            try:
                xml = path.read_bytes()
            except OSError as error:
                raise CommandError(f"Cannot read {path}: {error}") from error
        try:
            count = exchange_rates_refresh(xml=xml)
        # ParseError (not XML) is a SyntaxError; ValueError: XML without rates.
        except (ValueError, OSError, SyntaxError) as error:
            raise CommandError(f"No rates stored: {error}") from error
        self.stdout.write(
            self.style.SUCCESS(
                f"Stored {count} exchange rates from {path or 'the ECB'}."
            )
        )
