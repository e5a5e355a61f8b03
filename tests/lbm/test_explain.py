"""``explain`` and the "what can this person do here" page agree with ``can()`` for every role
of ``ROLE_ACTIONS`` × every ``Action`` × a live and a deleted organization, and for agency
access (generated from the tables, not hand-listed)."""

import pytest
from django.utils import timezone

from lbm import permissions
from lbm.admin_agency import rights_rows
from lbm.models import Membership, Organization
from lbm.permissions import ROLE_ACTIONS, Action
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def people():
    org = factories.organization(state="approved", name="熊大餐飲")
    users = {"admin": org.contact}
    for role in ROLE_ACTIONS:
        if role != "admin":
            users[role] = factories.member(org, role)
    return org, users


def _deleted(org):
    Organization.objects.filter(pk=org.pk).update(status="deleted", deleted_at=timezone.now())
    org.refresh_from_db()
    return org


@pytest.mark.parametrize("deleted", [False, True], ids=["live", "deleted"])
def test_explain_agrees_with_can_for_every_role_and_action(people, deleted):
    org, users = people
    if deleted:
        _deleted(org)
    for role in ROLE_ACTIONS:
        user = users[role]
        rows = {row["action"]: row["decision"] for row in rights_rows(user, org)}
        assert set(rows) == set(Action)
        for action in Action:
            permissions.forget_rights(user)
            decision = permissions.explain(user, action, org)
            assert decision.allowed is permissions.can(user, action, org)
            assert rows[action] == decision
            assert decision.reason
            expected = action in ROLE_ACTIONS[role] and (
                not deleted or action in permissions.DELETED_ORG_ACTIONS
            )
            assert decision.allowed is expected, (role, action)


def test_explain_agrees_with_can_for_agency_roles_and_staff(people):
    org, _users = people
    firm = factories.organization(state="approved", name="莎莉數位行銷", kind="agency")
    account = factories.linked(org).account
    workers = {}
    for role in ("viewer", "operator_data", "operator"):
        worker = factories.member(firm, "viewer")
        factories.agency_access(org, firm, role=role, members=[worker], accounts=[account])
        workers[role] = worker
        # One access per pair: the next role is granted after this one ends.
        from lbm import agency
        from lbm.models import AgencyAccess

        access = AgencyAccess.objects.get(client=org, status="active")
        for action in Action:
            for obj in (org, account, None):
                permissions.forget_rights(worker)
                assert permissions.explain(worker, action, obj).allowed is permissions.can(
                    worker, action, obj
                )
            permissions.forget_rights(worker)
            assert permissions.can(worker, action, org) is (
                action in ROLE_ACTIONS[role] and action not in permissions.AGENCY_NEVER
            )
        agency.access_end(access_id=access.pk, actor=org.contact)
    for staff in (factories.reviewer(), factories.account_manager()):
        for action in Action:
            assert permissions.explain(staff, action, org).allowed is permissions.can(
                staff, action, org
            )


def test_rights_page_for_the_admin_and_staff_only(people, client):
    org, users = people
    membership = Membership.objects.get(organization=org, user=users["operator"])
    url = f"/admin/lbm/membership/{membership.pk}/rights/"
    client.force_login(users["admin"])
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    for row in rights_rows(users["operator"], org):
        marker = (
            f'data-action="{row["action"].value}" '
            f'data-allowed="{"yes" if row["decision"].allowed else "no"}"'
        )
        assert marker in html
    client.force_login(users["operator"])
    assert client.get(url).status_code in (403, 404)
    client.force_login(factories.reviewer())
    assert client.get(url).status_code == 200
