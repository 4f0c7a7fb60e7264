from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(
        self, email: str, password: str | None = None, **extra: Any
    ) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(
        self, email: str, password: str | None = None, **extra: Any
    ) -> User:
        extra["is_staff"] = extra["is_superuser"] = True
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A Distribly account. Email is the login; anyone can both buy and sell."""

    username = None  # type: ignore[assignment]
    first_name = None  # type: ignore[assignment]
    last_name = None  # type: ignore[assignment]
    email = models.EmailField("email address", unique=True)
    display_name = models.CharField(
        _("seller name"),
        max_length=80,
        blank=True,
        help_text=_("Shown to buyers on your product pages and in their emails."),
    )
    bio = models.TextField(
        _("about you"),
        max_length=500,
        blank=True,
        db_default="",
        help_text=_("A few words for buyers, shown on your storefront. Plain text."),
    )
    language = models.CharField(
        max_length=8, blank=True, help_text="Pages and emails in this language."
    )
    # Where the buyer is: product pages warn when a code does not work there.
    country = CountryField(_("country"), blank=True, default="", db_default="")
    display_currency = models.CharField(
        _("show prices also in"),
        max_length=3,
        blank=True,
        help_text="Prices are charged in the seller's currency; we also show an approximate amount in yours.",
    )
    is_trusted_seller = models.BooleanField(
        "trusted seller",
        default=False,
        help_text="Code batches of a trusted seller are approved without staff review.",
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    # Django's own UserManager takes a username; ours creates users by email.
    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    def __str__(self) -> str:
        return self.email

    @property
    def public_name(self) -> str:
        """The name buyers see: never the email address."""
        return self.display_name or f"Seller #{self.pk}"

    def get_full_name(self) -> str:
        return self.display_name or self.email

    def get_short_name(self) -> str:
        return self.display_name or self.email


class PayoutAccount(models.Model):
    """The seller's account with the payment provider that pays them out (a Stripe
    Connect account; simulated by the `dev` provider). Its state is the provider's,
    copied here when the seller comes back from onboarding and on `account.updated`.
    """

    user = models.OneToOneField(
        User, on_delete=models.CASCADE, related_name="payout_account"
    )
    provider = models.CharField(max_length=20)
    account_id = models.CharField(max_length=255, unique=True)
    details_submitted = models.BooleanField(default=False)
    charges_enabled = models.BooleanField(default=False)
    payouts_enabled = models.BooleanField(default=False)
    # What the provider still needs from the seller (its `requirements.currently_due`).
    currently_due = models.JSONField(default=list, blank=True)
    disabled_reason = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.provider} payout account {self.account_id}"

    @property
    def can_receive(self) -> bool:
        """Sales may be paid out to it: the buyer's money goes straight there."""
        return self.charges_enabled and self.payouts_enabled
