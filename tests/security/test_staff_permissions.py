"""Admin actions need their own permissions (issue 11, "Staff permissions").

Before: the batch and order admins answered True to has_change_permission, so
any staff user, even one without a single permission, could approve batches and
refund orders."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from codes.models import CodeBatch
from sales.models import Order, Refund

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_without_permissions(client, user_factory):
    client.force_login(user_factory(is_staff=True))
    return client


@pytest.fixture
def sold(active_listing, buy):
    listing = active_listing(codes=3)
    return listing, buy(listing, quantity=1)


@pytest.fixture
def imported_batch(listing_factory, upload):
    return upload(listing_factory(), "PERM-CODE-0001\nPERM-CODE-0002\n")


def _act(client, model, action, ids):
    return client.post(
        reverse(f"admin:{model}_changelist"),
        {"action": action, "_selected_action": [str(i) for i in ids]},
    )


def test_a_staff_user_without_permissions_cannot_approve_a_batch(
    staff_without_permissions, imported_batch
):
    client = staff_without_permissions
    assert client.get(reverse("admin:codes_codebatch_changelist")).status_code == 403
    response = _act(client, "codes_codebatch", "approve", [imported_batch.pk])
    assert response.status_code == 403
    imported_batch.refresh_from_db()
    assert imported_batch.status == CodeBatch.Status.IMPORTED


def test_a_staff_user_without_permissions_cannot_refund(
    staff_without_permissions, sold
):
    _listing, order = sold
    response = _act(staff_without_permissions, "sales_order", "refund", [order.pk])
    assert response.status_code == 403
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    assert not Refund.objects.exists()


def test_seeing_batches_is_not_enough_to_approve_them(
    client, user_factory, imported_batch
):
    viewer = user_factory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_codebatch"))
    client.force_login(viewer)
    assert client.get(reverse("admin:codes_codebatch_changelist")).status_code == 200
    _act(client, "codes_codebatch", "approve", [imported_batch.pk])
    imported_batch.refresh_from_db()
    assert imported_batch.status == CodeBatch.Status.IMPORTED


def test_support_can_refund_and_reviewers_can_approve(
    client, user_factory, sold, imported_batch, django_capture_on_commit_callbacks
):
    _listing, order = sold
    support = user_factory(is_staff=True)
    support.groups.add(Group.objects.get(name="Support"))
    client.force_login(support)
    with django_capture_on_commit_callbacks(execute=True):
        _act(client, "sales_order", "refund", [order.pk])
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    # Support cannot review.
    assert (
        _act(client, "codes_codebatch", "approve", [imported_batch.pk]).status_code
        == 403
    )

    reviewer = user_factory(is_staff=True)
    reviewer.groups.add(Group.objects.get(name="Reviewers"))
    client.force_login(reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        _act(client, "codes_codebatch", "approve", [imported_batch.pk])
    imported_batch.refresh_from_db()
    assert imported_batch.status == CodeBatch.Status.APPROVED
    assert _act(client, "sales_order", "refund", [order.pk]).status_code == 403
