from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import ApiKey


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=80, help_text=_("e.g. the site or app that uses it")
    )
    scopes = forms.MultipleChoiceField(
        label=_("What it may do"),
        choices=ApiKey.Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=["verify", "redeem"],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.label_suffix = ""
