"""ensure_admin (the staff login) and dev_setup (make run's setup in one process)."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from distribly.accounts.models import User
from listings.models import ExchangeRate

pytestmark = pytest.mark.django_db


def _login(out: str) -> tuple[str, str]:
    email = re.search(r"email\s+(\S+)", out)
    password = re.search(r"password\s+(\S+)", out)
    assert email, out
    assert password, out
    return email.group(1), password.group(1)


def test_ensure_admin_in_development_prints_the_same_working_login_every_run(
    settings, capsys
):
    settings.DEBUG = True
    call_command("ensure_admin")
    first = capsys.readouterr().out
    call_command("ensure_admin")
    second = capsys.readouterr().out
    assert first == second
    email, password = _login(first)
    assert email == "admin@distribly.test"
    assert "make admin-login" in first
    user = authenticate(email=email, password=password)
    assert user is not None
    assert user.is_staff
    assert user.is_superuser
    assert User.objects.count() == 1


def test_ensure_admin_in_development_sets_a_changed_password_back(settings, capsys):
    settings.DEBUG = True
    call_command("ensure_admin")
    email, password = _login(capsys.readouterr().out)
    user = User.objects.get(email=email)
    user.set_password("something else entirely")
    user.save()
    call_command("ensure_admin")
    assert _login(capsys.readouterr().out) == (email, password)
    assert authenticate(email=email, password=password)


def test_ensure_admin_refuses_an_existing_account_that_is_not_staff(
    settings, user_factory
):
    settings.DEBUG = True
    user = user_factory("admin@distribly.test")
    before = user.password
    with pytest.raises(CommandError, match="not a staff account"):
        call_command("ensure_admin")
    user.refresh_from_db()
    assert user.password == before  # refused before anything was touched


def test_ensure_admin_with_debug_off_prints_a_random_password_once(settings, capsys):
    settings.DEBUG = False
    call_command("ensure_admin", "--email", "ops@example.com")
    created = capsys.readouterr().out
    password = created.rsplit("password: ", 1)[1].strip()
    assert authenticate(email="ops@example.com", password=password)
    call_command("ensure_admin", "--email", "ops@example.com")
    again = capsys.readouterr().out
    assert password not in again
    assert "changepassword ops@example.com" in again


def test_dev_setup_seeds_loads_rates_and_prints_the_staff_login_last(
    settings, tmp_path, capsys
):
    settings.DEBUG = True
    settings.MEDIA_ROOT = tmp_path / "media"
    call_command("dev_setup")
    out = capsys.readouterr().out
    lines = out.rstrip().splitlines()
    # The framed login is the last thing printed: the rule, then the box above it.
    assert re.fullmatch(r"\+-+\+", lines[-1])
    box = lines[lines.index(lines[-1]) : -1]
    assert any("admin@distribly.test" in line for line in box)
    assert any("make admin-login" in line for line in box)
    assert out.index("Demo marketplace ready") < out.index("Staff login")
    assert ExchangeRate.objects.exists()
    email, password = _login(out.split("Staff login", 1)[1])
    assert authenticate(email=email, password=password)


def test_dev_setup_refuses_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DJANGO_DEBUG=True"):
        call_command("dev_setup")
