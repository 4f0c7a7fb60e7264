from __future__ import annotations

import secrets
from decimal import Decimal

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from distribly.accounts.payouts import seller_can_sell
from distribly.currency import format_price

# What a listing can sell: its codes that are available and in an approved batch
# (DESIGN invariant 4). The one definition: listings counts stock through the
# reverse relation `Listing.codes` with it, and codes' `for_sale()` queryset and
# its partial index `code_for_sale_idx` are built from it. It lives here, in the
# lower layer, because listings may not import codes.
CODE_FOR_SALE = {"status": "available", "approved": True}


class Listing(models.Model):
    """An item a seller lists. Today every listing sells unique codes."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PENDING_REVIEW = "pending_review", _("Pending review")
        ACTIVE = "active", _("Active")
        SOLD_OUT = "sold_out", _("Sold out")
        PAUSED = "paused", _("Paused")
        REJECTED = "rejected", _("Rejected")
        ARCHIVED = "archived", _("Archived")

    class Kind(models.TextChoices):
        UNIQUE_CODES = "unique_codes", _("Unique codes")

    class Category(models.TextChoices):
        """The kinds of unique codes of the help page."""

        ACCESS_CODES = "access_codes", _("Access codes")
        LICENCE_KEYS = "licence_keys", _("Licence and serial keys")
        PRODUCT_VOUCHERS = "product_vouchers", _("Product vouchers")
        GIFT_VOUCHERS = "gift_vouchers", _("Gift vouchers")
        SERVICE_VOUCHERS = "service_vouchers", _("Service vouchers")
        ACTIVATION_CODES = "activation_codes", _("Activation codes")
        SUBSCRIPTIONS = "subscriptions", _("Fixed-length subscriptions")
        OTHER = "other", _("Other")

    class Platform(models.TextChoices):
        """Where a code is redeemed (optional)."""

        WINDOWS = "windows", _("Windows")
        MACOS = "macos", _("macOS")
        LINUX = "linux", _("Linux")
        STEAM = "steam", _("Steam")
        PLAYSTATION = "playstation", _("PlayStation")
        XBOX = "xbox", _("Xbox")
        NINTENDO = "nintendo", _("Nintendo Switch")
        ANDROID = "android", _("Android")
        IOS = "ios", _("iPhone and iPad")
        WEB = "web", _("On the web")
        IN_STORE = "in_store", _("In store")
        OTHER = "other", _("Other")

    # Reviewed and on the site (on sale, sold out, or paused by the seller).
    APPROVED_STATUSES = (Status.ACTIVE, Status.SOLD_OUT, Status.PAUSED)

    seller = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="listings"
    )
    kind = models.CharField(
        max_length=20, choices=Kind.choices, default=Kind.UNIQUE_CODES
    )
    title = models.CharField(max_length=120)
    description = models.TextField(max_length=5000, blank=True)
    price = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        validators=[
            MinValueValidator(Decimal("0.50")),
            MaxValueValidator(Decimal("10000")),
        ],
    )
    currency = models.CharField(max_length=3, default="USD")
    instructions = models.TextField(max_length=5000)
    # Found (DESIGN "Found"): what kind of code, where it is redeemed, where it works
    # (no countries: anywhere), and a cover image in the two sizes pages use, made
    # from the seller's upload by listings.images (the upload itself is not kept).
    category = models.CharField(
        max_length=20,
        choices=Category.choices,
        default=Category.OTHER,
        db_default=Category.OTHER,
    )
    platform = models.CharField(
        max_length=20, choices=Platform.choices, blank=True, db_default=""
    )
    region = CountryField(multiple=True, blank=True, default="", db_default="")
    cover_card = models.ImageField(
        upload_to="covers/%Y/%m/", blank=True, db_default="", max_length=200
    )
    cover_share = models.ImageField(
        upload_to="covers/%Y/%m/", blank=True, db_default="", max_length=200
    )
    restrictions = models.TextField(max_length=1000, blank=True)
    low_stock_threshold = models.PositiveIntegerField(null=True, blank=True)
    max_per_order = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    # After the sale (DESIGN "After the sale"). Columns added after launch carry
    # database defaults (rolling deploys: the previous release inserts without them).
    claim_window_days = models.PositiveSmallIntegerField(
        default=14,
        db_default=14,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="Days after delivery in which a buyer can report a problem with a code.",
    )
    allow_backorders = models.BooleanField(
        default=False,
        db_default=False,
        help_text="A payment that finds no code waits for new codes instead of being refunded.",
    )
    # Uploaded codes compare exactly unless this is set: then "abc-1" and "ABC-1" are
    # one code (deduplicated on import, found by Validate a code either way).
    # Fixed when the listing is created: its codes' digests depend on it.
    codes_case_insensitive = models.BooleanField(default=False, db_default=False)
    # Fixed-length subscriptions: how long a code lasts after delivery (the buyer's
    # vault shows the expiry date and a reminder goes out before it).
    validity_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    # One low-stock alert per crossing: set when the alert goes out, cleared when
    # stock rises back to the threshold (sales.services.stock.listing_stock_alerts).
    low_stock_alerted = models.BooleanField(default=False)
    review_note = models.TextField(blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("review_listing", "Can approve or reject listings")]
        indexes = [
            models.Index(
                fields=["seller", "-created_at"], name="listing_seller_created_idx"
            ),
            models.Index(
                fields=["category", "-created_at"],
                condition=models.Q(status="active"),
                name="listing_category_active_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(price__gte=Decimal("0.50")), name="listing_price_min"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("listings:listing-detail", args=[self.pk])

    @property
    def price_display(self) -> str:
        return format_price(self.price, self.currency)

    @property
    def is_public(self) -> bool:
        """Shown to buyers: reviewed, not archived, and its seller's account is active
        (staff deactivating a seller takes all their listings down at once) and can
        receive the buyers' money (SELLERS_NEED_PAYOUTS)."""
        return (
            self.seller.is_active
            and self.status in self.APPROVED_STATUSES
            and seller_can_sell(self.seller)
        )

    @property
    def is_editable(self) -> bool:
        return self.status != self.Status.ARCHIVED


