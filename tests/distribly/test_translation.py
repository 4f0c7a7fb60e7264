"""Spanish is complete: the catalogue, the key pages and the emails."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.urls import reverse

from tests.helpers import ROOT


def test_the_spanish_catalogue_is_complete_and_compiled():
    po = (ROOT / "locale" / "es" / "LC_MESSAGES" / "django.po").read_text()
    assert (ROOT / "locale" / "es" / "LC_MESSAGES" / "django.mo").exists()
    assert "#, fuzzy" not in po
    entries = re.split(r"\n\n", po)[1:]
    for entry in entries:
        if (
            'msgstr ""' in entry
            and not re.search(r'msgstr ""\n"', entry)
            and "msgstr[" not in entry
        ):
            pytest.fail(f"untranslated entry:\n{entry}")
    assert [code for code, _ in settings.LANGUAGES] == ["en", "es"]


class TextNodes(HTMLParser):
    SKIP = frozenset({"script", "style", "code", "textarea", "option"})

    def __init__(self) -> None:
        super().__init__()
        self.nodes: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skipping += 1

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1

    def handle_data(self, data):
        text = " ".join(data.split())
        if text and not self.skipping:
            self.nodes.append(text)


def texts(html: str) -> set[str]:
    parser = TextNodes()
    parser.feed(html)
    return set(parser.nodes)


# What may read the same in both languages: data, names, numbers and symbols
# (\u00d7 is the multiplication sign, \u2013 the en dash), and order references.
ALLOWED = re.compile(
    r"^([\d\s.,:;·\u00d7=#%()+\-\u2013/$€£¥]|USD|EUR|UTC|CSV|API|Distribly|Webhooks|Total|Error|"
    r"English|Español|US Dollar|Euro|\.csv|#[0-9A-Z]{5}-[0-9A-Z]{5})*$"
)


@pytest.mark.django_db
def test_key_pages_have_no_text_left_in_english(client, active_listing, buy, settings):
    listing = active_listing(
        codes=3, title="Licencia Pro", description="Texto del vendedor."
    )
    order = buy(listing, email="comprador@example.com")
    data = {listing.title, listing.description, listing.seller.public_name, listing.seller.email,
            "comprador@example.com", listing.instructions, listing.price_display, order.amount_display}  # fmt: skip
    client.force_login(listing.seller)
    batch = listing.batches.first()
    pages = ["/", listing.get_absolute_url(), reverse("listings:listing-add"), reverse("listings:listing-list"),
             reverse("codes:unique-codes-create"), batch.get_absolute_url(), reverse("codes:validate"),
             reverse("api:keys"), reverse("codes:webhooks"), reverse("sales:sales-list"),
             reverse("sales:purchases"), reverse("accounts:settings"), order.get_absolute_url(), "/no-such-page/"]  # fmt: skip
    for url in pages:
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        english = texts(client.get(url).content.decode())
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
        spanish_html = client.get(url).content.decode()
        assert '<html lang="es">' in spanish_html, url
        same = {
            t
            for t in english & texts(spanish_html)
            if t not in data and not ALLOWED.match(t)
        }
        same = {t for t in same if not any(d and (d in t or t in d) for d in data)}
        assert not same, f"{url} still in English: {sorted(same)}"


@pytest.mark.django_db
def test_switching_language_changes_pages_and_emails(
    client, active_listing, mailoutbox, django_capture_on_commit_callbacks
):
    client.post(
        reverse("accounts:settings"), {"language": "es", "display_currency": "USD"}
    )
    assert "Tus ajustes actuales: Español" in client.get("/").content.decode()
    listing = active_listing(codes=2)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/items/{listing.pk}/buy/", {"quantity": 1, "email": "es@example.com"}
        )
    with django_capture_on_commit_callbacks(execute=True):
        client.post(response["Location"], {"decision": "pay"})
    [mail] = [m for m in mailoutbox if m.to == ["es@example.com"]]
    assert mail.subject.startswith("Tu código de")
    assert "Gracias por comprar" in mail.body
    assert "Cómo usarlo" in mail.body
