"""dev_setup: everything `make run` does before the server starts, in one process.

The settings warn about development secrets once per process. Running migrate,
the demo data, the exchange rates and the staff login as four `manage.py` processes
printed the warning four times. Here it is printed once. The server's own
processes are started with that one warning filtered out (see the Makefile).

The staff login is printed last, as a framed block, so that it is the last thing
above the server's start-up lines. `make admin-login` prints it again.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Development setup (make run): migrate, seed the demo marketplace, load the "
        "sample exchange rates, then print the staff login. Needs DEBUG on."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError(
                "dev_setup is for development: it creates accounts with known "
                "passwords. Run it with DJANGO_DEBUG=True (make run does)."
            )
        verbosity = options["verbosity"]
        io = {"stdout": self.stdout, "stderr": self.stderr, "verbosity": verbosity}
        self._heading("Database")
        call_command("migrate", interactive=False, **io)
        self._heading("Demo marketplace")
        call_command("seed_demo", **io)
        self._heading("Exchange rates")
        # Converted prices work offline from the first run. Rates already stored
        # (maybe fresher, from the ECB) are kept.
        call_command("load_exchange_rates", sample=True, keep_existing=True, **io)
        call_command("ensure_admin", **io)

    def _heading(self, title: str) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING(f"== {title}"))