class ListingStock(models.Model):
    """A listing's stock counts, kept in the same transactions that change its codes
    (codes' services call `listings.services.listing_stock_move` with what they
    changed, `F()` updates as pretix counts quota use). Pages read these instead of
    counting a listing's codes, which took seconds at a million codes.

    `available` is invariant 4's *Available quantity* (available codes of approved
    batches); `sold` counts sold and redeemed codes, `redeemed` the redeemed ones.
    `listings_stock_reconcile` recounts from the codes and repairs any drift.
    A listing without a row has never had an approved code: all counts are 0.
    """

    listing = models.OneToOneField(
        Listing, on_delete=models.CASCADE, primary_key=True, related_name="stock"
    )
    available = models.BigIntegerField(default=0)
    reserved = models.BigIntegerField(default=0)
    sold = models.BigIntegerField(default=0)
    redeemed = models.BigIntegerField(default=0)
    reconciled_at = models.DateTimeField(null=True, blank=True)

    COUNTS = ("available", "reserved", "sold", "redeemed")

    def __str__(self) -> str:
        return f"Stock of listing #{self.pk}"


class ListingRevision(models.Model):
    """Changes a seller made to an approved listing, waiting for staff review.

    What buyers read (title, description, price, instructions, restrictions) goes
    live only once approved; the approved version stays on sale meanwhile. At most
    one revision per listing waits at a time: a later edit replaces it.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Not approved")
        WITHDRAWN = "withdrawn", _("Withdrawn by the seller")

    listing = models.ForeignKey(
        Listing, on_delete=models.CASCADE, related_name="revisions"
    )
    # {field: proposed value} for the reviewed fields that differ (a price as a string).
    changes = models.JSONField(encoder=DjangoJSONEncoder)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING
    )
    review_note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["listing"],
                condition=models.Q(status="pending"),
                name="listingrevision_one_pending",
            )
        ]

    def __str__(self) -> str:
        return f"Changes to “{self.listing}” ({self.get_status_display().lower()})"


class ExchangeRate(models.Model):
    """1 EUR = `rate` units of `currency` (ECB reference rates), for display only."""

    currency = models.CharField(max_length=3, unique=True)
    rate = models.DecimalField(max_digits=18, decimal_places=6)
    source_date = models.CharField(max_length=10, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["currency"]

    def __str__(self) -> str:
        return f"1 EUR = {self.rate} {self.currency}"


def new_waitlist_token() -> str:
    return secrets.token_urlsafe(32)


class WaitlistEntry(models.Model):
    """Someone who asked to be emailed when a sold-out listing is back.

    In line from `created_at` (then id), first come first served. A guest's entry
    waits for them to confirm the address by a link (`confirmed_at`); a signed-in
    user's verified address is confirmed at once. `notified_at` is set when the entry
    is picked for a "back in stock" email (so it counts against the stock for
    WAITLIST_WINDOW_HOURS), `notice_sent_at` when that email is claimed for sending
    (an outbox: the sweep re-queues picked entries whose email never went out).
    Leaving the list deletes the row.
    """

    listing = models.ForeignKey(
        Listing, on_delete=models.CASCADE, related_name="waitlist_entries"
    )
    # Stored lower-cased: one entry per address and listing, however it is typed.
    email = models.EmailField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    language = models.CharField(
        max_length=8, blank=True, help_text="The visitor's language, for the emails."
    )
    # The capability in the confirm and unsubscribe links: unguessable, never an id.
    token = models.CharField(
        max_length=64, unique=True, default=new_waitlist_token, editable=False
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    notice_sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "waitlist entries"
        constraints = [
            models.UniqueConstraint(
                fields=["listing", "email"], name="waitlistentry_listing_email_uniq"
            )
        ]
        indexes = [
            # The line: confirmed, not yet told, first come first served.
            models.Index(
                fields=["listing", "created_at", "id"],
                condition=models.Q(
                    confirmed_at__isnull=False, notified_at__isnull=True
                ),
                name="waitlist_line_idx",
            ),
            # Told recently (counted against the stock), and emails not yet sent.
            models.Index(
                fields=["listing", "notified_at"],
                condition=models.Q(notified_at__isnull=False),
                name="waitlist_notified_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Waitlist entry #{self.pk} for “{self.listing}”"
