from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .currency import CHOICES, decimals
from .models import Listing
from .text import reject_html


class ListingForm(forms.ModelForm):
    currency = forms.ChoiceField(choices=[], label=_("Currency"))

    class Meta:
        model = Listing
        fields = [
            "title",
            "description",
            "price",
            "currency",
            "instructions",
            "restrictions",
            "max_per_order",
            "low_stock_threshold",
        ]
        labels = {
            "title": "Product title",
            "description": "Description",
            "price": "Price",
            "instructions": "Instructions for the buyer",
            "restrictions": "Restrictions",
            "max_per_order": "Maximum codes per order",
            "low_stock_threshold": "Low-stock alert below",
        }
        help_texts = {
            "description": "Plain text. Links are shown as links; HTML can't be used.",
            "instructions": (
                "Sent to the buyer with their code: tell them how to use it. Plain text; "
                "URLs and email addresses become links; HTML can't be used."
            ),
            "restrictions": 'Optional, shown prominently: e.g. "Only redeemable at our Leeds branch".',
            "low_stock_threshold": "Optional: email me when fewer than this many codes are left.",
        }
        widgets = {
            "description": forms.Textarea(attrs={"rows": 5}),
            "instructions": forms.Textarea(attrs={"rows": 5}),
            "restrictions": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.label_suffix = ""
        self.fields["currency"].choices = CHOICES
        self.fields["instructions"].required = True

    def clean(self) -> dict[str, object]:
        data = super().clean()
        price, currency = data.get("price"), data.get("currency")
        if (
            price is not None
            and currency
            and decimals(str(currency)) == 0
            and price != price.to_integral_value()
        ):
            self.add_error(
                "price", f"{currency} has no minor unit: use a whole amount."
            )
        return data

    def clean_title(self) -> str:
        return reject_html(self.cleaned_data["title"].strip(), "The title")

    def clean_description(self) -> str:
        return reject_html(self.cleaned_data["description"].strip(), "The description")

    def clean_instructions(self) -> str:
        return reject_html(
            self.cleaned_data["instructions"].strip(), "The instructions"
        )

    def clean_restrictions(self) -> str:
        return reject_html(
            self.cleaned_data["restrictions"].strip(), "The restrictions"
        )
