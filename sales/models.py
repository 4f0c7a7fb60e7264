from __future__ import annotations

import secrets
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
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    reserved_until = models.DateTimeField()
    refunded_amount = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("0")
    )
    note = models.CharField(max_length=300, blank=True)
    # Who started the checkout, for the caps on unpaid reservations (not shown).
    client_network = models.CharField(max_length=64, blank=True, default="")
    session_key = models.CharField(max_length=40, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("refund_order", "Can refund orders")]
        indexes = [
            models.Index(
                fields=["seller", "-created_at"], name="order_seller_created_idx"
            ),
            models.Index(
                fields=["reserved_until"],
                condition=Q(status="pending"),
                name="order_pending_expiry_idx",
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
