"""Cover images (issue 14): checked by content, size-limited, stripped of metadata,
resized to the card and share sizes, stored through Django's storage API, and
reviewed like the other things buyers see."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from listings.images import CARD_SIZE, SHARE_SIZE, cover_from_upload
from listings.models import Listing, ListingRevision
from listings.services import listing_revision_approve, listing_revision_reject
from tests.listings.test_seller_views import FORM

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def image_bytes(
    size: tuple[int, int] = (1600, 900),
    fmt: str = "JPEG",
    mode: str = "RGB",
    exif: bool = False,
) -> bytes:
    image = Image.new(mode, size, (200, 40, 40, 128) if mode == "RGBA" else "teal")
    out = io.BytesIO()
    extra = {}
    if exif:
        data = Image.Exif()
        data[0x010F] = "SecretCam"  # Make
        data[0x0131] = "Editor 1.0"  # Software
        data[0x0112] = 6  # Orientation: rotate 90° clockwise to display
        extra["exif"] = data.tobytes()
    if fmt == "JPEG":
        extra["comment"] = b"Author: Jane Doe, 12 Home St"
    image.save(out, fmt, **extra)
    return out.getvalue()


def upload(data: bytes, name: str = "cover.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def test_a_cover_is_resized_to_both_sizes_and_loses_its_metadata():
    cover = cover_from_upload(io.BytesIO(image_bytes(exif=True)))
    card, share = (
        Image.open(io.BytesIO(cover.card)),
        Image.open(io.BytesIO(cover.share)),
    )
    assert (card.format, card.size) == ("JPEG", CARD_SIZE)
    assert (share.format, share.size) == ("JPEG", SHARE_SIZE)
    for image, raw in ((card, cover.card), (share, cover.share)):
        assert not image.getexif()
        assert b"SecretCam" not in raw
        assert b"Editor 1.0" not in raw
        assert b"Jane Doe" not in raw  # a JPEG comment too


def test_the_orientation_is_applied_before_the_metadata_goes():
    # 900 x 1600 displayed upright (EXIF says rotate): a portrait photo, cropped
    # from the centre, keeps its colour; the point is that it decodes and fits.
    cover = cover_from_upload(io.BytesIO(image_bytes(size=(1600, 900), exif=True)))
    assert Image.open(io.BytesIO(cover.card)).size == CARD_SIZE


@pytest.mark.parametrize(
    ("fmt", "mode"), [("PNG", "RGBA"), ("WEBP", "RGB"), ("GIF", "P")]
)
def test_png_webp_and_gif_are_accepted_and_flattened(fmt, mode):
    data = image_bytes(fmt=fmt, mode="RGBA" if mode == "RGBA" else "RGB")
    cover = cover_from_upload(io.BytesIO(data))
    assert Image.open(io.BytesIO(cover.share)).mode == "RGB"


def test_the_type_is_checked_by_content_not_by_name():
    with pytest.raises(ValidationError, match="isn't an image we can read"):
        cover_from_upload(io.BytesIO(b"GIF89a but really a script <svg onload=x>"))
    with pytest.raises(ValidationError, match="isn't an image we can read"):
        cover_from_upload(io.BytesIO(image_bytes(fmt="BMP")))
    # A real PNG called .txt is fine: the name says nothing.
    assert cover_from_upload(io.BytesIO(image_bytes(fmt="PNG"))).card


def test_too_big_too_small_and_too_many_pixels_say_what_is_wrong(settings):
    settings.COVER_IMAGE_MAX_BYTES = 1024 * 1024
    with pytest.raises(ValidationError, match="2 MB; the limit is 1 MB"):
        cover_from_upload(io.BytesIO(b"x"), size=2 * 1024 * 1024)
    with pytest.raises(
        ValidationError, match="300 x 200 pixels; use one at least 400 x 210"
    ):
        cover_from_upload(io.BytesIO(image_bytes(size=(300, 200))))
    huge = io.BytesIO()
    Image.new("1", (5000, 4000)).save(huge, "PNG")  # 20 MP, a few KB on disk
    with pytest.raises(ValidationError, match="too large to process"):
        cover_from_upload(huge)


def test_a_seller_lists_with_a_cover_and_the_files_are_stored(seller_client, seller):
    response = seller_client.post(
        reverse("codes:unique-codes-create"),
        {
            **FORM,
            "source": "upload",
            "file": SimpleUploadedFile("codes.csv", b"KEY-1\nKEY-2\n"),
            "cover": upload(image_bytes(), name="holiday.png"),
        },
    )
    assert response.status_code == 302
    listing = Listing.objects.get(seller=seller)
    assert listing.cover_card.name.startswith("covers/")
    assert listing.cover_card.name.endswith("-card.jpg")
    assert (
        "holiday" not in listing.cover_card.name
    )  # the seller's file name is not kept
    assert default_storage.exists(listing.cover_card.name)
    assert default_storage.exists(listing.cover_share.name)


def test_a_bad_cover_is_a_form_error_and_nothing_is_created(seller_client, seller):
    response = seller_client.post(
        reverse("codes:unique-codes-create"),
        {
            **FORM,
            "source": "upload",
            "file": SimpleUploadedFile("codes.csv", b"KEY-1\n"),
            "cover": upload(b"not an image"),
        },
    )
    assert response.status_code == 200
    assert "isn&#x27;t an image we can read" in response.content.decode()
    assert not Listing.objects.filter(seller=seller).exists()


def _edit(client, listing, **data):
    return client.post(
        reverse("listings:listing-edit", args=[listing.pk]),
        {
            **FORM,
            "title": listing.title,
            "price": str(listing.price),
            "instructions": listing.instructions,
            "description": listing.description,
            "restrictions": listing.restrictions,
            **data,
        },
    )


def test_a_new_cover_on_an_approved_listing_waits_for_review(
    client, active_listing, user_factory, django_capture_on_commit_callbacks
):
    listing = active_listing(codes=1)
    client.force_login(listing.seller)
    assert _edit(client, listing, cover=upload(image_bytes())).status_code == 302
    listing.refresh_from_db()
    assert not listing.cover_card  # buyers still see the approved listing
    revision = ListingRevision.objects.get(listing=listing, status="pending")
    proposed = revision.changes["cover_card"]
    assert default_storage.exists(proposed)

    listing_revision_approve(revision=revision, by=user_factory(is_staff=True))
    listing.refresh_from_db()
    assert listing.cover_card.name == proposed

    # Replacing it: once approved, the old files are deleted.
    old = (listing.cover_card.name, listing.cover_share.name)
    _edit(client, listing, cover=upload(image_bytes()))
    revision = ListingRevision.objects.get(listing=listing, status="pending")
    with django_capture_on_commit_callbacks(execute=True):
        listing_revision_approve(revision=revision, by=user_factory(is_staff=True))
    listing.refresh_from_db()
    assert listing.cover_card.name != old[0]
    assert not any(default_storage.exists(name) for name in old)


def test_a_rejected_or_replaced_proposal_leaves_no_files(
    client, active_listing, user_factory, django_capture_on_commit_callbacks
):
    listing = active_listing(codes=1)
    client.force_login(listing.seller)
    with django_capture_on_commit_callbacks(execute=True):
        _edit(client, listing, cover=upload(image_bytes()))
    first = ListingRevision.objects.get(status="pending").changes["cover_card"]
    with django_capture_on_commit_callbacks(execute=True):
        _edit(client, listing, cover=upload(image_bytes()))  # replaces the proposal
    assert not default_storage.exists(first)
    revision = ListingRevision.objects.get(status="pending")
    second = revision.changes["cover_card"]
    with django_capture_on_commit_callbacks(execute=True):
        listing_revision_reject(
            revision=revision, by=user_factory(is_staff=True), reason="Blurry"
        )
    assert not default_storage.exists(second)


def test_a_draft_listing_changes_its_cover_at_once_and_can_remove_it(
    seller_client, listing_factory, seller, django_capture_on_commit_callbacks
):
    listing = listing_factory(seller=seller)  # pending review: not yet approved
    with django_capture_on_commit_callbacks(execute=True):
        _edit(seller_client, listing, cover=upload(image_bytes()))
    listing.refresh_from_db()
    card = listing.cover_card.name
    assert default_storage.exists(card)
    with django_capture_on_commit_callbacks(execute=True):
        _edit(seller_client, listing, **{"cover-clear": "on"})
    listing.refresh_from_db()
    assert not listing.cover_card
    assert not default_storage.exists(card)


def test_a_later_edit_keeps_the_cover_waiting_for_review(
    client, active_listing, django_capture_on_commit_callbacks
):
    listing = active_listing(codes=1)
    client.force_login(listing.seller)
    with django_capture_on_commit_callbacks(execute=True):
        _edit(client, listing, cover=upload(image_bytes()))
    proposed = ListingRevision.objects.get(status="pending").changes["cover_card"]
    with django_capture_on_commit_callbacks(execute=True):
        _edit(client, listing, title="A better title")  # no file sent again
    changes = ListingRevision.objects.get(status="pending").changes
    assert changes["title"] == "A better title"
    assert changes["cover_card"] == proposed
    assert default_storage.exists(proposed)
