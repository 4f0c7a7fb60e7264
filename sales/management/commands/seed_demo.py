"""seed_demo: a small marketplace that looks lived in, for development.

Four sellers have storefronts (a display name and a bio). There is a listing in every
category, each with a cover drawn here with Pillow, with no network and no files
downloaded, and stored like a seller's upload. Stock counts are exact. One listing is
sold out and has people on its waitlist. A month of paid, delivered orders gives the
earnings charts a curve.

Everything is written through the owning apps' services, as sellers, staff and buyers
would write it: listing_create, the code generator and importer, listing_approve,
order_place and payment_confirm, and waitlist_join. Afterwards only the sales'
timestamps are moved back in time.

The command is idempotent. A second run creates nothing and changes nothing (with the
same --codes). It lives in `sales` because making sales needs the sales services
(import-linter: codes may not import sales).
"""

from __future__ import annotations

import io
import json
import logging
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test.utils import override_settings
from django.utils import timezone
from PIL import Image, ImageDraw, ImageFont

from codes.importing.generator import GeneratorOptions
from codes.models import Code, CodeBatch
from codes.services.batches import (
    batch_approve,
    batch_create_generated,
    codes_withdraw_surplus,
)
from codes.services.imports import code_batch_import
from distribly.accounts.management.commands.ensure_admin import (
    ADMIN_EMAIL,
    DEMO_DOMAIN,
    dev_account_ensure,
    dev_password,
)
from distribly.accounts.models import User
from listings.images import SHARE_SIZE, Cover, cover_from_upload
from listings.models import Listing, WaitlistEntry
from listings.services import (
    listing_approve,
    listing_create,
    listing_resume,
    listing_sync_stock,
    waitlist_join,
)
from sales.models import Delivery, LedgerEntry, Order, Payment
from sales.services.checkout import RESERVATION, order_place
from sales.services.fraud import order_release
from sales.services.payments import payment_confirm

C = Listing.Category
P = Listing.Platform
# The sales history covers this many days, today included.
HISTORY_DAYS = 30
# Orders of the history that count as "done" on a later run.
SOLD = [Order.Status.FULFILLED, Order.Status.PAID, Order.Status.HELD]


@dataclass(frozen=True)
class DemoSeller:
    name: str  # seller.<name>@distribly.test
    display_name: str
    bio: str

    @property
    def email(self) -> str:
        return f"seller.{self.name}@{DEMO_DOMAIN}"


@dataclass(frozen=True)
class DemoItem:
    """A listing and its story. `stock` is how many codes stay for sale after the
    sales history. `orders` is how many orders that history has: a listing with
    stock 0 sells out."""

    seller: str
    title: str
    category: str
    price: str
    currency: str
    description: str
    instructions: str
    stock: int
    orders: int
    colours: tuple[str, str]
    code_prefix: str
    platform: str = ""
    region: tuple[str, ...] = ()
    restrictions: str = ""
    validity_days: int | None = None
    low_stock_threshold: int | None = None
    max_per_order: int = 5

    def fields(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "category": self.category,
            "platform": self.platform,
            "region": list(self.region),
            "price": Decimal(self.price),
            "currency": self.currency,
            "description": self.description,
            "instructions": self.instructions,
            "restrictions": self.restrictions,
            "validity_days": self.validity_days,
            "low_stock_threshold": self.low_stock_threshold,
            "max_per_order": self.max_per_order,
        }


@dataclass(frozen=True)
class DemoSale:
    ago: timedelta  # how long before the run the order was placed
    buyer: str
    quantity: int


SELLERS = [
    DemoSeller(
        "alex",
        "Pixel Forge Software",
        "We make small, fast creative tools for Windows and macOS. Keys arrive "
        "instantly and work offline; we answer questions within a day.",
    ),
    DemoSeller(
        "maria",
        "Maria's Game Corner",
        "Indie games and early-access passes I love, sold with the studios' "
        "blessing. Every key comes straight from the developer.",
    ),
    DemoSeller(
        "sam",
        "Corner Street Books & Coffee",
        "An independent bookshop and coffee bar in Bristol since 2009. Vouchers are "
        "redeemed at the till: show the code on your phone.",
    ),
    DemoSeller(
        "priya",
        "Priya Learning Studio",
        "Language courses, online tutoring and workshop recordings for curious "
        "people. Subscriptions start on the day you redeem them.",
    ),
]
BUYERS = ["jamie", "noor", "lee"]  # buyer.<name>@distribly.test
# The listing whose stock --codes sets, and which --json reports (with its seller).
MAIN_TITLE = "Photo editor Pro licence key"
# Sells out in its history; signed-in buyers wait for it.
SOLD_OUT_TITLE = "Retro Arcade Collection: Switch download code"
WAITLIST_BUYERS = ["noor", "lee"]

