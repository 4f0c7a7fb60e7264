"""Staff review in one look (issue 14): the queue, the review page, deciding a listing
and its batches together, the count on the admin index, and who may do it."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from codes.models import Code, CodeBatch
from listings.images import cover_from_upload
from listings.models import Listing, ListingRevision
from listings.services import listing_update
from sales.models import Claim
from tests.sales.test_claims import report

pytestmark = pytest.mark.django_db

QUEUE = reverse("admin:codes_review_queue")


def page_of(listing):
    return reverse("admin:codes_review_listing", args=[listing.pk])


def approve_url(listing):
    return reverse("admin:codes_review_approve", args=[listing.pk])


def reject_url(listing):
    return reverse("admin:codes_review_reject", args=[listing.pk])


def seen(listing, batches=(), *, revision=None, whole=True):
    """The review page's hidden fields: what the reviewer saw."""
    data = {"batch": [str(b.pk) for b in batches]}
    if whole:  # the version of the listing the page showed
        listing.refresh_from_db()
        data["listing"] = listing.updated_at.isoformat()
    if revision is not None:
        data["revision"] = str(revision.pk)
    return data


@pytest.fixture
def reviewer(client, user_factory):
    user = user_factory(is_staff=True)
    user.groups.add(Group.objects.get(name="Reviewers"))
    client.force_login(user)
    return client


@pytest.fixture
def support(client, user_factory):
    """Staff without the review permissions."""
    user = user_factory(is_staff=True)
    user.groups.add(Group.objects.get(name="Support"))
    client.force_login(user)
    return client


def _age(obj, days):
    """Make a listing or batch look like it has waited `days` days."""
    then = timezone.now() - timedelta(days=days)
    if isinstance(obj, Listing):
        Listing.objects.filter(pk=obj.pk).update(updated_at=then)
    else:
        CodeBatch.objects.filter(pk=obj.pk).update(imported_at=then)


def test_queue_lists_each_waiting_listing_once_oldest_first(
    reviewer, listing_factory, active_listing, upload
):
    new = listing_factory(title="Brand new listing")
    new_batch = upload(new, "NEW-CODE-AAAA-0001\nNEW-CODE-AAAA-0002\n")
    _age(new, 1)
    _age(new_batch, 1)
    restocked = active_listing(codes=1, title="Restocked listing")
    batch_a = upload(restocked, "RESTOCK-CODE-AAAA-01\n")
    upload(restocked, "RESTOCK-CODE-BBBB-01\nRESTOCK-CODE-BBBB-02\n")
    _age(batch_a, 3)  # the oldest wait of all
    changed = active_listing(codes=1, title="Changed listing")
    listing_update(listing=changed, title="Changed listing, new title")
    listing_factory(title="Quiet listing", status=Listing.Status.ACTIVE)

    html = reviewer.get(QUEUE).content.decode()

    assert html.count("Restocked listing") == 1
    assert "Quiet listing" not in html
    order = [html.index(t) for t in ("Restocked", "Brand new", "Changed listing")]
    assert order == sorted(order)
    assert "2 batches with 3 codes" in html
    assert "New listing; 1 batch with 2 codes" in html
    assert "Changes: title" in html
    assert "3 listings waiting for review" in html


def test_queue_flags_foreign_duplicates_and_guessable_codes(
    reviewer, listing_factory, upload
):
    upload(listing_factory(), "SHARED-CODE-AAAA-01\n")
    leaked = listing_factory(title="Leaked codes")
    upload(leaked, "SHARED-CODE-AAAA-01\n")
    guessable = listing_factory(title="Sequential codes")
    upload(guessable, "\n".join(f"VOUCHER-{n:06}" for n in range(100, 200)))

    html = reviewer.get(QUEUE).content.decode()

    assert "1 codes held by another seller" in html
    assert "Guessable codes" in html


def test_queue_takes_a_fixed_number_of_queries(
    reviewer, listing_factory, active_listing, upload
):
    for n in range(3):
        upload(listing_factory(), f"ONE-MORE-CODE-{n:04}\n")
    listing_update(listing=active_listing(codes=1), title="Retitled")
    with CaptureQueriesContext(connection) as few:
        reviewer.get(QUEUE)
    for n in range(5):
        upload(listing_factory(), f"EVEN-MORE-CODE-{n:04}\n")
    with CaptureQueriesContext(connection) as many:
        assert reviewer.get(QUEUE).content.decode().count("New listing") == 8
    assert len(many) == len(few)


