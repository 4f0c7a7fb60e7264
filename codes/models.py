from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from codes.crypto import get_keyring
from listings.models import CODE_FOR_SALE, Listing

# Codes that can be sold now (the partial index below is built on the same condition).
FOR_SALE = Q(**CODE_FOR_SALE)


class CodeQuerySet(models.QuerySet["Code"]):
    def for_sale(self) -> CodeQuerySet:
        """Available codes of approved batches: what buyers can get."""
        return self.filter(FOR_SALE)


class CodeBatch(models.Model):
    """One upload or one generation run of codes for a listing."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        IMPORTING = "importing", _("Importing")
        IMPORTED = "imported", _("Imported, awaiting review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        FAILED = "failed", _("Failed")

    class Source(models.TextChoices):
        UPLOAD = "upload", _("Uploaded file")
        GENERATED = "generated", _("Generated")
        API = "api", _("API")
        COMMAND = "command", _("Command line")

    FINISHED = (Status.IMPORTED, Status.APPROVED, Status.REJECTED, Status.FAILED)

    listing = models.ForeignKey(
        Listing, on_delete=models.PROTECT, related_name="batches"
    )
    seller = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="code_batches"
    )
    source = models.CharField(max_length=12, choices=Source.choices)
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.RECEIVED, db_index=True
    )
    original_filename = models.CharField(max_length=255, blank=True)
    # Relative to PRIVATE_UPLOAD_ROOT; cleared once the file is imported and deleted.
    upload_name = models.CharField(max_length=255, blank=True)
    has_header = models.BooleanField(default=False)
    generator = models.JSONField(default=dict, blank=True)

    bytes_total = models.BigIntegerField(default=0)
    bytes_processed = models.BigIntegerField(default=0)
    lines_processed = models.PositiveIntegerField(default=0)
    encoding = models.CharField(max_length=16, blank=True)
    accepted = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    skipped_blank = models.PositiveIntegerField(default=0)
    warnings = models.JSONField(default=list, blank=True)
    analysis = models.JSONField(default=list, blank=True)
    sample = models.JSONField(default=list, blank=True)  # masked values only
    failure_reason = models.TextField(blank=True)

    import_token = models.CharField(max_length=32, blank=True)
    import_attempts = models.PositiveSmallIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
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
    imported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "code batches"
        permissions = [("review_codebatch", "Can approve or reject code batches")]

    def __str__(self) -> str:
        return f"Batch #{self.pk} of {self.listing}"

    def get_absolute_url(self) -> str:
        return reverse("codes:batch-detail", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def progress_text(self) -> str:
        if self.status == self.Status.RECEIVED:
            return "Waiting for an import worker…"
        if self.status == self.Status.IMPORTING:
            if self.bytes_total:
                pct = min(100, int(100 * self.bytes_processed / self.bytes_total))
                return f"Importing: {self.lines_processed:,} lines read ({pct}%)"
            return f"Importing: {self.lines_processed:,} lines processed"
        return self.get_status_display()


class BatchIssue(models.Model):
    """A line of a batch that did not become a code, with why."""

    class Kind(models.TextChoices):
        REJECTED = "rejected", _("Rejected")
        DUPLICATE = "duplicate", _("Duplicate")

    batch = models.ForeignKey(
        CodeBatch, on_delete=models.CASCADE, related_name="issues"
    )
    line = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    reason = models.CharField(max_length=300)
    # The offending line, encrypted like a code (it may be one), for the seller's download.
    ciphertext = models.BinaryField(null=True, blank=True)
    key_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["batch", "line"]
        constraints = [
            models.UniqueConstraint(
                fields=["batch", "line"], name="batchissue_batch_line_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class Code(models.Model):
    """One sellable code. The value is only ever stored encrypted (codes/crypto.py)."""

    class Status(models.TextChoices):
        AVAILABLE = "available", _("Available")
        RESERVED = "reserved", _("Reserved")
        SOLD = "sold", _("Sold")
        REDEEMED = "redeemed", _("Redeemed")
        CANCELLED = "cancelled", _("Cancelled")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    # Codes are inserted only by the import merge (codes/importing/engine.py), which copies
    # seller, listing and batch from the batch row it holds locked, and nothing
    # deletes users, listings or batches (PROTECT, no delete in admin). So these
    # FKs carry no database constraint and no single-column index (the composite
    # indexes below lead with them): per-row FK triggers and three extra indexes
    # cost about 40% of a million-row import (make bench).
    seller = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    listing = models.ForeignKey(
        Listing,
        on_delete=models.PROTECT,
        related_name="codes",
        db_index=False,
        db_constraint=False,
    )
    batch = models.ForeignKey(
        CodeBatch,
        on_delete=models.PROTECT,
        related_name="codes",
        db_index=False,
        db_constraint=False,
    )
    line = models.PositiveIntegerField(
        help_text="Line of the batch's file this code came from."
    )
    digest = models.BinaryField(max_length=32)
    ciphertext = models.BinaryField()
    key_id = models.BigIntegerField()
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.AVAILABLE
    )
    # The order (sales.Order) a code is reserved for or sold to. A plain id, not a
    # foreign key, so that codes do not depend on sales (sales → codes → listings).
    # Once sold it never changes: a code belongs to at most one order, ever.
    order_id = models.BigIntegerField(null=True, blank=True)
    reserved_until = models.DateTimeField(null=True, blank=True)
    sold_at = models.DateTimeField(null=True, blank=True)
    # Redemption binds a sold code to one account on the seller's side.
    redeemed_at = models.DateTimeField(null=True, blank=True)
    # db_default: the import merge inserts rows with raw SQL that names no such columns.
    redeemed_by = models.CharField(
        max_length=255, blank=True, default="", db_default=""
    )
    cancel_reason = models.CharField(
        max_length=300, blank=True, default="", db_default=""
    )
    # Only codes of approved batches are for sale; set when staff approve the batch.
    approved = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    objects = CodeQuerySet.as_manager()

    class Meta:
        constraints = [
            # A code is unique per seller: the same code can never be sold twice by one seller.
            models.UniqueConstraint(
                fields=["seller", "digest"], name="code_seller_digest_uniq"
            ),
            # Held codes have an order; free codes have none.
            models.CheckConstraint(
                condition=(
                    Q(status__in=["available", "withdrawn"], order_id__isnull=True)
                    | Q(
                        status__in=["reserved", "sold", "redeemed", "cancelled"],
                        order_id__isnull=False,
                    )
                ),
                name="code_status_order_consistent",
            ),
        ]
        indexes = [
            # Allocation: SKIP LOCKED over the codes for sale, in id order.
            models.Index(
                fields=["listing", "id"],
                condition=FOR_SALE,
                name="code_for_sale_idx",
            ),
            models.Index(fields=["listing", "status"], name="code_listing_status_idx"),
            models.Index(fields=["batch", "line"], name="code_batch_line_idx"),
            # An order's codes, by status. (Reservations expire through the order's
            # own reserved_until, so no index on Code.reserved_until: a partial one
            # on status='reserved' filled with dead entries and misled the planner.)
            models.Index(
                fields=["order_id", "status"],
                condition=Q(order_id__isnull=False),
                name="code_order_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Code #{self.pk} ({self.status})"

    def reveal(self) -> str:
        """The plaintext value. Callers must check ownership and record a CodeReveal."""
        return get_keyring().decrypt(
            bytes(self.ciphertext), key_id=self.key_id, seller_id=self.seller_id
        )


class CodeReveal(models.Model):
    """Audit trail: who saw which code values, when, and how."""

    class Kind(models.TextChoices):
        BATCH_DOWNLOAD = "batch_download", _("Downloaded a generated batch")
        REJECTED_DOWNLOAD = "rejected_download", _("Downloaded rejected lines")
        SHOW_CODE = "show_code", _("Show code")
        VALIDATE = "validate", _("Validated a code")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    batch = models.ForeignKey(
        CodeBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    code = models.ForeignKey(
        Code, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    count = models.PositiveIntegerField(default=1)
    ip = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.user} {self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M}"


class WebhookEndpoint(models.Model):
    """Where a seller wants our events, and the secret we sign them with."""

    seller = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="webhook_endpoint",
    )
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=64)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One event to one endpoint: an outbox row, sent and retried by a task.

    The payload never holds a code value; `code` points at the row whose value is
    decrypted into the request body at send time.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Delivered")
        FAILED = "failed", _("Failed")

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=40)
    payload = models.JSONField(default=dict)
    code = models.ForeignKey(
        Code, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint} ({self.status})"
