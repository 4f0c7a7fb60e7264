"""Cover images: checked by their content, stripped of metadata, resized with Pillow.

A seller's upload is never stored as sent. It is decoded (so only real JPEG, PNG,
WebP or GIF images pass, whatever the file is called), turned upright from its EXIF
orientation, flattened onto white, and re-encoded without any metadata (camera,
GPS, author) in the two sizes the pages use:
- the card thumbnail (640 x 360, 16:9) on home, search, category and storefront
  cards, the product page and the embed card;
- the share image (1200 x 630) for Open Graph and Twitter cards.
Both are cropped to fill from the centre. The files go through Django's storage API,
so local files and S3-compatible stores work the same.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

CARD_SIZE = (640, 360)
SHARE_SIZE = (1200, 630)
MIN_SIZE = (400, 210)
# Decoding costs about 4 bytes a pixel (more while converting): past 16 megapixels
# (plenty for a 1200 x 630 result) an image is refused before it is decoded.
MAX_PIXELS = 16_000_000
FORMATS = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP", "GIF": "GIF"}


@dataclass(frozen=True)
class Cover:
    """A processed cover in its two sizes, not yet stored."""

    card: bytes
    share: bytes


def cover_from_upload(upload: IO[bytes], size: int | None = None) -> Cover:
    """Check and resize an uploaded cover image; ValidationError says what is wrong."""
    limit = settings.COVER_IMAGE_MAX_BYTES
    if size is not None and size > limit:
        raise ValidationError(
            _("The image is %(size)s MB; the limit is %(limit)s MB.")
            % {"size": _megabytes(size), "limit": _megabytes(limit)}
        )
    image = _decode(upload)
    if image.width < MIN_SIZE[0] or image.height < MIN_SIZE[1]:
        raise ValidationError(
            _(
                "The image is %(width)d x %(height)d pixels; use one at least "
                "%(min_width)d x %(min_height)d (1200 x 630 looks best)."
            )
            % {
                "width": image.width,
                "height": image.height,
                "min_width": MIN_SIZE[0],
                "min_height": MIN_SIZE[1],
            }
        )
    return Cover(card=_render(image, CARD_SIZE), share=_render(image, SHARE_SIZE))


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.1f}".removesuffix(".0")


def _decode(upload: IO[bytes]) -> Image.Image:
    unreadable = ValidationError(
        _("This file isn't an image we can read: upload a JPEG, PNG, WebP or GIF.")
    )
    try:
        upload.seek(0)
        with Image.open(upload, formats=list(FORMATS)) as probe:
            if probe.format not in FORMATS:
                raise unreadable
            if probe.width * probe.height > MAX_PIXELS:
                raise ValidationError(
                    _(
                        "The image is %(width)d x %(height)d pixels, too large to "
                        "process: use one under 16 megapixels."
                    )
                    % {"width": probe.width, "height": probe.height}
                )
            probe.seek(0)  # the first frame of an animation
            image = ImageOps.exif_transpose(probe)
            image.load()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError) as e:
        raise unreadable from e
    except (SyntaxError, ValueError, EOFError) as e:  # Pillow's own decode errors
        raise unreadable from e
    if image.mode in ("RGBA", "LA", "P"):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def _render(image: Image.Image, size: tuple[int, int]) -> bytes:
    fitted = ImageOps.fit(image, size, Image.Resampling.LANCZOS)
    # Pillow carries some metadata in `info` into the saved file (a JPEG comment,
    # for one): cleared, and nothing passed to save, the file carries pixels only.
    fitted.info.clear()
    out = io.BytesIO()
    fitted.save(out, "JPEG", quality=85, optimize=True, progressive=True)
    return out.getvalue()


def cover_store(cover: Cover) -> tuple[str, str]:
    """Store both sizes under unguessable names; their storage names (card, share)."""
    stem = f"covers/{secrets.token_urlsafe(12)}"
    card = default_storage.save(f"{stem}-card.jpg", ContentFile(cover.card))
    share = default_storage.save(f"{stem}-share.jpg", ContentFile(cover.share))
    return card, share


def cover_delete(*names: str | None) -> None:
    """Delete stored cover files (missing ones are fine)."""
    for name in names:
        if name:
            default_storage.delete(name)
