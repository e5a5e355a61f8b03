"""The role matrix of docs/permissions.md, walked in full: each role × each action × own
organization and another organization, plus staff capabilities. The expected table is written
out here from the business rules, not read from the code under test."""

import pytest

from lbm import permissions
from lbm.models import AccountLink, Membership, Organization
from lbm.permissions import Action
from tests import factories

pytestmark = pytest.mark.django_db

ORG_ACTIONS = [
    Action.VIEW,
    Action.CREATE_AUDIENCES,
    Action.SHARE_AUDIENCES,
    Action.EXPORT_AUDIENCES,
    Action.MANAGE_NOTIFICATIONS,
    Action.EXPORT_NOTICES,
    Action.MANAGE_LINKS,
    Action.MANAGE_MEMBERS,
    Action.CHANGE,
    Action.DELETE,
]

# The role table (docs/permissions.md): ✓ per role. Exports of personal data (audience members,
# failed notices with their phone hashes) are Admin-only; notification templates are managed by
# those who may share data with the accounts (Admin, Operator).
SPEC_MATRIX = {
    "admin": {
        Action.VIEW,
        Action.CREATE_AUDIENCES,
        Action.SHARE_AUDIENCES,
        Action.EXPORT_AUDIENCES,
        Action.MANAGE_NOTIFICATIONS,
        Action.EXPORT_NOTICES,
        Action.MANAGE_LINKS,
        Action.MANAGE_MEMBERS,
        Action.CHANGE,
        Action.DELETE,
    },
    "operator": {
        Action.VIEW,
        Action.CREATE_AUDIENCES,
        Action.SHARE_AUDIENCES,
        Action.MANAGE_NOTIFICATIONS,
    },
    "operator_data": {Action.VIEW, Action.CREATE_AUDIENCES},
    "viewer": {Action.VIEW},
}
ROLES = list(SPEC_MATRIX)


@pytest.fixture
def two_orgs():
    own = factories.organization(state="approved", name="熊大餐飲")
    other = factories.organization(state="approved", name="兔兔服飾")
    users = {"admin": own.contact}
    for role in ROLES[1:]:
        users[role] = factories.member(own, role)
    return own, other, users


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ORG_ACTIONS, ids=lambda a: a.value)
def test_role_matrix_on_own_and_other_organization(two_orgs, role, action):
    own, other, users = two_orgs
    user = users[role]
    assert permissions.can(user, action, own) is (action in SPEC_MATRIX[role])
    assert permissions.can(user, action, other) is False


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ORG_ACTIONS, ids=lambda a: a.value)
def test_role_matrix_applies_to_the_organizations_objects(two_orgs, role, action):
    own, other, users = two_orgs
    own_link = factories.linked(own)
    other_link = factories.linked(other)
    assert permissions.can(users[role], action, own_link) is (action in SPEC_MATRIX[role])
    assert permissions.can(users[role], action, other_link) is False


def test_one_step_too_low_is_refused(two_orgs):
    own, _other, users = two_orgs
    assert not permissions.can(users["operator_data"], Action.SHARE_AUDIENCES, own)
    assert not permissions.can(users["viewer"], Action.CREATE_AUDIENCES, own)
    assert not permissions.can(users["operator"], Action.MANAGE_LINKS, own)
    assert not permissions.can(users["operator"], Action.MANAGE_MEMBERS, own)
    assert not permissions.can(users["operator"], Action.EXPORT_AUDIENCES, own)


@pytest.mark.parametrize("role", ROLES)
def test_customers_hold_no_staff_capability(two_orgs, role):
    _own, _other, users = two_orgs
    for action in (
        Action.REVIEW_ORGANIZATIONS,
        Action.REVIEW_LINKS,
        Action.REVIEW_NOTIFICATIONS,
        Action.MANAGE_ACCOUNTS,
    ):
        assert not permissions.can(users[role], action)


def test_reviewer_reviews_but_does_not_act_for_customers(two_orgs):
    own, _other, _users = two_orgs
    reviewer = factories.reviewer()
    assert permissions.can(reviewer, Action.REVIEW_ORGANIZATIONS)
    assert permissions.can(reviewer, Action.REVIEW_LINKS)
    assert permissions.can(reviewer, Action.REVIEW_NOTIFICATIONS)
    assert permissions.can(reviewer, Action.VIEW, own)
    assert not permissions.can(reviewer, Action.MANAGE_ACCOUNTS)
    for action in ORG_ACTIONS[1:]:
        assert not permissions.can(reviewer, action, own), action


def test_account_manager_manages_accounts_but_does_not_review(two_orgs):
    own, _other, _users = two_orgs
    manager = factories.account_manager()
    assert permissions.can(manager, Action.MANAGE_ACCOUNTS)
    assert not permissions.can(manager, Action.REVIEW_ORGANIZATIONS)
    assert not permissions.can(manager, Action.REVIEW_LINKS)
    assert not permissions.can(manager, Action.CHANGE, own)


def test_staff_flag_alone_grants_nothing(two_orgs):
    own, _other, _users = two_orgs
    bare_staff = factories.UserFactory(is_staff=True)
    for action in ORG_ACTIONS + [Action.REVIEW_ORGANIZATIONS, Action.MANAGE_ACCOUNTS]:
        assert not permissions.can(bare_staff, action, own)


def test_inactive_users_can_do_nothing(two_orgs):
    own, _other, users = two_orgs
    admin = users["admin"]
    admin.is_active = False
    admin.save()
    assert not permissions.can(admin, Action.VIEW, own)
    assert not permissions.visible(admin, Organization.objects.all()).exists()


