from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from distribly.currency import format_amount
from listings.models import Listing


def new_token() -> str:
    return secrets.token_urlsafe(24)


REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: read aloud safely


def new_reference() -> str:
    """An order's public number: random (50 bits), so it tells nobody how many
    orders there are, and easy to read out to support: "7KQ2M-9XPTB"."""
    chars = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(10))
    return f"{chars[:5]}-{chars[5:]}"


class Order(models.Model):
    """A buyer's purchase of `quantity` codes of one listing."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Awaiting payment")
        PAID = "paid", _("Paid")
        FULFILLED = "fulfilled", _("Fulfilled")
        HELD = "held", _("Being checked")
        BACKORDERED = "backordered", _("Waiting for codes")
        EXPIRED = "expired", _("Expired")
        FAILED = "failed", _("Payment failed")
        REFUNDED = "refunded", _("Refunded")

    listing = models.ForeignKey(
        Listing, on_delete=models.PROTECT, related_name="orders"
    )
    seller = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="sales"
    )
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="purchases",
    )
    email = models.EmailField()
    language = models.CharField(
        max_length=8,
        default="en",
        help_text="The buyer's language at checkout, for emails.",
    )
    # What buyers and sellers see as the order's number (ids are sequential).
    reference = models.CharField(
        max_length=11, unique=True, default=new_reference, editable=False
    )
    # The capability in the order page's link: unguessable, never derived from ids.
    token = models.CharField(
        max_length=64, unique=True, default=new_token, editable=False
    )
    quantity = models.PositiveSmallIntegerField()
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    reserved_until = models.DateTimeField()
    refunded_amount = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("0")
    )
    # The platform's part of `amount`, fixed at checkout (sales.services.earnings).
    # Columns added after launch have database defaults: processes of the previous
    # release still insert rows without them during a rolling deploy.
    platform_fee = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("0"), db_default=Decimal("0")
    )
    note = models.CharField(max_length=300, blank=True)
    # Fraud hold: paid, codes sold to the order but not shown until staff release it
    # or `held_until` passes without an early fraud warning.
    held_until = models.DateTimeField(null=True, blank=True)
    hold_reason = models.CharField(max_length=300, blank=True, db_default="")
    fraud_warning_at = models.DateTimeField(null=True, blank=True)
    # Who started the checkout, for the caps on unpaid reservations (not shown).
    client_network = models.CharField(max_length=64, blank=True, default="")
    session_key = models.CharField(max_length=40, blank=True, default="")
    # Backorder (listing.allow_backorders): paid, waiting in line for codes until
    # this time, then refunded automatically.
    backorder_until = models.DateTimeField(null=True, blank=True)
    # Fixed-length subscriptions: when the "expires soon" reminder went out.
    expiry_reminded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("refund_order", "Can refund orders"),
            ("release_order", "Can release orders held for checking"),
        ]
        indexes = [
            models.Index(
                fields=["seller", "-created_at"], name="order_seller_created_idx"
            ),
            # The admin's changelist (newest first) and its status filter.
            models.Index(fields=["-created_at"], name="order_created_idx"),
            models.Index(
                fields=["status", "-created_at"], name="order_status_created_idx"
            ),
            models.Index(
                fields=["reserved_until"],
                condition=Q(status="pending"),
                name="order_pending_expiry_idx",
            ),
            models.Index(
                fields=["held_until"],
                condition=Q(status="held"),
                name="order_held_until_idx",
            ),
            # The backorder line of a listing, first paid first served.
            models.Index(
                fields=["listing", "paid_at"],
                condition=Q(status="backordered"),
                name="order_backorder_line_idx",
            ),
            # velocity rules: recent orders by email or network
            models.Index(fields=["email", "paid_at"], name="order_email_paid_idx"),
            # A buyer's orders newest first: My purchases, Find my codes, the admin's
            # search by email (without it, the planner walked every order by date).
            models.Index(
                fields=["email", "-created_at"], name="order_email_created_idx"
            ),
            models.Index(
                fields=["client_network", "paid_at"], name="order_network_paid_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=1), name="order_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"Order #{self.reference}"

    def get_absolute_url(self) -> str:
        return reverse("sales:order-detail", args=[self.token])

    @property
    def amount_display(self) -> str:
        return format_amount(self.amount, self.currency)

    @property
    def has_codes(self) -> bool:
        return self.status in (self.Status.FULFILLED, self.Status.REFUNDED)

    # A seller (or staff) can refund: codes delivered or hidden by a fraud hold, or a
    # backorder still waiting for them (sales.services.refunds.order_refund).
    REFUNDABLE_STATUSES = (Status.FULFILLED, Status.HELD, Status.BACKORDERED)

    @property
    def is_refundable(self) -> bool:
        return self.status in self.REFUNDABLE_STATUSES

    @property
    def expires_at(self) -> datetime | None:
        """Fixed-length subscriptions: when the codes stop working (from delivery)."""
        days = self.listing.validity_days
        if not days or self.fulfilled_at is None:
            return None
        return self.fulfilled_at + timedelta(days=days)


class Payment(models.Model):
    """One attempt to take the money for an order, through one provider."""

    class Status(models.TextChoices):
        CREATED = "created", _("Created")
        PENDING = "pending", _("Awaiting the buyer")
        CONFIRMED = "confirmed", _("Confirmed")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    provider = models.CharField(max_length=20)
    # The provider's id for this payment (Stripe Checkout Session id; dev token).
    provider_ref = models.CharField(max_length=255, unique=True, null=True, blank=True)
    # Stripe: the PaymentIntent, needed for refunds.
    provider_payment_id = models.CharField(max_length=255, blank=True, db_index=True)
    # The seller's payout account the money went to (a destination charge), if any.
    destination = models.CharField(max_length=255, blank=True, db_default="")
    # From the provider's charge: its risk rating and the card's fingerprint
    # (the same card across orders), for the fraud hold.
    risk_level = models.CharField(max_length=20, blank=True, db_default="")
    card_fingerprint = models.CharField(
        max_length=64, blank=True, db_index=True, db_default=""
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.CREATED
    )
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.provider} payment for order #{self.order_id}"


class WebhookEvent(models.Model):
    """Every provider event we handled, once: the unique id is the dedupe."""

    class Status(models.TextChoices):
        PROCESSED = "processed", _("Processed")
        IGNORED = "ignored", _("No action needed")
        FAILED = "failed", _("Failed permanently")

    provider = models.CharField(max_length=20)
    event_id = models.CharField(max_length=255)
    type = models.CharField(max_length=100)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PROCESSED, db_index=True
    )
    # A permanent provider error that stopped the event (retrying cannot help).
    error = models.CharField(max_length=300, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "event_id"], name="webhookevent_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.type} {self.event_id}"


class Delivery(models.Model):
    """An email with an order's codes: an outbox row, claimed and sent by a task."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, related_name="deliveries"
    )
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"Delivery #{self.pk} of order #{self.order_id} ({self.status})"


