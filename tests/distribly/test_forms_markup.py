"""includes/form_fields.html: groups in a fieldset with a legend, every id that
Django's aria-describedby names is rendered, and a lost file is said plainly."""

from __future__ import annotations

import re

import pytest
from django import forms
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.loader import render_to_string
from django.urls import reverse

AGAIN = "Choose the file again: files aren't kept when the form has another error."


class ExampleForm(forms.Form):
    colour = forms.ChoiceField(
        label="Colour",
        choices=[("r", "Red"), ("g", "Green")],
        widget=forms.RadioSelect,
        help_text="Pick one.",
    )
    sizes = forms.MultipleChoiceField(
        label="Sizes",
        choices=[("s", "Small"), ("l", "Large")],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    name = forms.CharField(label="Name", help_text="As on the card.")
    file = forms.FileField(label="File", required=False, help_text="A .csv file.")


def _render(form):
    return render_to_string("includes/form_fields.html", {"form": form})


def _described_ids_exist(html):
    for ids in re.findall(r'aria-describedby="([^"]+)"', html):
        for one in ids.split():
            assert f'id="{one}"' in html, one


def test_choice_groups_are_fieldsets_with_a_legend():
    html = _render(ExampleForm())
    assert re.search(
        r'<fieldset class="field" aria-describedby="id_colour_helptext">\s*<legend>Colour</legend>',
        html,
    )
    assert re.search(r'<fieldset class="field">\s*<legend>Sizes</legend>', html)
    assert '<label for="id_sizes_1">Large</label>' in html
    assert "<label" not in html.split("<legend>Colour</legend>")[0]


def test_every_described_by_id_is_rendered():
    html = _render(ExampleForm())
    assert 'aria-describedby="id_name_helptext"' in html
    assert 'aria-describedby="id_file_helptext"' in html
    _described_ids_exist(html)
    bound = ExampleForm(data={"colour": "x"})
    html = _render(bound)
    assert 'aria-describedby="id_name_helptext id_name_error"' in html
    assert 'aria-describedby="id_colour_helptext id_colour_error"' in html
    _described_ids_exist(html)


def test_a_file_sent_with_a_form_that_has_another_error_must_be_chosen_again():
    upload = SimpleUploadedFile("codes.csv", b"ABC\n")
    assert AGAIN in _render(ExampleForm(data={}, files={"file": upload}))
    assert AGAIN not in _render(ExampleForm())  # not bound
    assert AGAIN not in _render(ExampleForm(data={}))  # no file was sent


@pytest.mark.django_db
def test_the_codes_form_file_field_has_its_help_text_id_and_the_message(
    seller_client,
):
    url = reverse("codes:unique-codes-create")
    html = seller_client.get(url).content.decode()
    assert 'aria-describedby="id_file_helptext"' in html
    assert 'id="id_file_helptext"' in html
    assert re.search(r"<legend>Codes</legend>", html)  # the source radios
    _described_ids_exist(html)
    # The listing details are missing: the page comes back, the file does not.
    response = seller_client.post(
        url,
        {"source": "upload", "file": SimpleUploadedFile("codes.csv", b"A1B2C3D4\n")},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert AGAIN in html
    _described_ids_exist(html)


@pytest.mark.django_db
def test_validate_result_is_focused_and_announced(
    client, seller, active_listing, sold_code
):
    _listing, _order, _code, value = sold_code(active_listing(codes=2, seller=seller))
    client.force_login(seller)
    html = client.post(reverse("codes:validate"), {"code": value}).content.decode()
    assert re.search(
        r'<div role="status" aria-live="polite">\s*<h2 id="validate-result" tabindex="-1" data-focus-on-load>',
        html,
    )
