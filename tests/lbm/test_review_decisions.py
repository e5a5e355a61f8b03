"""One review decision (lbm.reviews) for organizations, account links, template versions and
notification-message applications: the same decisions, the same errors, the same record of who,
when and why."""

import pytest

from lbm import reviews, services
from lbm.exceptions import DomainError
from notifications import services as notifications
from notifications.exceptions import ApplicationRefused, TemplateRefused
from tests import factories
from tests.notifications import factories as lon

pytestmark = pytest.mark.django_db


def _pending_organization(reviewer):
    return factories.organization(state="pending")


def _pending_link(reviewer):
    org = factories.organization(state="approved")
    return services.link_request(
        organization_id=org.pk,
        actor=org.contact,
        account_identifier=factories.account_for(org).display_id,
    )


def _pending_version(reviewer):
    org = factories.organization(state="approved")
    account = factories.linked(org).account
    version = lon.version(account, admin=lon.admin_of(org), reviewer=reviewer, approve=False)
    notifications.template_submit(actor=lon.admin_of(org), version_id=version.pk)
    return version


def _review(obj, reviewer, decision, reason=""):
    if obj._meta.model_name == "organization":
        return services.organization_review(
            organization_id=obj.pk, decision=decision, actor=reviewer, reason=reason
        )
    if obj._meta.model_name == "accountlink":
        return services.link_review(
            link_id=obj.pk, decision=decision, actor=reviewer, reason=reason
        )
    return notifications.template_review(
        actor=reviewer, version_id=obj.pk, decision=decision, reason=reason
    )


PENDING = [_pending_organization, _pending_link, _pending_version]


@pytest.mark.parametrize("pending", PENDING)
def test_a_rejection_records_who_when_and_the_reason(pending):
    reviewer = factories.reviewer()
    obj = pending(reviewer)
    decided = _review(obj, reviewer, "rejected", "  The provider name is wrong.  ")
    decided.refresh_from_db()
    assert (decided.status, decided.reviewed_by, decided.review_reason) == (
        "rejected",
        reviewer,
        "The provider name is wrong.",
    )
    assert decided.reviewed_at is not None
    latest = decided.history.first()
    assert (latest.history_user, latest.history_change_reason) == (
        reviewer,
        "Rejected: The provider name is wrong.",
    )


@pytest.mark.parametrize("pending", PENDING)
def test_the_same_errors_for_every_reviewed_object(pending):
    reviewer = factories.reviewer()
    obj = pending(reviewer)
    with pytest.raises(DomainError, match="either approve or reject"):
        _review(obj, reviewer, "maybe")
    with pytest.raises(DomainError, match="needs a written reason"):
        _review(obj, reviewer, "rejected", "   ")
    obj.refresh_from_db()
    assert obj.status == "pending"


def test_a_template_refusal_keeps_its_own_error_class():
    reviewer = factories.reviewer()
    with pytest.raises(TemplateRefused, match="needs a written reason"):
        _review(_pending_version(reviewer), reviewer, "rejected")


def _application_under_review(reviewer):
    org = factories.organization(state="approved")
    account = factories.linked(org).account
    admin = lon.admin_of(org)
    app = notifications.application_create(actor=admin, account_id=account.pk, scenarios=["bill"])
    return notifications.application_submit(actor=admin, application_id=app.pk)


def test_an_application_rejection_without_a_reason_has_the_organization_error():
    reviewer = factories.reviewer()
    with pytest.raises(DomainError) as organization:
        _review(_pending_organization(reviewer), reviewer, "rejected", "   ")
    app = _application_under_review(reviewer)
    with pytest.raises(ApplicationRefused) as application:
        notifications.application_reject(actor=reviewer, application_id=app.pk, reason="   ")
    assert str(application.value) == str(organization.value)
    app.refresh_from_db()
    assert app.stage == "scenario_review"


def test_an_application_stage_move_is_recorded_by_the_shared_helper(monkeypatch):
    reviewer = factories.reviewer()
    app = _application_under_review(reviewer)
    calls, stage_record = [], reviews.stage_record

    def spy(obj, **kwargs):
        calls.append(kwargs)
        stage_record(obj, **kwargs)

    monkeypatch.setattr(reviews, "stage_record", spy)
    decided = notifications.application_reject(
        actor=reviewer, application_id=app.pk, reason="  情境不符  "
    )
    assert [(c["old_label"], c["new_label"], c["reason"]) for c in calls] == [
        ("Scenario review", "Rejected", "情境不符")
    ]
    decided.refresh_from_db()
    assert (decided.stage, decided.review_reason) == ("rejected", "情境不符")
    latest = decided.history.first()
    assert (latest.history_user, latest.history_change_reason) == (
        reviewer,
        "Scenario review → Rejected: 情境不符",
    )
