"""The two shapes of ``permissions.visible`` return the same rows
(docs/permissions.md#visibility-at-scale).

A user without agency access gets the short filter (their own organizations only); the full one
adds the agency branches. Forcing the full shape for every user must change nothing any admin
changelist shows, for members of every role, agency workers with limited and unlimited access,
and a member who also works for an agency."""

import pytest
from django.contrib import admin
from django.test import RequestFactory

from lbm import agency, permissions, services
from lbm.models import Account, AccountLink, AgencyAccess
from lbm.permissions import AGENCY_NEVER, Action
from tests import factories
from tests.lbm import matrix_world

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CELERY_TASK_ALWAYS_EAGER = True


@pytest.fixture
def users():
    world = matrix_world.build()
    own, other = world["own"], world["other"]
    limited_firm = factories.organization(state="approved", name="限帳號代理商", kind="agency")
    limited = factories.member(limited_firm, "viewer", username="agency_limited")
    factories.agency_access(
        own["org"], limited_firm, role="operator", accounts=[own["account"]], members=[limited]
    )
    open_firm = factories.organization(state="approved", name="全帳號代理商", kind="agency")
    unlimited = factories.member(open_firm, "viewer", username="agency_unlimited")
    both = world["users"]["operator"]  # an operator of ``own`` who also works for the agency
    services.membership_add(
        organization_id=open_firm.pk, actor=open_firm.contact, user=both, role="viewer"
    )
    factories.agency_access(other["org"], open_firm, role="viewer", members=[unlimited, both])
    chosen = dict(world["users"])
    chosen.pop("reviewer"), chosen.pop("account_manager")
    chosen.update(
        other_admin=other["users"]["admin"], limited=limited, unlimited=unlimited, both=both
    )
    # A second linked account of ``own``, outside the limited access.
    outside = factories.linked(own["org"]).account
    return chosen, own["account"], outside


def _rows(user, model_admin):
    request = RequestFactory().get("/admin/")
    request.user = user
    permissions.forget_rights(user)
    return set(model_admin.get_queryset(request).values_list("pk", flat=True))


def test_the_short_filter_shows_what_the_full_one_shows(users, monkeypatch):
    users, _, _ = users
    assert permissions._works_as_agency(users["limited"], Action.VIEW)
    assert permissions._works_as_agency(users["both"], Action.VIEW)
    assert not permissions._works_as_agency(users["admin"], Action.VIEW)
    compared = 0
    for model, model_admin in admin.site._registry.items():
        for label, user in users.items():
            natural = _rows(user, model_admin)
            with monkeypatch.context() as m:
                m.setattr(permissions, "_works_as_agency", lambda u, a: a not in AGENCY_NEVER)
                full = _rows(user, model_admin)
            assert natural == full, (model.__name__, label)
            compared += bool(full)
    # The comparison saw rows (an empty world would pass it trivially).
    assert compared > 50


def test_every_action_the_same_rows_in_both_shapes_and_none_a_step_too_low(users, monkeypatch):
    from audiences.models import Audience
    from lbm.models import Organization
    from notifications.models import Notice

    users, _, _ = users
    lists = [
        (Organization.objects.all(), {"organization_path": "pk"}),
        (Account.objects.all(), {}),
        (AccountLink.objects.all(), {}),
        (Audience.objects.all(), {}),
        (Notice.objects.all(), {"account_path": "account"}),
    ]

    def rows(user, queryset, action, kwargs):
        permissions.forget_rights(user)
        found = permissions.visible(user, queryset, action, **kwargs)
        return set(found.values_list("pk", flat=True))

    for action in sorted(permissions.ORGANIZATION_ACTIONS):
        for label, user in users.items():
            for queryset, kwargs in lists:
                natural = rows(user, queryset, action, kwargs)
                with monkeypatch.context() as m:
                    m.setattr(permissions, "_works_as_agency", lambda u, a: a not in AGENCY_NEVER)
                    assert rows(user, queryset, action, kwargs) == natural, (action, label)
    # A role one step too low, and agency access, which never grants these, get no rows.
    for label, action in (
        ("viewer", Action.CREATE_AUDIENCES),
        ("operator_data", Action.SHARE_AUDIENCES),
        ("operator", Action.MANAGE_MEMBERS),
        ("limited", Action.MANAGE_LINKS),
        ("unlimited", Action.EXPORT_NOTICES),
    ):
        assert not rows(
            users[label], Organization.objects.all(), action, {"organization_path": "pk"}
        )
        assert not rows(users[label], AccountLink.objects.all(), action, {})
    assert rows(
        users["admin"],
        Organization.objects.all(),
        Action.MANAGE_MEMBERS,
        {"organization_path": "pk"},
    )
    assert rows(users["limited"], AccountLink.objects.all(), Action.SHARE_AUDIENCES, {})


def test_an_agency_worker_sees_only_the_accounts_the_access_names(users):
    from notifications.models import Notice

    users, named, outside = users
    limited, admin_user = users["limited"], users["admin"]
    assert set(permissions.visible(admin_user, Account.objects.all())) >= {named, outside}
    assert set(permissions.visible(limited, Account.objects.all())) == {named}
    notices = permissions.visible(limited, Notice.objects.all(), account_path="account")
    assert notices.exists()
    assert set(notices.values_list("account_id", flat=True)) == {named.pk}
    # Rows with both an organization and an account: only the named account's.
    links = permissions.visible(limited, AccountLink.objects.all())
    assert set(links.values_list("account_id", flat=True)) == {named.pk}
    assert set(
        permissions.visible(admin_user, AccountLink.objects.all()).values_list(
            "account_id", flat=True
        )
    ) >= {named.pk, outside.pk}
    # Once the agency access is theirs no more, the short filter applies and shows nothing.
    for access in AgencyAccess.objects.filter(assignments__membership__user=limited):
        agency.access_end(access_id=access.pk, actor=access.client.contact, reason="結束合作")
    permissions.forget_rights(limited)
    assert not permissions._works_as_agency(limited, Action.VIEW)
    assert not permissions.visible(limited, Account.objects.all()).exists()