class Refund(models.Model):
    """Money back for some or all units of an order; their codes are cancelled."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    class Source(models.TextChoices):
        SELLER = "seller", _("Seller")
        STAFF = "staff", _("Staff")
        AUTOMATIC = "automatic", _("Automatic (out of stock)")
        FRAUD = "fraud", _("Early fraud warning")
        CLAIM = "claim", _("Problem reported by the buyer")
        UNANSWERED = "unanswered", _("Problem reported, not answered in time")
        PROVIDER = "provider", _("Payment provider dashboard")

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, related_name="refunds"
    )
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    code_ids = models.JSONField(default=list, blank=True)
    quantity = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING
    )
    source = models.CharField(max_length=10, choices=Source.choices)
    reason = models.CharField(max_length=300, blank=True)
    provider_refund_id = models.CharField(max_length=255, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider_refund_id"],
                condition=~Q(provider_refund_id=""),
                name="refund_provider_id_uniq",
            )
        ]

    def __str__(self) -> str:
        return f"Refund #{self.pk} of order #{self.order_id}"


class LedgerEntry(models.Model):
    """One movement of an order's money, split between the platform and the seller.

    Append-only: a sale, each refund, each dispute outcome. Per order, the sums are
    what Sales shows (gross, platform fee, net to seller) and what
    `reconcile_earnings` compares with the provider. Amounts are signed: money that
    went back to the buyer is negative. `gross == platform_fee + seller_net`.
    """

    class Kind(models.TextChoices):
        SALE = "sale", _("Sale")
        REFUND = "refund", _("Refund")
        DISPUTE = "dispute", _("Dispute lost")

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="ledger")
    seller = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    refund = models.OneToOneField(
        Refund, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger"
    )
    dispute = models.OneToOneField(
        "Dispute", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    currency = models.CharField(max_length=3)
    gross = models.DecimalField(max_digits=10, decimal_places=2)
    platform_fee = models.DecimalField(max_digits=10, decimal_places=2)
    seller_net = models.DecimalField(max_digits=10, decimal_places=2)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "ledger entries"
        indexes = [
            models.Index(fields=["seller", "created_at"], name="ledger_seller_time_idx")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(kind="sale"),
                name="ledger_one_sale_per_order",
            ),
            models.CheckConstraint(
                condition=Q(gross=models.F("platform_fee") + models.F("seller_net")),
                name="ledger_parts_add_up",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.gross} {self.currency} (order #{self.order_id})"


class Payout(models.Model):
    """Money the provider paid out of a seller's payout account to their bank."""

    class Status(models.TextChoices):
        PENDING = "pending", _("On its way")
        IN_TRANSIT = "in_transit", _("In transit")
        PAID = "paid", _("Paid")
        FAILED = "failed", _("Failed")
        CANCELED = "canceled", _("Cancelled")

    seller = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payouts"
    )
    provider_payout_id = models.CharField(max_length=255, unique=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=12, choices=Status.choices)
    arrival_date = models.DateField(null=True, blank=True)
    failure_message = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-arrival_date", "-pk"]

    def __str__(self) -> str:
        return f"Payout {self.provider_payout_id} ({self.status})"


