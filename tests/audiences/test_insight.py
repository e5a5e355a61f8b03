"""Insight: overlap of two audiences and the "under 50" rule."""

import pytest

from audiences import selectors
from lbm.exceptions import NotAllowed
from tests import factories

from . import factories as af


def test_overlap_counts_in_the_database(org, admin_user):
    a = af.upload_audience(org, admin_user, af.phones(200), name="A")
    b = af.upload_audience(org, admin_user, af.phones(200, start=120), name="B")
    assert selectors.audience_overlap(admin_user, a, b) == {
        "both": 80, "first_only": 120, "second_only": 120}


def test_numbers_under_50_are_never_shown_exactly(org, admin_user):
    a = af.upload_audience(org, admin_user, af.phones(100), name="A")
    b = af.upload_audience(org, admin_user, af.phones(100, start=51), name="B")
    # both 49, A only 51, B only 51
    assert selectors.audience_overlap(admin_user, a, b) == {
        "both": None, "first_only": 51, "second_only": 51}
    assert selectors.insight_number(49) is None
    assert selectors.insight_number(50) == 50


def test_overlap_across_id_types_goes_through_the_directory(org, admin_user):
    from django.utils import timezone

    from audiences import services
    from audiences.models import TagEvent

    users = af.line_users(120)
    a = af.upload_audience(org, admin_user, af.phones(120), name="電話")
    tag = services.line_tag_create(actor=admin_user, organization_id=org.pk, name="官網")
    TagEvent.objects.bulk_create(TagEvent(tag=tag, line_user=u, event="PageView",
                                          occurred_at=timezone.now()) for u in users[60:])
    b = services.audience_web_traffic_create(actor=admin_user, organization_id=org.pk,
                                             name="訪客", tag_id=tag.pk)
    assert selectors.audience_overlap(admin_user, a, b) == {
        "both": 60, "first_only": 60, "second_only": None}


@pytest.mark.parametrize("role", ["viewer", "operator_data"])
def test_only_admins_and_operators_see_insight(org, admin_user, role):
    a = af.upload_audience(org, admin_user, af.phones(60), name="A")
    b = af.upload_audience(org, admin_user, af.phones(60), name="B")
    with pytest.raises(NotAllowed):
        selectors.audience_overlap(factories.member(org, role), a, b)
    operator = factories.member(org, "operator")
    assert selectors.audience_overlap(operator, a, b)["both"] == 60