def test_deleted_organization_allows_viewing_only():
    org = factories.organization(state="approved")
    admin = org.contact
    from lbm import services

    services.organization_delete(organization_id=org.pk, actor=admin)
    org.refresh_from_db()
    assert not permissions.can(admin, Action.CHANGE, org)
    assert not permissions.can(admin, Action.MANAGE_LINKS, org)
    superuser = factories.UserFactory(is_superuser=True, is_staff=True)
    assert not permissions.can(superuser, Action.CHANGE, org)


@pytest.mark.parametrize("role", ROLES)
def test_visible_shows_only_own_organization_rows(two_orgs, role):
    own, other, users = two_orgs
    factories.linked(own)
    factories.linked(other)
    user = users[role]
    assert list(permissions.visible(user, Organization.objects.all())) == [own]
    assert {
        link.organization_id for link in permissions.visible(user, AccountLink.objects.all())
    } == {own.pk}
    assert {m.organization_id for m in permissions.visible(user, Membership.objects.all())} == {
        own.pk
    }


def test_visible_with_an_action_narrows_to_organizations_where_it_is_allowed(two_orgs):
    own, _other, users = two_orgs
    qs = Organization.objects.all()
    assert list(permissions.visible(users["admin"], qs, Action.MANAGE_LINKS)) == [own]
    assert not permissions.visible(users["operator"], qs, Action.MANAGE_LINKS).exists()


def test_reviewer_sees_every_organization(two_orgs):
    own, other, _users = two_orgs
    reviewer = factories.reviewer()
    assert set(permissions.visible(reviewer, Organization.objects.all())) == {own, other}


def test_visible_is_one_query(two_orgs, django_assert_num_queries):
    """One query for the rows, whatever their number; the first call of a request also reads
    whether the user works through agency access (docs/permissions.md#visibility-at-scale)."""
    _own, _other, users = two_orgs
    permissions.forget_rights(users["viewer"])
    with django_assert_num_queries(2):
        list(permissions.visible(users["viewer"], AccountLink.objects.all()))
    with django_assert_num_queries(1):
        list(permissions.visible(users["viewer"], AccountLink.objects.all()))


def test_rights_follow_the_role_table_at_check_time(two_orgs, monkeypatch):
    """Nothing is copied when a role is granted: a change to ROLE_ACTIONS reaches members who
    joined before it (the old guardian copies made migration 0003's rights miss them)."""
    from guardian.models import UserObjectPermission

    from lbm.models import OrganizationUserObjectPermission

    own, _other, users = two_orgs
    assert not OrganizationUserObjectPermission.objects.exists()
    assert not UserObjectPermission.objects.exists()
    viewer = type(users["viewer"]).objects.get(pk=users["viewer"].pk)  # nothing cached
    assert not permissions.can(viewer, Action.CREATE_AUDIENCES, own)
    table = dict(permissions.ROLE_ACTIONS, viewer=frozenset({Action.VIEW, Action.CREATE_AUDIENCES}))
    monkeypatch.setattr(permissions, "ROLE_ACTIONS", table)
    viewer = type(viewer).objects.get(pk=viewer.pk)
    assert permissions.can(viewer, Action.CREATE_AUDIENCES, own)
    assert permissions.can(viewer, Action.CREATE_AUDIENCES)
    assert set(
        permissions.visible(
            viewer, Organization.objects.all(), Action.CREATE_AUDIENCES, organization_path="pk"
        )
    ) == {own}


def test_objects_of_a_linked_account_follow_the_linked_organization(two_orgs):
    """Account-owned rows (e.g. notification templates) are judged by the organization the
    account is linked to, and only while the link is approved."""
    from lbm import services

    own, _other, users = two_orgs
    account = factories.account_for(own)

    class AccountThing:
        def __init__(self, account):
            self.account = account

    thing = AccountThing(account)
    assert not permissions.can(users["operator"], Action.MANAGE_NOTIFICATIONS, thing)
    link = factories.linked(own, account)
    assert permissions.can(users["operator"], Action.MANAGE_NOTIFICATIONS, thing)
    assert not permissions.can(users["operator_data"], Action.MANAGE_NOTIFICATIONS, thing)
    from lbm.models import Account

    assert list(permissions.visible(users["viewer"], Account.objects.all(), account_path="pk")) == [
        account
    ]
    services.link_end(link_id=link.pk, actor=users["admin"])
    assert not permissions.can(users["operator"], Action.MANAGE_NOTIFICATIONS, thing)
    assert not permissions.visible(
        users["viewer"], Account.objects.all(), account_path="pk"
    ).exists()


def test_staff_may_is_global_staff_permission_only(two_orgs):
    from lbm.exceptions import NotAllowed

    own, _other, users = two_orgs
    manager = factories.account_manager()
    assert permissions.staff_may(manager, "lbm.manage_accounts")
    assert not permissions.staff_may(factories.reviewer(), "lbm.manage_accounts")
    assert not permissions.staff_may(users["admin"], "lbm.manage_accounts")  # customers never
    assert not permissions.staff_may(None, "lbm.manage_accounts")
    with pytest.raises(NotAllowed):
        permissions.require_staff(users["admin"], "lbm.view_organization")


def test_record_change_keeps_who_and_a_reason_that_fits_the_history_column():
    from lbm.audit import record_change

    org = factories.organization()
    actor = factories.reviewer()
    record_change(org, actor=actor, reason="理由" * 80)
    org.save()
    latest = org.history.latest()
    assert latest.history_user == actor and len(latest.history_change_reason) == 100
