"""The codes app's management commands: import, generate, seed the demo."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from codes.models import Code
from listings.models import Listing

pytestmark = pytest.mark.django_db


def test_import_codes_json_report(listing_factory, tmp_path, capsys):
    listing = listing_factory()
    path = tmp_path / "codes.csv"
    path.write_bytes(
        b"code\nCMD-CODE-000001\n\nCMD-CODE-000001\n<p>html</p>\nCMD-CODE-000002\n"
    )
    call_command("import_codes", str(listing.pk), str(path), "--header", "--json")
    data = json.loads(capsys.readouterr().out)
    assert data["accepted"] == 2
    assert data["duplicates"] == [
        {"line": 4, "reason": "Duplicate of line 2 in this file"}
    ]
    assert data["rejected"] == [
        {"line": 5, "reason": "Contains HTML, which can't be used in codes"}
    ]
    assert data["skipped_blank"] == 1
    assert isinstance(data["batch"], int)
    assert isinstance(data["warnings"], list)
    assert path.exists()  # the seller's own file is never deleted


def test_import_codes_unreadable_file_exits_with_one_clear_message(
    listing_factory, tmp_path
):
    listing = listing_factory()
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_codes", str(listing.pk), str(tmp_path / "missing.csv"))
    with pytest.raises(CommandError, match="No listing with id"):
        call_command("import_codes", "999999", str(tmp_path))


def test_generate_codes_command(listing_factory, capsys):
    listing = listing_factory()
    call_command(
        "generate_codes",
        str(listing.pk),
        "15",
        "--length",
        "20",
        "--groups",
        "4",
        "--alphabet",
        "alnum",
    )
    assert "generated 15 code(s)" in capsys.readouterr().out
    values = [c.reveal() for c in Code.objects.filter(listing=listing)]
    assert len(values) == 15
    assert all(len(v) == 24 for v in values)


def test_seed_demo_is_idempotent_with_exact_stock(settings, capsys):
    settings.DEBUG = True
    call_command("seed_demo", "--codes", "7", "--json")
    first = json.loads(capsys.readouterr().out)
    call_command("seed_demo", "--codes", "4", "--json")
    second = json.loads(capsys.readouterr().out)
    assert first == second
    listing = Listing.objects.get(pk=first["listing"]["id"])
    assert listing.status == Listing.Status.ACTIVE
    assert (
        Code.objects.filter(listing=listing, status="available", approved=True).count()
        == 4
    )
    assert set(first) == {"staff", "seller", "buyer", "listing"}
    assert authenticate(
        email=first["seller"]["email"], password=first["seller"]["password"]
    )


def test_seed_demo_refuses_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo")
