from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from distribly.currency import CHOICES, decimals
from distribly.text import reject_html

from .images import MIN_SIZE, Cover, cover_from_upload
from .models import Listing
from .search import Sort


class ListingForm(forms.ModelForm[Listing]):
    """A listing's details. `cleaned_data["cover"]` is a processed `Cover` (or None:
    unchanged), and `cleaned_data["remove_cover"]` says the seller cleared it."""

    currency = forms.ChoiceField(choices=CHOICES, label=_("Currency"))
    platform = forms.ChoiceField(
        label=_("Platform"),
        choices=[("", _("Not specific")), *Listing.Platform.choices],
        required=False,
        help_text=_("Optional: where the code is redeemed."),
    )
    cover = forms.FileField(
        label=_("Cover image"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/*"}),
    )

    class Meta:
        model = Listing
        fields = [
            "title",
            "category",
            "description",
            "price",
            "currency",
            "instructions",
            "platform",
            "region",
            "restrictions",
            "max_per_order",
            "low_stock_threshold",
            "validity_days",
            "claim_window_days",
            "allow_backorders",
        ]
        labels = {
            "title": _("Product title"),
            "category": _("Category"),
            "region": _("Works in"),
            "description": _("Description"),
            "price": _("Price"),
            "instructions": _("Instructions for the buyer"),
            "restrictions": _("Restrictions"),
            "max_per_order": _("Maximum codes per order"),
            "low_stock_threshold": _("Low-stock alert below"),
            "validity_days": _("Codes last (days)"),
            "claim_window_days": _("Buyers can report a problem for (days)"),
            "allow_backorders": _("Take orders while sold out of codes"),
        }
        help_texts = {
            "description": _(
                "Plain text. Links are shown as links; HTML can't be used."
            ),
            "instructions": _(
                "Sent to the buyer with their code: tell them how to use it. Plain text; "
                "URLs and email addresses become links; HTML can't be used."
            ),
            "restrictions": _(
                'Optional, shown prominently: e.g. "Only redeemable at our Leeds branch".'
            ),
            "category": _("Where buyers find it."),
            "region": _(
                "Optional: the countries where the code works. Leave empty if it works "
                "everywhere. Buyers elsewhere are warned before they pay."
            ),
            "low_stock_threshold": _(
                "Optional: email me when fewer than this many codes are left."
            ),
            "validity_days": _(
                "Optional, for fixed-length subscriptions: how long a code works after "
                "delivery. Buyers see the expiry date and are reminded before it."
            ),
        }
        widgets = {
            "description": forms.Textarea(attrs={"rows": 5}),
            "instructions": forms.Textarea(attrs={"rows": 5}),
            "restrictions": forms.Textarea(attrs={"rows": 2}),
            "region": forms.SelectMultiple(attrs={"size": 6}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.label_suffix = ""
        self.fields["instructions"].required = True
        self.fields["cover"].help_text = _(
            "Optional: a JPEG, PNG, WebP or GIF, at least %(width)d x %(height)d pixels "
            "(1200 x 630 looks best), up to %(limit)d MB. Shown on your cards and when "
            "the page is shared; we crop it to fit and remove its metadata."
        ) % {
            "width": MIN_SIZE[0],
            "height": MIN_SIZE[1],
            "limit": settings.COVER_IMAGE_MAX_BYTES // (1024 * 1024),
        }
        if self.instance.cover_card:
            self.fields["cover"].initial = self.instance.cover_card
        # Left empty, the listing keeps its window (14 days for a new one).
        self.fields["claim_window_days"].required = False
        self.fields["claim_window_days"].help_text = _(
            "After delivery, a buyer can report a code that doesn't work for this many "
            "days. You answer within %(hours)d hours: replace the code, refund it, or "
            "explain why not. Unanswered, it is refunded."
        ) % {"hours": settings.CLAIM_RESPONSE_HOURS}
        self.fields["allow_backorders"].help_text = _(
            "Rarely, a payment arrives after the last code is gone. Ticked, that order "
            "waits (first come, first served) and gets its code when new codes are "
            "approved, or is refunded after %(days)d days. Unticked, it is refunded at once."
        ) % {"days": settings.BACKORDER_DAYS}

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        price, currency = data.get("price"), data.get("currency")
        if (
            price is not None
            and currency
            and decimals(str(currency)) == 0
            and price != price.to_integral_value()
        ):
            self.add_error(
                "price",
                _("%(currency)s has no minor unit: use a whole amount.")
                % {"currency": currency},
            )
        data["remove_cover"] = data.get("cover") is False
        if data.get("cover") is False:
            data["cover"] = None
        return data

    def clean_cover(self) -> Cover | bool | None:
        """A new upload becomes a `Cover`; False when the seller cleared the image."""
        upload = self.cleaned_data.get("cover")
        if not upload or not hasattr(upload, "read"):
            return upload if upload is False else None
        try:
            return cover_from_upload(upload, upload.size)
        finally:
            upload.close()

    def clean_claim_window_days(self) -> int:
        days = self.cleaned_data.get("claim_window_days")
        return self.instance.claim_window_days if days is None else int(days)

    def clean_title(self) -> str:
        return reject_html(self.cleaned_data["title"].strip(), _("The title"))

    def clean_description(self) -> str:
        return reject_html(
            self.cleaned_data["description"].strip(), _("The description")
        )

    def clean_instructions(self) -> str:
        return reject_html(
            self.cleaned_data["instructions"].strip(), _("The instructions")
        )

    def clean_restrictions(self) -> str:
        return reject_html(
            self.cleaned_data["restrictions"].strip(), _("The restrictions")
        )


class WaitlistForm(forms.Form):
    """Notify me when it's back: the address to email."""

    email = forms.EmailField(
        label=_("Your email"),
        max_length=254,
        help_text=_(
            "We email you once, when it's back in stock. You can leave the list at "
            "any time with the link in our emails."
        ),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "waitlist_%s")
        super().__init__(*args, **kwargs)
        self.label_suffix = ""


class SearchForm(forms.Form):
    """Search and filter input (listings.search). Everything is optional; bad input
    is a form error."""

    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=200,
        widget=forms.SearchInput(attrs={"autocomplete": "off"}),
    )
    category = forms.ChoiceField(
        label=_("Category"),
        required=False,
        choices=[("", _("All categories")), *Listing.Category.choices],
    )
    platform = forms.ChoiceField(
        label=_("Platform"),
        required=False,
        choices=[("", _("Any platform")), *Listing.Platform.choices],
    )
    min_price = forms.DecimalField(
        label=_("Lowest price"),
        required=False,
        min_value=Decimal(0),
        max_digits=10,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )
    max_price = forms.DecimalField(
        label=_("Highest price"),
        required=False,
        min_value=Decimal(0),
        max_digits=10,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )
    in_stock = forms.BooleanField(label=_("In stock only"), required=False)
    sort = forms.ChoiceField(label=_("Sort by"), required=False, choices=Sort.CHOICES)

    def __init__(self, *args: Any, fixed_category: bool = False, **kwargs: Any):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        if fixed_category:  # a category page: the category is in the URL
            del self.fields["category"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        low, high = data.get("min_price"), data.get("max_price")
        if low is not None and high is not None and low > high:
            self.add_error(
                "max_price",
                _("The highest price must be at least the lowest price."),
            )
        return data
