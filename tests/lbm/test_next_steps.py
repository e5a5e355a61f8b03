"""What an organization's page tells its people: the next steps of a draft or rejected
organization, and that a deleted one was deleted, and when."""

import pytest
from django.urls import reverse
from django.utils import timezone

from lbm.models import Organization
from tests import factories

pytestmark = pytest.mark.django_db


def _page(client, org):
    return client.get(reverse("admin:lbm_organization_change", args=[org.pk]))


def test_a_draft_with_an_unverified_contact_says_to_verify_and_cannot_be_submitted(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    org = factories.organization(state="draft", verified=False, name="莎莉")
    client.force_login(org.contact)
    page = _page(client, org).content.decode()
    assert 'class="lbm-step lbm-step-verify" data-done="no"' in page
    assert 'class="lbm-step lbm-step-business" data-done="yes"' in page
    assert 'id="lbm-submit" disabled' in page and "not been verified" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:lbm_organization_next_step", args=[org.pk]), {"step": "verify"})
    assert len(mailoutbox) == 1


def test_a_verified_draft_is_submitted_from_its_page(client):
    org = factories.organization(state="draft", name="莎莉")
    client.force_login(org.contact)
    page = _page(client, org).content.decode()
    assert 'id="lbm-submit" disabled' not in page and 'id="lbm-submit"' in page
    client.post(reverse("admin:lbm_organization_next_step", args=[org.pk]), {"step": "submit"})
    org.refresh_from_db()
    assert org.status == "pending"
    assert 'id="lbm-pending-note"' in _page(client, org).content.decode()


def test_a_rejected_organization_shows_the_reviewers_reason(client):
    org = factories.organization(state="rejected", name="兔兔")
    viewer = factories.member(org, "viewer")
    client.force_login(org.contact)
    page = _page(client, org).content.decode()
    assert 'id="lbm-review-reason"' in page and "資料不符" in page
    assert 'class="lbm-step lbm-step-fix"' in page
    client.force_login(viewer)
    page = _page(client, org).content.decode()
    assert "資料不符" in page and 'id="lbm-submit"' not in page
    assert "Only the organization's Admins" in page


def test_members_of_a_deleted_organization_are_told_it_was_deleted_and_when(client):
    org = factories.organization(state="deleted", name="可妮")
    when = timezone.localtime(Organization.objects.get(pk=org.pk).deleted_at).date()
    client.force_login(org.contact)
    index = client.get(reverse("admin:index")).content.decode()
    assert "可妮" in index and str(when) in index and "lbm-deleted-org" in index
    response = _page(client, org)
    assert response.status_code == 410 and str(when) in response.content.decode()
    stranger = factories.organization(state="approved", name="別家").contact
    client.force_login(stranger)
    assert _page(client, org).status_code == 404
