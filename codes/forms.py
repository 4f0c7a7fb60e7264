from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from distribly.errors import add_field_error

from .importing.generator import (
    ALPHABET_CHOICES,
    DEFAULT_ALPHABET,
    DEFAULT_GROUP,
    DEFAULT_LENGTH,
    GeneratorOptions,
    GeneratorOptionsError,
)

ALLOWED_EXTENSIONS = (".csv", ".txt")
MB = 1024 * 1024


class CodesForm(forms.Form):
    """Where the codes come from: an uploaded .csv file, or the generator."""

    SOURCE_UPLOAD = "upload"
    SOURCE_GENERATE = "generate"

    source = forms.ChoiceField(
        label=_("Codes"),
        choices=[
            (SOURCE_UPLOAD, _("Upload a .csv file of my codes")),
            (SOURCE_GENERATE, _("Generate random codes for me")),
        ],
        initial=SOURCE_UPLOAD,
        widget=forms.RadioSelect,
    )
    file = forms.FileField(
        label=_("Codes file (.csv)"),
        required=False,
        help_text=_(
            "One code per line, up to 255 characters each (text and URLs allowed, no HTML). "
            "UTF-8 or Unicode text."
        ),
    )
    has_header = forms.BooleanField(
        label=_("The first line is a header, not a code"), required=False
    )
    count = forms.IntegerField(label=_("How many codes"), required=False, min_value=1)
    length = forms.IntegerField(
        label=_("Characters per code"),
        required=False,
        initial=DEFAULT_LENGTH,
        min_value=4,
        max_value=64,
    )
    group = forms.IntegerField(
        label=_("Group size (0 for no dashes)"),
        required=False,
        initial=DEFAULT_GROUP,
        min_value=0,
        max_value=64,
    )
    alphabet = forms.ChoiceField(
        label=_("Characters"),
        choices=ALPHABET_CHOICES,
        initial=DEFAULT_ALPHABET,
        required=False,
    )
    # A field called `prefix` shadows Form.prefix (the HTML name prefix) for the type
    # checker only: Django moves declared fields into base_fields, and this form is
    # never given a prefix.
    prefix = forms.CharField(  # type: ignore[assignment]
        label=_("Prefix (optional)"), required=False, max_length=40
    )
    # A setting of the listing (Listing.codes_case_insensitive), asked here beside the
    # codes it governs. Only when the listing is created: its codes' digests depend on it.
    codes_case_insensitive = forms.BooleanField(
        label=_("Codes are case-insensitive"),
        required=False,
        help_text=_(
            "Tick this if upper and lower case don't matter in your codes: ABC-1 and "
            "abc-1 then count as the same code (the second is reported as a "
            "duplicate), and Validate a code finds a code however its letters are "
            "typed. This can't be changed later."
        ),
    )

    def __init__(
        self,
        *args: Any,
        upload_too_large: bool = False,
        new_listing: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.label_suffix = ""
        if not new_listing:  # an existing listing keeps the setting it was created with
            del self.fields["codes_case_insensitive"]
        # The upload was stopped while it streamed in (codes.uploads.UploadLimit).
        self.upload_too_large = upload_too_large
        max_mb = settings.CODES_UPLOAD_MAX_BYTES / MB
        self.fields["file"].help_text += _(
            " Up to %(mb).0f MB and %(lines)s lines."
        ) % {"mb": max_mb, "lines": f"{settings.CODES_UPLOAD_MAX_LINES:,}"}
        count = cast(forms.IntegerField, self.fields["count"])
        count.max_value = settings.CODES_GENERATE_MAX
        count.widget.attrs["max"] = settings.CODES_GENERATE_MAX

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("source") == self.SOURCE_UPLOAD:
            self._clean_upload(data.get("file"))
        elif data.get("source") == self.SOURCE_GENERATE:
            self._clean_generate(data.get("count"))
        return data

    def _clean_upload(self, upload: UploadedFile[bytes] | None) -> None:
        if self.upload_too_large:
            self.add_error(
                "file",
                _("The file is larger than %(limit)s. Split it into several uploads.")
                % {"limit": filesizeformat(settings.CODES_UPLOAD_MAX_BYTES)},
            )
        elif not upload:
            self.add_error("file", _("Choose the .csv file that holds your codes."))
        elif not (upload.name or "").lower().endswith(ALLOWED_EXTENSIONS):
            self.add_error("file", _("Upload a .csv file (one code per line)."))
        elif upload.size == 0:
            self.add_error("file", _("The file is empty."))
        elif (upload.size or 0) > settings.CODES_UPLOAD_MAX_BYTES:
            self.add_error(
                "file",
                _(
                    "The file is %(size).1f MB; the limit is %(limit).0f MB. Split it into several uploads."
                )
                % {
                    "size": (upload.size or 0) / MB,
                    "limit": settings.CODES_UPLOAD_MAX_BYTES / MB,
                },
            )

    def _clean_generate(self, count: int | None) -> None:
        if not count:
            self.add_error("count", _("How many codes should we generate?"))
            return
        try:
            self.generator_options().validate(max_count=settings.CODES_GENERATE_MAX)
        except GeneratorOptionsError as e:
            add_field_error(self, e)

    def generator_options(self) -> GeneratorOptions:
        d = self.cleaned_data
        return GeneratorOptions(
            count=d.get("count") or 0,
            length=d.get("length") or DEFAULT_LENGTH,
            group=DEFAULT_GROUP if d.get("group") is None else d["group"],
            alphabet=d.get("alphabet") or DEFAULT_ALPHABET,
            prefix=(d.get("prefix") or "").strip(),
        )


class ValidateForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=1000,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "autofocus": True}
        ),
        help_text=_("Type or paste the code your buyer gave you."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.label_suffix = ""


class WebhookForm(forms.Form):
    url = forms.URLField(label=_("Endpoint URL"), max_length=500, assume_scheme="https")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.label_suffix = ""