def test_review_page_shows_listing_sample_analysis_and_duplicates(
    reviewer, listing_factory, upload
):
    listing = listing_factory(
        title="Office suite key",
        restrictions="Not for resale",
        instructions="Redeem at https://example.com/redeem",
        category=Listing.Category.LICENCE_KEYS,
        platform=Listing.Platform.WINDOWS,
        region=["DE", "FR"],
    )
    upload(listing_factory(), "VOUCHER-000150\n")  # another seller holds one
    upload(listing, "\n".join(f"VOUCHER-{n:06}" for n in range(100, 200)))

    html = reviewer.get(page_of(listing)).content.decode()

    for shown in (
        "Office suite key",
        listing.price_display,
        "Licence and serial keys",
        "Windows",
        "Germany, France",
        "Not for resale",
        "https://example.com/redeem",
        "look sequential",
        "<strong>1</strong>",  # held by another seller
        "•",
    ):
        assert shown in html, shown
    assert "VOUCHER-000150" not in html
    assert "VOUCHER-000100" not in html
    assert 'type="submit" class="default" value="Approve"' in html
    assert '<label for="id_reason"' in html


def test_review_page_shows_proposed_values_beside_live_ones(reviewer, active_listing):
    listing = active_listing(codes=1, title="Old title")
    listing_update(listing=listing, title="New title", price="12.50")

    html = reviewer.get(page_of(listing)).content.decode()

    start = html.index('id="review-changes"')
    changes = html[start : html.index("</table>", start)]
    assert "Old title" in changes
    assert "New title" in changes
    assert "9.99 USD" in changes
    assert "12.50 USD" in changes
    assert "once the changes are approved" in html


