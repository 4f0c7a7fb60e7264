from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Claim
from .selectors import SalesFilters


class CheckoutForm(forms.Form):
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, initial=1)
    email = forms.EmailField(
        label=_("Email for your code"),
        help_text=_("We send your code here as soon as your payment is confirmed."),
    )

    def __init__(self, *args: Any, max_quantity: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.label_suffix = ""
        self.fields["quantity"].widget.attrs.update({"max": max_quantity, "min": 1})
        self.max_quantity = max_quantity

    def clean_quantity(self) -> int:
        quantity: int = self.cleaned_data["quantity"]
        if quantity > self.max_quantity:
            raise forms.ValidationError(
                _("You can buy up to %(max)d at a time.") % {"max": self.max_quantity}
                if self.max_quantity
                else _("Sorry, this item is sold out.")
            )
        return quantity


class SalesFilterForm(forms.Form):
    """Filters of Sales: an item (of the seller's own) and a date range."""

    listing = forms.TypedChoiceField(
        label=_("Item"), required=False, coerce=int, empty_value=None
    )
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(
        self, *args: Any, listings: list[tuple[int, str]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.label_suffix = ""
        cast(forms.TypedChoiceField, self.fields["listing"]).choices = [
            ("", _("All items")),
            *listings,
        ]

    def filters(self) -> SalesFilters:
        """The valid filters (none when the form is not valid)."""
        if not self.is_valid():
            return SalesFilters()
        d = self.cleaned_data
        return SalesFilters(
            listing_id=d.get("listing"),
            date_from=d.get("date_from"),
            date_to=d.get("date_to"),
        )


class ClaimForm(forms.Form):
    """Report a problem with a delivered code."""

    reason = forms.ChoiceField(
        label=_("What is wrong?"),
        choices=Claim.Reason.choices,
        widget=forms.RadioSelect,
    )
    message = forms.CharField(
        label=_("What happened?"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_(
            "The seller reads this: say where you used the code and what you saw "
            "(the error message, if any)."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.label_suffix = ""


class ClaimRejectForm(forms.Form):
    message = forms.CharField(
        label=_("Why the code is fine, or what the buyer should try"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.label_suffix = ""


class ClaimEscalateForm(forms.Form):
    escalation_message = forms.CharField(
        label=_("Why the seller's answer does not solve it"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.label_suffix = ""


class FindCodesForm(forms.Form):
    email = forms.EmailField(
        label=_("Email address"),
        help_text=_("The address you gave when you bought."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.label_suffix = ""
