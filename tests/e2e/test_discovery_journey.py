"""Found and trusted at a glance (issue 14), checked in real headless Chromium:
axe-core (vendored, tests/e2e/vendor) runs on every main page at desktop and phone
width and must find no serious or critical violation; no page may be wider than the
viewport; a buyer finds a listing by search (with a typo) and by category, reaches
the seller's storefront from the product page, and is warned when the code does not
work in their country. Screenshots of the public pages at both widths go to
artifacts/e2e/."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image, ImageDraw

from listings.images import cover_from_upload, cover_store
from listings.models import Listing

pytestmark = pytest.mark.django_db(transaction=True)

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
WIDTHS = {
    "desktop": {"width": 1280, "height": 900},
    "phone": {"width": 390, "height": 844},
}
RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations
    .filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
}"""
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


def cover(title: str, colour: str) -> Any:
    image = Image.new("RGB", (1200, 630), colour)
    ImageDraw.Draw(image).text((60, 280), title, fill="white")
    out = io.BytesIO()
    image.save(out, "PNG")
    return cover_from_upload(out)


def marketplace(
    listing_factory, active_listing, approve, user_factory, buy
) -> dict[str, Any]:
    """Two sellers, listings in three categories (one sold out), some sales."""
    studio = user_factory(
        display_name="Pixel Forge Studio", bio="Indie games since 2015."
    )
    cafe = user_factory(display_name="Café Lumière", bio="Coffee in Lyon.")
    game = active_listing(
        seller=studio,
        codes=5,
        title="Starfall Chronicles licence",
        category=Listing.Category.LICENCE_KEYS,
        platform=Listing.Platform.STEAM,
        description="Full game for Windows on Steam.",
    )
    voucher = active_listing(
        seller=cafe,
        codes=3,
        title="Café gift voucher",
        category=Listing.Category.GIFT_VOUCHERS,
        platform=Listing.Platform.IN_STORE,
        region=["FR"],
        restrictions="Redeemable at our Lyon shop only.",
        price=Decimal("15.00"),
        currency="EUR",
    )
    sold_out = active_listing(
        seller=studio,
        codes=1,
        title="Starfall soundtrack code",
        category=Listing.Category.ACTIVATION_CODES,
    )
    for listing, colour in ((game, "#1d3557"), (voucher, "#6d4c41")):
        stored = cover_store(cover(listing.title, colour))
        Listing.objects.filter(pk=listing.pk).update(
            cover_card=stored[0], cover_share=stored[1]
        )
    buyer = user_factory(email="reader@example.com")
    order = buy(game, email=buyer.email)
    buy(sold_out)
    return {
        "studio": studio,
        "game": game,
        "voucher": voucher,
        "sold_out": sold_out,
        "buyer": buyer,
        "order": order,
    }


def signed_in(browser, live_server, user, viewport) -> Any:
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport=viewport)
    context.add_cookies(
        [
            {
                "name": "sessionid",
                "value": client.cookies["sessionid"].value,
                "url": live_server.url,
            }
        ]
    )
    return context


def check(page, url: str, problems: list[str]) -> None:
    page.goto(url)
    page.evaluate(AXE)  # through the DevTools protocol: the site's CSP stays on
    for v in page.evaluate(RUN_AXE):
        problems.append(f"{url}: {v['impact']} {v['id']} ({v['help']}) at {v['nodes']}")
    overflow = page.evaluate(OVERFLOW)
    if overflow > 0:
        problems.append(f"{url}: {overflow}px wider than the viewport")


def test_pages_are_accessible_and_fit_a_phone(
    live_server, browser, shot, settings, tmp_path, listing_factory, active_listing,
    approve, user_factory, buy,
):  # fmt: skip
    settings.SITE_URL = live_server.url
    settings.MEDIA_ROOT = tmp_path / "media"
    m = marketplace(listing_factory, active_listing, approve, user_factory, buy)
    game, studio, order = m["game"], m["studio"], m["order"]
    public = {
        "home": "/",
        "search": reverse("listings:search") + "?q=starfall",
        "category": reverse("listings:category", args=["licence-keys"]),
        "storefront": reverse("listings:storefront", args=[studio.pk]),
        "product": game.get_absolute_url(),
        "sold-out": m["sold_out"].get_absolute_url(),
        "login": reverse("account_login"),
        "signup": reverse("account_signup"),
        "find-codes": reverse("sales:find-codes"),
        "settings": reverse("accounts:settings"),
        "order": order.get_absolute_url(),
    }
    seller_pages = [
        reverse("listings:listing-list"),
        reverse("listings:listing-edit", args=[game.pk]),
        reverse("codes:unique-codes-create"),
        reverse("codes:listing-batches", args=[game.pk]),
        reverse("codes:validate"),
        reverse("sales:sales-list"),
        reverse("sales:earnings"),
        reverse("sales:payouts"),
        reverse("sales:claims"),
        reverse("sales:purchases"),
        reverse("api:keys"),
        reverse("codes:webhooks"),
    ]
    problems: list[str] = []
    for width, viewport in WIDTHS.items():
        guest = browser.new_context(viewport=viewport).new_page()
        for name, path in public.items():
            check(guest, live_server.url + path, problems)
            if name in {"home", "search", "category", "storefront", "product"}:
                shot(guest, f"discovery-{name}-{width}")
        seller = signed_in(browser, live_server, studio, viewport).new_page()
        for path in seller_pages:
            check(seller, live_server.url + path, problems)
        buyer = signed_in(browser, live_server, m["buyer"], viewport).new_page()
        check(buyer, live_server.url + reverse("sales:purchases"), problems)
    assert not problems, "\n".join(problems)


def test_a_buyer_finds_trusts_and_is_warned(
    live_server, browser, settings, tmp_path, listing_factory, active_listing,
    approve, user_factory, buy,
):  # fmt: skip
    settings.SITE_URL = live_server.url
    settings.MEDIA_ROOT = tmp_path / "media"
    m = marketplace(listing_factory, active_listing, approve, user_factory, buy)
    page = browser.new_context(viewport=WIDTHS["phone"]).new_page()
    page.goto(live_server.url + "/")

    # Search from the home page, with a typo and without the accent.
    page.get_by_role("searchbox", name="Search").fill("cafe voucer")
    page.keyboard.press("Enter")
    result = page.get_by_role("link", name="Café gift voucher")
    result.first.click()
    assert "Works in" in page.content()
    assert "France" in page.content()
    assert page.locator("img[src*='covers/']").count() >= 1

    # The seller's name leads to their storefront.
    page.get_by_role("link", name="Café Lumière").first.click()
    assert "Coffee in Lyon." in page.content()

    # A buyer in Spain is warned before paying for a code that works in France only.
    page.goto(live_server.url + reverse("accounts:settings"))
    page.get_by_label("Your country").select_option("ES")
    page.get_by_role("button", name="Save").first.click()
    page.get_by_text("Your settings were saved.").wait_for()
    page.goto(live_server.url + m["voucher"].get_absolute_url())
    warning = page.get_by_role("alert").filter(has_text="Spain")
    assert warning.count() == 1
    assert "France" in page.content()
    # A category page from the home page.
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Licence and serial keys").first.click()
    assert page.get_by_role("link", name="Starfall Chronicles licence").count() >= 1