def test_review_page_shows_a_proposed_cover_and_regions(
    reviewer, active_listing, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    image = io.BytesIO()
    Image.new("RGB", (1600, 900), "teal").save(image, "JPEG")
    image.seek(0)
    listing = active_listing(codes=1)
    listing_update(listing=listing, cover=cover_from_upload(image), region=["DE", "FR"])
    proposed = ListingRevision.objects.get(listing=listing).changes["cover_card"]

    html = reviewer.get(page_of(listing)).content.decode()

    start = html.index('id="review-changes"')
    changes = html[start : html.index("</table>", start)]
    assert "No cover image" in changes
    assert f'src="{settings.MEDIA_URL}{proposed}"' in changes
    assert "Anywhere" in changes
    assert "Germany, France" in changes
    assert "Changes: cover image, works in" in reviewer.get(QUEUE).content.decode()


def test_approve_puts_listing_and_batches_on_sale_together(
    reviewer,
    seller,
    listing_factory,
    upload,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    listing = listing_factory(seller=seller)
    first = upload(listing, "TOGETHER-CODE-0001\n")
    second = upload(listing, "TOGETHER-CODE-0002\nTOGETHER-CODE-0003\n")

    with django_capture_on_commit_callbacks(execute=True):
        response = reviewer.post(approve_url(listing), seen(listing, [first, second]))

    assert response.status_code == 302
    assert response["Location"] == QUEUE
    listing.refresh_from_db()
    assert listing.status == Listing.Status.ACTIVE  # on sale at once
    assert {b.status for b in listing.batches.all()} == {CodeBatch.Status.APPROVED}
    assert Code.objects.filter(listing=listing, approved=True).count() == 3
    assert len(mailoutbox) == 3  # the listing and each batch, by their services
    assert all(m.to == [seller.email] for m in mailoutbox)
    queue = reviewer.get(QUEUE).content.decode()
    assert "Approved: the listing and 2 code batches" in queue
    assert listing.title not in queue


def test_approve_changes_and_new_batch_of_an_approved_listing(
    reviewer, active_listing, upload, django_capture_on_commit_callbacks
):
    listing = active_listing(codes=1)
    listing_update(listing=listing, title="Approved new title")
    revision = ListingRevision.objects.get(listing=listing, status="pending")
    batch = upload(listing, "RESTOCK-TOGETHER-01\n")

    with django_capture_on_commit_callbacks(execute=True):
        reviewer.post(
            approve_url(listing), seen(listing, [batch], revision=revision, whole=False)
        )

    listing.refresh_from_db()
    revision.refresh_from_db()
    batch.refresh_from_db()
    assert listing.title == "Approved new title"
    assert revision.status == ListingRevision.Status.APPROVED
    assert batch.status == CodeBatch.Status.APPROVED


def test_reject_needs_a_reason_and_changes_nothing_without_one(
    reviewer, listing_factory, upload, mailoutbox
):
    listing = listing_factory()
    batch = upload(listing, "NO-REASON-CODE-01\n")

    response = reviewer.post(
        reject_url(listing), {**seen(listing, [batch]), "reason": "  "}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "Give the seller a reason for the rejection." in html
    assert 'aria-invalid="true"' in html
    assert "autofocus" in html
    listing.refresh_from_db()
    batch.refresh_from_db()
    assert listing.status == Listing.Status.PENDING_REVIEW
    assert batch.status == CodeBatch.Status.IMPORTED
    assert mailoutbox == []


def test_reject_with_reason_rejects_all_and_emails_the_seller(
    reviewer,
    seller,
    listing_factory,
    upload,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    listing = listing_factory(seller=seller)
    batch = upload(listing, "REJECTED-CODE-0001\n")

    with django_capture_on_commit_callbacks(execute=True):
        reviewer.post(
            reject_url(listing),
            {**seen(listing, [batch]), "reason": "Codes look leaked"},
        )

    listing.refresh_from_db()
    batch.refresh_from_db()
    assert listing.status == Listing.Status.REJECTED
    assert batch.status == CodeBatch.Status.REJECTED
    assert set(batch.codes.values_list("status", flat=True)) == {"withdrawn"}
    assert mailoutbox
    assert all("Codes look leaked" in m.body for m in mailoutbox)
    assert all(m.to == [seller.email] for m in mailoutbox)


def test_a_refusal_leaves_everything_as_it_was_and_shows_a_message(
    reviewer,
    listing_factory,
    upload,
    approve,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    listing = listing_factory()
    fresh = upload(listing, "STALE-CODE-0001\n")
    decided = upload(listing, "STALE-CODE-0002\n")
    approve(batch=decided)  # another reviewer, after this page was opened
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = reviewer.post(
            approve_url(listing), seen(listing, [fresh, decided]), follow=True
        )

    assert response.status_code == 200
    assert "Only imported batches can be approved" in response.content.decode()
    listing.refresh_from_db()
    fresh.refresh_from_db()
    assert listing.status == Listing.Status.PENDING_REVIEW
    assert fresh.status == CodeBatch.Status.IMPORTED
    assert mailoutbox == []


def test_a_decision_acts_only_on_what_the_reviewer_saw(
    reviewer, listing_factory, upload, django_capture_on_commit_callbacks
):
    listing = listing_factory()
    seen_batch = upload(listing, "SEEN-CODE-0001\n")
    later = upload(listing, "ARRIVED-LATER-0001\n")

    with django_capture_on_commit_callbacks(execute=True):
        reviewer.post(approve_url(listing), seen(listing, [seen_batch]))

    later.refresh_from_db()
    assert later.status == CodeBatch.Status.IMPORTED  # still in the queue
    assert "1 batch with 1 code" in reviewer.get(QUEUE).content.decode()


def test_a_listing_edited_after_the_page_was_shown_is_not_approved(
    reviewer, listing_factory, upload, django_capture_on_commit_callbacks
):
    listing = listing_factory(title="Innocent title")
    batch = upload(listing, "SEEN-CODE-0002\n")
    shown = seen(listing, [batch])
    # The seller edits the listing in review in place, after the page was shown.
    Listing.objects.filter(pk=listing.pk).update(
        title="Changed title", updated_at=timezone.now() + timedelta(seconds=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = reviewer.post(approve_url(listing), shown, follow=True)
    assert "changed this listing after you opened it" in response.content.decode()
    listing.refresh_from_db()
    batch.refresh_from_db()
    assert listing.status == Listing.Status.PENDING_REVIEW
    assert batch.status == CodeBatch.Status.IMPORTED  # all or nothing


def test_staff_without_review_permission_get_403(support, listing_factory, upload):
    listing = listing_factory()
    batch = upload(listing, "FORBIDDEN-CODE-01\n")

    assert support.get(QUEUE).status_code == 403
    assert support.get(page_of(listing)).status_code == 403
    assert support.post(approve_url(listing), seen(listing, [batch])).status_code == 403
    assert (
        support.post(
            reject_url(listing), {**seen(listing, [batch]), "reason": "No"}
        ).status_code
        == 403
    )
    listing.refresh_from_db()
    assert listing.status == Listing.Status.PENDING_REVIEW
    assert (
        "waiting for review" not in support.get(reverse("admin:index")).content.decode()
    )


def test_a_batch_reviewer_cannot_approve_a_listing(
    client, user_factory, listing_factory, upload
):
    batch_reviewer = user_factory(is_staff=True)
    batch_reviewer.user_permissions.add(
        Permission.objects.get(codename="review_codebatch")
    )
    client.force_login(batch_reviewer)
    listing = listing_factory()
    batch = upload(listing, "HALF-PERMS-CODE-01\n")

    assert client.get(page_of(listing)).status_code == 200
    assert client.post(approve_url(listing), seen(listing, [batch])).status_code == 403
    batch.refresh_from_db()
    assert batch.status == CodeBatch.Status.IMPORTED


def test_decisions_are_post_only(reviewer, listing_factory):
    listing = listing_factory()
    assert reviewer.get(approve_url(listing)).status_code == 405
    assert reviewer.get(reject_url(listing)).status_code == 405


def test_decisions_need_the_csrf_token(user_factory, listing_factory):
    csrf_client = Client(enforce_csrf_checks=True)
    user = user_factory(is_staff=True)
    user.groups.add(Group.objects.get(name="Reviewers"))
    csrf_client.force_login(user)
    listing = listing_factory()
    assert csrf_client.post(approve_url(listing), seen(listing)).status_code == 403
    listing.refresh_from_db()
    assert listing.status == Listing.Status.PENDING_REVIEW


def test_admin_index_shows_how_many_wait(reviewer, listing_factory, upload):
    listing_factory()
    upload(listing_factory(), "INDEX-COUNT-CODE-01\n")
    listing_factory(status=Listing.Status.ACTIVE)

    html = reviewer.get(reverse("admin:index")).content.decode()

    assert "2 waiting for review" in html
    assert QUEUE in html


# Escalated claims get the same one-look page (sales.admin.ClaimAdmin); the tests
# sit here with the rest of issue 14's staff review.


@pytest.fixture
def escalated(active_listing, buy, django_capture_on_commit_callbacks):
    listing = active_listing(codes=2)
    order = buy(listing, email="buyer@example.com")
    code = Code.objects.get(order_id=order.pk)
    with django_capture_on_commit_callbacks(execute=True):
        report(Client(), order, code)  # the buyer, a guest
    claim = Claim.objects.get()
    Claim.objects.filter(pk=claim.pk).update(
        status="escalated", seller_message="Works for me", escalated_at=timezone.now()
    )
    return claim


def decide_url(claim):
    return reverse("admin:sales_claim_decide", args=[claim.pk])


def test_escalated_claim_page_has_the_decision_buttons(staff_client, escalated):
    html = staff_client.get(
        reverse("admin:sales_claim_change", args=[escalated.pk])
    ).content.decode()
    assert "Works for me" in html  # the evidence
    assert 'name="decision" value="replace"' in html
    assert 'name="decision" value="refund"' in html
    assert '<label for="id_reason"' in html
    assert decide_url(escalated) in html


def test_staff_replace_an_escalated_claim_from_its_page(
    staff_client, escalated, mailoutbox, django_capture_on_commit_callbacks
):
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(decide_url(escalated), {"decision": "replace"})
    assert response.status_code == 302
    escalated.refresh_from_db()
    assert escalated.status == "replaced"
    assert any(m.to == ["buyer@example.com"] for m in mailoutbox)


def test_rejecting_a_claim_needs_a_reason_shown_as_a_message(
    staff_client, escalated, django_capture_on_commit_callbacks
):
    response = staff_client.post(
        decide_url(escalated), {"decision": "reject", "reason": " "}, follow=True
    )
    assert "Tell the buyer why" in response.content.decode()
    escalated.refresh_from_db()
    assert escalated.status == "escalated"
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            decide_url(escalated),
            {"decision": "reject", "reason": "Redeemed on the 3rd"},
        )
    escalated.refresh_from_db()
    assert escalated.status == "rejected"
    assert escalated.staff_message == "Redeemed on the 3rd"


def test_deciding_a_claim_needs_the_permission(client, user_factory, escalated):
    client.force_login(user_factory(is_staff=True))
    assert client.post(decide_url(escalated), {"decision": "refund"}).status_code == 403
    escalated.refresh_from_db()
    assert escalated.status == "escalated"