ITEMS = [
    DemoItem(
        seller="alex",
        title=MAIN_TITLE,
        category=C.LICENCE_KEYS,
        platform=P.WINDOWS,
        price="19.00",
        currency="USD",
        description=(
            "A lifetime licence for Photo editor Pro, for one computer: layers, raw "
            "development and batch export.\nProduct page: https://example.com/photo-editor"
        ),
        instructions=(
            "Download the installer from https://example.com/download, start it and "
            "paste your licence key when asked. Questions? Email support@example.com."
        ),
        restrictions="One activation per key.",
        stock=25,  # --codes
        # No history: --json hands this listing to scripts and deploy tests that
        # buy from it and count its sales.
        orders=0,
        low_stock_threshold=5,
        colours=("#1e3a8a", "#7c3aed"),
        code_prefix="PEP-",
    ),
    DemoItem(
        seller="alex",
        title="Cloud backup 1 TB: one-year activation code",
        category=C.ACTIVATION_CODES,
        platform=P.WEB,
        price="39.00",
        currency="USD",
        description=(
            "A year of encrypted cloud backup for up to 1 TB, on any number of "
            "computers. The year starts when you activate the code."
        ),
        instructions=(
            "Sign in at https://example.com/backup, open Account → Activate and enter "
            "the code."
        ),
        stock=18,
        orders=9,
        colours=("#0f766e", "#0369a1"),
        code_prefix="CLB-",
    ),
    DemoItem(
        seller="maria",
        title="Starfall Online: early access pass",
        category=C.ACCESS_CODES,
        platform=P.STEAM,
        price="9.50",
        currency="EUR",
        description=(
            "Join the Starfall Online early access: every test weekend until launch, "
            "and a badge that stays on your profile."
        ),
        instructions=(
            "In Steam, open Games → Activate a product on Steam… and enter the code."
        ),
        stock=40,
        orders=9,
        colours=("#312e81", "#be185d"),
        code_prefix="SFO-",
    ),
    DemoItem(
        seller="maria",
        title=SOLD_OUT_TITLE,
        category=C.ACTIVATION_CODES,
        platform=P.NINTENDO,
        region=("DE", "ES", "FR", "IT", "NL"),
        price="14.99",
        currency="EUR",
        description=(
            "Twelve arcade classics, restored, with online leaderboards. A limited "
            "run of codes from the publisher."
        ),
        instructions=(
            "On your Switch, open Nintendo eShop → Redeem code and enter the code."
        ),
        restrictions="Works with European Nintendo accounts only.",
        stock=0,  # sold out, with a waitlist
        orders=6,
        colours=("#9a3412", "#be123c"),
        code_prefix="RAC-",
    ),
    DemoItem(
        seller="sam",
        title="Bookshop gift card: 25 GBP",
        category=C.GIFT_VOUCHERS,
        platform=P.IN_STORE,
        region=("GB",),
        price="25.00",
        currency="GBP",
        description=(
            "£25 to spend on anything in the shop, books and coffee alike. Valid for "
            "two years; use it in one visit or several."
        ),
        instructions="Show the code at the till in our Bristol shop (12 Corner Street).",
        restrictions="Not exchangeable for cash.",
        stock=12,
        orders=4,
        colours=("#14532d", "#4d7c0f"),
        code_prefix="CSB-",
    ),
    DemoItem(
        seller="sam",
        title="House-roast coffee beans, 250 g",
        category=C.PRODUCT_VOUCHERS,
        platform=P.IN_STORE,
        region=("GB",),
        price="8.50",
        currency="GBP",
        description=(
            "A bag of this month's house roast, ground to order or as whole beans."
        ),
        instructions="Show the code at the till and tell us how you brew.",
        stock=3,  # under its low-stock threshold: the page says "Only 3 left"
        orders=5,
        low_stock_threshold=5,
        colours=("#451a03", "#92400e"),
        code_prefix="BEAN-",
    ),
    DemoItem(
        seller="priya",
        title="LinguaLeap Premium: 12 months",
        category=C.SUBSCRIPTIONS,
        platform=P.IOS,
        price="59.00",
        currency="USD",
        description=(
            "Every LinguaLeap course in 14 languages, offline lessons and speaking "
            "practice, for twelve months from redemption."
        ),
        instructions=(
            "In the LinguaLeap app, open Profile → Redeem a code. Also works on "
            "Android and on https://example.com/lingualeap."
        ),
        validity_days=365,
        stock=30,
        orders=6,
        colours=("#0e7490", "#4338ca"),
        code_prefix="LL12-",
    ),
    DemoItem(
        seller="priya",
        title="One-hour online tutoring session",
        category=C.SERVICE_VOUCHERS,
        platform=P.WEB,
        price="30.00",
        currency="USD",
        description=(
            "An hour with one of our tutors, for English, Spanish or German, at a time "
            "you choose."
        ),
        instructions=(
            "Book a time at https://example.com/tutoring/book and enter the code at "
            "checkout."
        ),
        restrictions="Book at least 24 hours ahead.",
        stock=15,
        orders=4,
        colours=("#86198f", "#c2410c"),
        code_prefix="TUT-",
    ),
    DemoItem(
        seller="priya",
        title="Build a game in a weekend: workshop recording",
        category=C.OTHER,
        platform=P.WEB,
        price="12.00",
        currency="USD",
        description=(
            "Six hours of a live workshop, edited into 24 short lessons, with the "
            "starter project and the finished game."
        ),
        instructions="Enter the code at https://example.com/workshops/redeem.",
        stock=20,
        orders=3,
        colours=("#1f2937", "#0f766e"),
        code_prefix="WKS-",
    ),
]


