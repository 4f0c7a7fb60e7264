from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from distribly.currency import CHOICES
from distribly.text import reject_html

from .models import User


class SignupForm(forms.Form):
    """Extra signup fields, used by allauth through ACCOUNT_SIGNUP_FORM_CLASS."""

    display_name = forms.CharField(
        label=_("Your name or shop name"),
        max_length=80,
        required=False,
        help_text=_("Shown to buyers if you sell. You can change it later."),
    )

    def signup(self, request: HttpRequest, user: User) -> None:
        user.display_name = self.cleaned_data["display_name"].strip()
        user.save(update_fields=["display_name"])


class ProfileForm(forms.ModelForm[User]):
    class Meta:
        model = User
        fields = ["display_name", "bio"]
        widgets = {"bio": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def clean_bio(self) -> str:
        return reject_html(self.cleaned_data["bio"].strip(), _("The text about you"))


class PreferencesForm(forms.Form):
    """Display preferences; guests keep them in a cookie, accounts on the user."""

    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    display_currency = forms.ChoiceField(
        label=_("Show prices also in"),
        choices=CHOICES,
        help_text=_(
            "You always pay in the seller's currency; we show an approximate amount in yours."
        ),
    )
    country = forms.ChoiceField(
        label=_("Your country"),
        choices=lambda: [("", _("Not set")), *countries],
        required=False,
        help_text=_("Product pages warn you when a code doesn't work there."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
