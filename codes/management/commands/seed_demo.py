from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from codes.importing.generator import GeneratorOptions
from codes.models import Code, CodeBatch
from codes.services.batches import (
    batch_approve,
    batch_create_generated,
    codes_withdraw_surplus,
)
from codes.services.imports import code_batch_import
from distribly.accounts.services import user_ensure
from listings.models import Listing
from listings.services import listing_approve, listing_create, listing_sync_stock

DEMO_TITLE = "Demo: Photo editor Pro licence key"


def demo_password(role: str) -> str:
    """Stable per installation (derived from SECRET_KEY), so it can be printed every run."""
    return (
        "demo-"
        + hmac.new(
            settings.SECRET_KEY.encode(), role.encode(), hashlib.sha256
        ).hexdigest()[:12]
    )


class Command(BaseCommand):
    help = "Create idempotent demo data: staff, seller, buyer and one active listing with N codes."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--codes", type=int, default=25)
        parser.add_argument("--json", action="store_true")
        parser.add_argument(
            "--force", action="store_true", help="Run even when DEBUG is off"
        )

    def handle(
        self, *args: Any, codes: int, json: bool, force: bool, **options: Any
    ) -> None:
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo creates accounts with known passwords; it refuses to run with DEBUG off (use --force)."
            )
        if codes < 0:
            raise CommandError("--codes must be 0 or more")
        people = {}
        for role, email, name, is_staff in [
            ("staff", "staff@demo.distribly.test", "Demo staff", True),
            ("seller", "seller@demo.distribly.test", "Demo Software Ltd", False),
            ("buyer", "buyer@demo.distribly.test", "Demo buyer", False),
        ]:
            password = demo_password(role)
            user, _created = user_ensure(
                email=email, password=password, display_name=name, is_staff=is_staff
            )
            user.set_password(password)
            user.save(update_fields=["password"])
            people[role] = (user, password)
        staff, seller = people["staff"][0], people["seller"][0]

        listing = Listing.objects.filter(seller=seller, title=DEMO_TITLE).first()
        if listing is None:
            listing = listing_create(
                seller=seller,
                title=DEMO_TITLE,
                description="A lifetime licence for Photo editor Pro, for one computer.\nProduct page: https://example.com/photo-editor",
                price=Decimal("19.00"),
                currency="USD",
                instructions=(
                    "Download the installer from https://example.com/download, start it and paste your "
                    "licence key when asked. Questions? Email support@example.com."
                ),
                restrictions="One activation per key.",
                low_stock_threshold=5,
                max_per_order=5,
            )
        self._top_up(listing, codes, staff)
        if listing.status == Listing.Status.PENDING_REVIEW:
            listing_approve(listing=listing, by=staff)
        elif listing.status not in (Listing.Status.ACTIVE, Listing.Status.SOLD_OUT):
            Listing.objects.filter(pk=listing.pk).update(status=Listing.Status.ACTIVE)
        listing = listing_sync_stock(listing_id=listing.pk).listing

        result: dict[str, dict[str, Any]] = {
            role: {"email": user.email, "password": password}
            for role, (user, password) in people.items()
        }
        result["listing"] = {
            "id": listing.pk,
            "url": settings.SITE_URL + listing.get_absolute_url(),
        }
        if json:
            self.stdout.write(_dumps(result))
            return
        self.stdout.write(self.style.SUCCESS("Demo data ready:"))
        for role in ("staff", "seller", "buyer"):
            self.stdout.write(
                f"  {role:<6} {result[role]['email']} / {result[role]['password']}"
            )
        self.stdout.write(
            f"  listing {result['listing']['url']} ({codes} codes in stock)"
        )

    def _top_up(self, listing: Listing, wanted: int, staff: Any) -> None:
        for_sale = Code.objects.for_sale().filter(listing=listing)
        have = for_sale.count()
        if have < wanted:
            batch = batch_create_generated(
                listing=listing, options=GeneratorOptions(count=wanted - have)
            )
            batch = code_batch_import(batch_id=batch.pk)
            if batch.status == CodeBatch.Status.IMPORTED:
                batch_approve(batch=batch, by=staff)
        elif have > wanted:
            codes_withdraw_surplus(listing=listing, keep=wanted)


def _dumps(data: Any) -> str:
    return json.dumps(data)
