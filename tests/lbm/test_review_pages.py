"""The approve and reject buttons of each review page: a confirmation step, a required reason
to reject and an optional note to approve, both recorded and shown to the applicant."""

import pytest
from django.urls import reverse

from lbm.exceptions import DomainError
from lbm.models import Organization
from notifications import services as lon_services
from tests import factories
from tests.notifications import factories as lon

pytestmark = pytest.mark.django_db


def _decide(name, pk, decision):
    return reverse(f"admin:{name}_decide", args=[pk, decision])


def test_an_organization_is_approved_from_its_page_with_a_note_the_applicant_sees(client):
    org = factories.organization(state="pending")
    reviewer = factories.reviewer()
    client.force_login(reviewer)
    page = client.get(reverse("admin:lbm_organizationreview_change", args=[org.pk]))
    body = page.content.decode()
    approve_url = _decide("lbm_organizationreview", org.pk, "approve")
    assert 'id="lbm-approve"' in body and approve_url in body and 'id="lbm-reject"' in body
    confirm = client.get(approve_url)
    assert confirm.status_code == 200 and "Note for the applicant" in confirm.content.decode()
    done = client.post(approve_url, {"confirm": "yes", "reason": "資料齊全，歡迎使用。"})
    assert done.status_code == 302
    assert done["Location"] == reverse("admin:lbm_organizationreview_changelist")
    org.refresh_from_db()
    assert (org.status, org.review_reason, org.reviewed_by) == (
        "approved",
        "資料齊全，歡迎使用。",
        reviewer,
    )
    assert org.history.first().history_change_reason == "Approved: 資料齊全，歡迎使用。"
    client.force_login(org.contact)  # the applicant sees the note on the organization's page
    own = client.get(reverse("admin:lbm_organization_change", args=[org.pk])).content.decode()
    assert "資料齊全，歡迎使用。" in own


def test_rejecting_from_the_page_needs_a_reason(client):
    org = factories.organization(state="pending")
    client.force_login(factories.reviewer())
    url = _decide("lbm_organizationreview", org.pk, "reject")
    refused = client.post(url, {"confirm": "yes", "reason": "  "})
    assert refused.status_code == 200
    assert refused.context["form"].errors["reason"] == [
        "A written reason is required; the applicant will see it."
    ]
    org.refresh_from_db()
    assert org.status == "pending"
    client.post(url, {"confirm": "yes", "reason": "地址不符"})
    org.refresh_from_db()
    assert (org.status, org.review_reason) == (Organization.Status.REJECTED, "地址不符")


def test_review_buttons_are_for_reviewers_only(client):
    org = factories.organization(state="pending")
    client.force_login(factories.account_manager())
    # Someone who may not look at the queue learns nothing about its items: 404, as for a
    # missing one (docs/permissions.md#the-admin-gate).
    assert client.get(_decide("lbm_organizationreview", org.pk, "approve")).status_code == 404
    client.force_login(factories.reviewer())
    assert client.get(_decide("lbm_organizationreview", 999_999, "approve")).status_code == 404
    assert client.get(_decide("lbm_organizationreview", org.pk, "maybe")).status_code == 404


def test_an_account_link_is_approved_from_its_page(client):
    org = factories.organization(state="approved")
    account = factories.account_for(org)
    from lbm import services

    link = services.link_request(
        organization_id=org.pk, actor=org.contact, account_identifier=account.display_id
    )
    client.force_login(factories.reviewer())
    page = client.get(reverse("admin:lbm_accountlinkreview_change", args=[link.pk]))
    assert 'id="lbm-approve"' in page.content.decode()
    client.post(
        _decide("lbm_accountlinkreview", link.pk, "approve"), {"confirm": "yes", "reason": ""}
    )
    link.refresh_from_db()
    assert link.status == "approved"


