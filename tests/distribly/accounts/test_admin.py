"""The accounts app in Django admin."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_staff_can_open_admin(client, user_factory):
    client.force_login(user_factory(is_staff=True, is_superuser=True))
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/accounts/user/").status_code == 200