class Dispute(models.Model):
    """A buyer's bank took the payment back (a chargeback): `open → won | lost`."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="disputes")
    provider_dispute_id = models.CharField(max_length=255, unique=True)
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=50, blank=True)
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    # Evidence assembled from our records, staged with the provider for staff to submit.
    evidence = models.JSONField(default=dict, blank=True)
    evidence_due_by = models.DateTimeField(null=True, blank=True)
    evidence_submitted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("submit_dispute", "Can submit dispute evidence")]

    def __str__(self) -> str:
        return f"Dispute {self.provider_dispute_id} of order #{self.order_id}"


class OrderPageView(models.Model):
    """The buyer's order page was shown with its codes: when, and from where.
    Evidence in a dispute ("the buyer saw the code"), kept with the order."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="views")
    ip = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at"]

    def __str__(self) -> str:
        return f"Order #{self.order_id} shown at {self.at:%Y-%m-%d %H:%M}"


class Claim(models.Model):
    """A buyer reports that a delivered code does not work (DESIGN "After the sale").

    `open → replaced | refunded | rejected`; the buyer may escalate a rejection once:
    `rejected → escalated → replaced | refunded | rejected` (staff decide). An open
    claim left unanswered past `respond_by` is refunded automatically.
    """

    class Reason(models.TextChoices):
        USED = "used", _("The code was already used")
        NOT_ACCEPTED = "not_accepted", _("The code is not accepted")
        WRONG_REGION = "wrong_region", _("Wrong region or platform")
        OTHER = "other", _("Something else")

    class Status(models.TextChoices):
        OPEN = "open", _("Waiting for the seller")
        REPLACED = "replaced", _("Code replaced")
        REFUNDED = "refunded", _("Refunded")
        REJECTED = "rejected", _("Rejected")
        ESCALATED = "escalated", _("With Distribly staff")
        # A refund was asked of the provider: no other answer until it completes.
        REFUNDING = "refunding", _("Being refunded")

    UPHELD = (Status.REPLACED, Status.REFUNDED)
    ANSWERABLE = (Status.OPEN, Status.ESCALATED)

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="claims")
    seller = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # One claim per code, ever (a replacement is a new code with its own window).
    code = models.OneToOneField(
        "codes.Code", on_delete=models.PROTECT, related_name="claim"
    )
    email = models.EmailField(help_text="The buyer's email (the order's).")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    message = models.TextField(max_length=2000)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.OPEN
    )
    respond_by = models.DateTimeField()
    seller_message = models.TextField(max_length=2000, blank=True)
    escalation_message = models.TextField(max_length=2000, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    staff_message = models.TextField(max_length=2000, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # Refunded because the seller did not answer in time.
    automatic = models.BooleanField(default=False)
    replacement = models.ForeignKey(
        "codes.Code",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    refund = models.ForeignKey(
        Refund, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("decide_claim", "Can decide escalated claims")]
        indexes = [
            models.Index(
                fields=["seller", "status", "-created_at"],
                name="claim_seller_status_idx",
            ),
            models.Index(
                fields=["respond_by"],
                condition=Q(status="open"),
                name="claim_open_deadline_idx",
            ),
            models.Index(fields=["email", "created_at"], name="claim_email_idx"),
        ]

    def __str__(self) -> str:
        return f"Claim #{self.pk} on order #{self.order_id}"

    @property
    def upheld(self) -> bool:
        return self.status in self.UPHELD

    @property
    def can_escalate(self) -> bool:
        return self.status == self.Status.REJECTED and self.escalated_at is None