def _application_in_review():
    org = factories.organization(state="approved")
    admin = lon.admin_of(org)
    account = factories.account_for(org)
    factories.linked(org, account)
    app = lon_services.application_create(
        actor=admin, account_id=account.pk, scenarios=["delivery"]
    )
    return lon_services.application_submit(actor=admin, application_id=app.pk), admin


def test_a_lon_application_is_rejected_from_its_page_and_the_applicant_sees_why(client):
    app, admin = _application_in_review()
    client.force_login(factories.reviewer())
    url = _decide("notifications_applicationreview", app.pk, "reject")
    page = client.get(reverse("admin:notifications_applicationreview_change", args=[app.pk]))
    assert url in page.content.decode()
    assert client.post(url, {"confirm": "yes", "reason": "請補充使用情境"}).status_code == 302
    app.refresh_from_db()
    assert (app.stage, app.review_reason) == ("rejected", "請補充使用情境")
    client.force_login(admin)
    own = client.get(reverse("admin:notifications_application_change", args=[app.pk]))
    assert "請補充使用情境" in own.content.decode()


def test_approving_a_lon_application_moves_it_on_with_the_note(client):
    app, _admin = _application_in_review()
    client.force_login(factories.reviewer())
    client.post(
        _decide("notifications_applicationreview", app.pk, "approve"),
        {"confirm": "yes", "reason": "情境符合"},
    )
    app.refresh_from_db()
    assert (app.stage, app.review_reason) == ("contract", "情境符合")


def test_a_refused_approval_returns_to_the_page_with_the_reason(client):
    """Moving to testing needs the signed documents: the service refuses, the page says why."""
    app, _admin = _application_in_review()
    reviewer = factories.reviewer()
    lon_services.application_advance(actor=reviewer, application_id=app.pk)  # → contract
    client.force_login(reviewer)
    response = client.post(
        _decide("notifications_applicationreview", app.pk, "approve"),
        {"confirm": "yes", "reason": ""},
        follow=True,
    )
    change = reverse("admin:notifications_applicationreview_change", args=[app.pk])
    assert response.redirect_chain[-1][0] == change
    assert "purchase agreement and NDA" in response.content.decode()
    app.refresh_from_db()
    assert app.stage == "contract"


def test_a_lon_template_is_rejected_from_its_page(client):
    live = lon.live_setup()
    version = lon.version(
        live["account"], admin=live["admin"], reviewer=live["reviewer"], approve=False
    )
    lon_services.template_submit(actor=live["admin"], version_id=version.pk)
    client.force_login(live["reviewer"])
    client.post(
        _decide("notifications_templateversionreview", version.pk, "reject"),
        {"confirm": "yes", "reason": "屬於行銷內容"},
    )
    version.refresh_from_db()
    assert (version.status, version.review_reason) == ("rejected", "屬於行銷內容")


def test_a_service_refusal_lands_on_the_field_it_names():
    """The field-error mapping: a DomainError's field, a ValidationError's dict, a field the
    form does not have (above the form), and a form calling the field differently."""
    from django import forms
    from django.core.exceptions import ValidationError

    from lbm.admin_helpers import show_refusal

    class Form(forms.Form):
        name = forms.CharField()
        user_identifier = forms.CharField()

    form = Form({"name": "x", "user_identifier": "bob"})
    assert form.is_valid()
    show_refusal(form, DomainError("Taken.", field="name"))
    show_refusal(form, DomainError("Already a member.", field="user"), {"user": "user_identifier"})
    show_refusal(form, DomainError("Locked.", details=["Ask LINE."], field="business_number"))
    show_refusal(form, ValidationError({"name": ["Too long."], "__all__": ["Whole form."]}))
    assert form.errors["name"] == ["Taken.", "Too long."]
    assert form.errors["user_identifier"] == ["Already a member."]
    assert form.non_field_errors() == ["Locked.", "Ask LINE.", "Whole form."]
    assert form.data["name"] == "x"  # what was typed stays