def sales_plan(item: DemoItem) -> list[DemoSale]:
    """The item's order history, oldest first. It is the same on every run (seeded
    by the title), so a later run can tell how much of it already happened."""
    rng = random.Random(item.title)
    sales = [
        DemoSale(
            ago=timedelta(
                days=rng.randrange(HISTORY_DAYS),
                # at least two hours ago, so that no order falls in the fraud
                # velocity window of the next one (FRAUD_VELOCITY_MINUTES)
                hours=rng.randint(2, 12),
                minutes=rng.randrange(60),
            ),
            buyer=rng.choice(BUYERS),
            quantity=rng.choice([1, 1, 1, 2]),
        )
        for _n in range(item.orders)
    ]
    return sorted(sales, key=lambda sale: sale.ago, reverse=True)


def buyer_email(name: str) -> str:
    return f"buyer.{name}@{DEMO_DOMAIN}"


def demo_cover(*, item: DemoItem, seller_name: str) -> Cover:
    """Draw a 1200 x 630 cover and process it as a seller's upload would be: a
    gradient, a few shapes, the kind of code, the title and the seller. It uses
    Pillow's default font and no network."""
    width, height = SHARE_SIZE
    start = Image.new("RGB", SHARE_SIZE, item.colours[0])
    end = Image.new("RGB", SHARE_SIZE, item.colours[1])
    # Pillow's 256 x 256 vertical gradient, turned to run left to right.
    mask = Image.linear_gradient("L").rotate(90).resize(SHARE_SIZE)
    image = Image.composite(start, end, mask)
    draw = ImageDraw.Draw(image, "RGBA")
    draw.ellipse((820, -160, 1340, 360), fill=(255, 255, 255, 36))
    draw.ellipse((-140, 400, 300, 840), fill=(0, 0, 0, 40))
    draw.rounded_rectangle((90, 110, 1110, 530), radius=28, fill=(0, 0, 0, 70))
    kicker = str(Listing.Category(item.category).label)
    if item.platform:
        kicker += " · " + str(Listing.Platform(item.platform).label)
    small = ImageFont.load_default(size=30)
    large = ImageFont.load_default(size=64)
    # The card crops the sides (16:9 from the centre): keep the text well inside.
    left, right = 130, width - 130
    draw.text((left, 150), kicker.upper(), font=small, fill=(255, 255, 255, 200))
    y = 210
    for line in _wrap(item.title, draw=draw, font=large, width=right - left)[:3]:
        draw.text((left, y), line, font=large, fill="white")
        y += 80
    draw.text(
        (left, height - 160), f"by {seller_name}", font=small, fill=(255, 255, 255, 220)
    )
    upload = io.BytesIO()
    image.save(upload, "PNG", compress_level=1)
    return cover_from_upload(upload, size=upload.tell())


def _wrap(
    text: str,
    *,
    draw: ImageDraw.ImageDraw,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    width: int,
) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and draw.textlength(f"{lines[-1]} {word}", font=font) <= width:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return lines


