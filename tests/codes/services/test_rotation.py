"""Key rotation: `rotate_code_keys` re-encrypts every value under the newest key."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from codes.crypto import generate_key
from codes.models import BatchIssue, Code
from tests.helpers import codes_of

pytestmark = pytest.mark.django_db


def test_key_rotation_keeps_every_code_readable(listing_factory, upload, settings):
    listing = listing_factory()
    batch = upload(listing, "ROTATE-ME-ONE\nROTATE-ME-TWO\n<b>rejected</b>\n")
    old = settings.CODES_ENCRYPTION_KEYS[0]
    new = generate_key()
    settings.CODES_ENCRYPTION_KEYS = [new, old]
    assert codes_of(batch) == [
        "ROTATE-ME-ONE",
        "ROTATE-ME-TWO",
    ]  # old key still decrypts
    call_command("rotate_code_keys")
    settings.CODES_ENCRYPTION_KEYS = [new]  # old key removed
    assert codes_of(batch) == ["ROTATE-ME-ONE", "ROTATE-ME-TWO"]
    assert (
        len(
            {c.key_id for c in Code.objects.all()}
            | {i.key_id for i in BatchIssue.objects.all()}
        )
        == 1
    )
    # dedupe still works after rotation: the digest key did not change
    again = upload(listing, "ROTATE-ME-ONE\n")
    assert again.accepted == 0
    assert again.duplicates == 1
