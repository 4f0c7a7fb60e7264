from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from distribly.currency import CHOICES, decimals
from distribly.text import reject_html

from .models import Listing


class ListingForm(forms.ModelForm[Listing]):
    currency = forms.ChoiceField(choices=CHOICES, label=_("Currency"))

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
            "title": _("Product title"),
            "description": _("Description"),
            "price": _("Price"),
            "instructions": _("Instructions for the buyer"),
            "restrictions": _("Restrictions"),
            "max_per_order": _("Maximum codes per order"),
            "low_stock_threshold": _("Low-stock alert below"),
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
            "low_stock_threshold": _(
                "Optional: email me when fewer than this many codes are left."
            ),
        }
        widgets = {
            "description": forms.Textarea(attrs={"rows": 5}),
            "instructions": forms.Textarea(attrs={"rows": 5}),
            "restrictions": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.label_suffix = ""
        self.fields["instructions"].required = True

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
        return data

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