class Command(BaseCommand):
    help = (
        "Create idempotent demo data: staff, four sellers with storefronts, buyers, a "
        "listing in every category with a cover, a sold-out listing with a waitlist, "
        "and a month of sales."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--codes",
            type=int,
            default=25,
            help=f"Codes for sale on the main listing ({MAIN_TITLE!r}).",
        )
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
        with _quietly():
            result, summary = self._seed(codes)
        if json:
            self.stdout.write(_dumps(result))
            return
        for line in summary:
            self.stdout.write(line)

    def _seed(self, codes: int) -> tuple[dict[str, dict[str, Any]], list[str]]:
        staff, staff_password = dev_account_ensure(
            email=ADMIN_EMAIL, role="staff", display_name="Staff", is_staff=True
        )
        sellers = {
            demo.name: dev_account_ensure(
                email=demo.email,
                role="seller",
                display_name=demo.display_name,
                bio=demo.bio,
            )[0]
            for demo in SELLERS
        }
        buyers = {
            name: dev_account_ensure(
                email=buyer_email(name),
                role="buyer",
                display_name=f"Demo buyer {name.title()}",
            )[0]
            for name in BUYERS
        }
        # Demo orders are paid through the dev provider's confirm service. With a real
        # provider they would be payments that provider never saw (reconcile_payments
        # would ask it about them), so the history is left out.
        with_sales = settings.PAYMENT_PROVIDER == "dev"
        listings: dict[str, Listing] = {}
        made = 0
        for item in ITEMS:
            stock = codes if item.title == MAIN_TITLE else item.stock
            listings[item.title], placed = self._listing(
                item, sellers[item.seller], staff, stock, buyers, with_sales
            )
            made += placed
        sold_out = listings[SOLD_OUT_TITLE]
        # Without sales (or without payouts, SELLERS_NEED_PAYOUTS) it is not a
        # public, sold-out listing, and no one can wait for it.
        if sold_out.is_public and sold_out.status == Listing.Status.SOLD_OUT:
            for name in WAITLIST_BUYERS:
                waitlist_join(
                    listing_id=sold_out.pk,
                    email=buyers[name].email,
                    user=buyers[name],
                    language="en",
                )

        main = listings[MAIN_TITLE]
        result: dict[str, dict[str, Any]] = {
            "staff": {"email": staff.email, "password": staff_password},
            "seller": {
                "email": sellers["alex"].email,
                "password": dev_password("seller"),
            },
            "buyer": {
                "email": buyers["jamie"].email,
                "password": dev_password("buyer"),
            },
            "listing": {
                "id": main.pk,
                "url": settings.SITE_URL + main.get_absolute_url(),
            },
        }
        return result, self._summary(
            result, sellers, listings, sold_out, codes, made, with_sales
        )

    def _listing(
        self,
        item: DemoItem,
        seller: User,
        staff: User,
        stock: int,
        buyers: dict[str, User],
        with_sales: bool,
    ) -> tuple[Listing, int]:
        """Create, stock, approve and sell one item. Returns the listing and how
        many orders this run placed."""
        listing = Listing.objects.filter(seller=seller, title=item.title).first()
        if listing is None:
            listing = listing_create(
                seller=seller,
                cover=demo_cover(item=item, seller_name=seller.public_name),
                **item.fields(),
            )
        plan = sales_plan(item) if with_sales else []
        done = Order.objects.filter(
            listing=listing,
            email__in=[buyer_email(name) for name in BUYERS],
            status__in=SOLD,
        ).count()
        to_sell = plan[done:]
        # Enough codes for the orders still to come, so that `stock` remain after them.
        wanted = stock + sum(sale.quantity for sale in to_sell)
        self._top_up(listing, wanted, staff, prefix=item.code_prefix)
        if listing.status == Listing.Status.PENDING_REVIEW:
            listing = listing_approve(listing=listing, by=staff)
        elif listing.status == Listing.Status.PAUSED:
            listing = listing_resume(listing=listing)
        placed = 0
        if listing.status == Listing.Status.ACTIVE:
            now = timezone.now()
            for sale in to_sell:
                self._sell(listing, buyers[sale.buyer], sale.quantity, now - sale.ago)
                placed += 1
        # Exact, whatever happened above. For example, a listing someone archived
        # is not sold from and keeps `stock`.
        self._top_up(listing, stock, staff, prefix=item.code_prefix)
        return listing_sync_stock(listing_id=listing.pk).listing, placed

    def _top_up(
        self, listing: Listing, wanted: int, staff: User, *, prefix: str
    ) -> None:
        for_sale = Code.objects.for_sale().filter(listing=listing)
        have = for_sale.count()
        if have < wanted:
            batch = batch_create_generated(
                listing=listing,
                options=GeneratorOptions(
                    count=wanted - have, length=16, group=4, prefix=prefix
                ),
            )
            batch = code_batch_import(batch_id=batch.pk)
            if batch.status == CodeBatch.Status.IMPORTED:
                batch_approve(batch=batch, by=staff)
        elif have > wanted:
            codes_withdraw_surplus(listing=listing, keep=wanted)

    def _sell(
        self, listing: Listing, buyer: User, quantity: int, when: datetime
    ) -> None:
        """One paid, delivered order, made with the checkout and payment services, then
        dated `when` everywhere the pages and charts read it. Orders are placed
        oldest first, and each one is moved back before the next is paid, so the
        fraud velocity rules never see a burst."""
        placed = order_place(
            listing_id=listing.pk, quantity=quantity, email=buyer.email, buyer=buyer
        )
        order = payment_confirm(payment_id=placed.payment.pk)
        if order.status == Order.Status.HELD:  # a stricter fraud configuration
            order_release(order_id=order.pk)
        paid = when + timedelta(minutes=2)
        Order.objects.filter(pk=order.pk).update(
            created_at=when,
            reserved_until=when + RESERVATION,
            paid_at=paid,
            fulfilled_at=paid,
        )
        Payment.objects.filter(order_id=order.pk).update(
            created_at=when, confirmed_at=paid
        )
        # The earnings overview sums LedgerEntry.seller_net by created_at, and counts
        # units by Order.created_at (sales.overview).
        LedgerEntry.objects.filter(order_id=order.pk).update(created_at=paid)
        Delivery.objects.filter(order_id=order.pk).update(created_at=paid)
        Delivery.objects.filter(order_id=order.pk, sent_at__isnull=False).update(
            sent_at=paid
        )

    def _summary(
        self,
        result: dict[str, dict[str, Any]],
        sellers: dict[str, User],
        listings: dict[str, Listing],
        sold_out: Listing,
        codes: int,
        made: int,
        with_sales: bool,
    ) -> list[str]:
        site = settings.SITE_URL
        orders = Order.objects.filter(
            listing__in=listings.values(), status__in=SOLD
        ).count()
        waiting = WaitlistEntry.objects.filter(listing=sold_out).count()
        lines = [
            self.style.SUCCESS(
                f"Demo marketplace ready: {len(sellers)} sellers, {len(listings)} "
                f"listings, {orders} paid orders"
                + (f" ({made} new)" if made else "")
                + "."
            ),
            f"  sellers  (password {result['seller']['password']}; My account > "
            "Earnings shows their charts)",
        ]
        per_seller = {
            seller.pk: sum(1 for li in listings.values() if li.seller_id == seller.pk)
            for seller in sellers.values()
        }
        for seller in sellers.values():
            lines.append(
                f"    {seller.email:<32} {seller.public_name} "
                f"({per_seller[seller.pk]} listings)"
            )
        lines.append(
            f"  buyers   (password {result['buyer']['password']}; My purchases shows "
            "their codes)"
        )
        lines += [f"    {buyer_email(name)}" for name in BUYERS]
        lines += [
            f"  staff    {result['staff']['email']} / {result['staff']['password']}",
            f"  listing  {result['listing']['url']} ({codes} codes in stock)",
            f"  sold out {site}{sold_out.get_absolute_url()} ({waiting} on its waitlist)",
        ]
        if not with_sales:
            lines.append(
                f"  no sales history: PAYMENT_PROVIDER is {settings.PAYMENT_PROVIDER!r} "
                "(demo orders are paid with the dev provider only)"
            )
        return lines


@contextmanager
def _quietly() -> Iterator[None]:
    """Seeding sends no email and logs no task traces. Without a broker, the first
    run executes about 150 tasks in-process. Each one logs an INFO trace, and the
    emails (listing approvals, deliveries, stock alerts) would print dozens of
    messages on the development console, burying the summary. They go to .test
    addresses, which no one can receive. With a broker, the tasks run in the worker
    and send their mail there."""
    trace = logging.getLogger("celery.app.trace")
    level = trace.level
    trace.setLevel(logging.WARNING)
    try:
        with override_settings(
            EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"
        ):
            yield
    finally:
        trace.setLevel(level)


def _dumps(data: Any) -> str:
    return json.dumps(data)
