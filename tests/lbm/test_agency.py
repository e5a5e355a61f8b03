"""Agency access (docs/organizations.md#agencies): each limit (role cap, accounts, period, end),
isolation between clients, the audit trail's attribution and the expiry task."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audiences import services as audience_services
from audiences.exceptions import AudienceError
from audiences.models import Audience
from lbm import agency, permissions, services
from lbm.exceptions import IneligibleLink, NotAllowed
from lbm.models import Account, AccountLink, AgencyAccess, Membership, Organization
from lbm.permissions import Action
from tests import factories
from tests.audiences import factories as af

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world():
    client = factories.organization(state="approved", name="熊大餐飲")
    other_client = factories.organization(state="approved", name="兔兔服飾")
    firm = factories.organization(state="approved", name="莎莉數位行銷", kind="agency")
    worker = factories.member(firm, "viewer")
    shop, cafe = factories.linked(client).account, factories.linked(client).account
    other_account = factories.linked(other_client).account
    return {
        "client": client,
        "other_client": other_client,
        "agency": firm,
        "worker": worker,
        "shop": shop,
        "cafe": cafe,
        "other_account": other_account,
        "client_admin": client.contact,
        "agency_admin": firm.contact,
    }


def _fresh(user):
    permissions.forget_rights(user)
    return user


def test_assigned_member_gets_the_role_on_the_client_and_nothing_elsewhere(world):
    factories.agency_access(
        world["client"], world["agency"], role="operator", members=[world["worker"]]
    )
    worker = world["worker"]
    assert permissions.can(worker, Action.CREATE_AUDIENCES, world["client"])
    assert permissions.can(worker, Action.SHARE_AUDIENCES, world["client"])
    for action in (
        Action.MANAGE_MEMBERS,
        Action.MANAGE_LINKS,
        Action.CHANGE,
        Action.DELETE,
        Action.EXPORT_AUDIENCES,
        Action.EXPORT_NOTICES,
    ):
        decision = permissions.explain(worker, action, world["client"])
        assert not decision.allowed
        assert "莎莉數位行銷" in decision.reason
    assert not permissions.can(worker, Action.VIEW, world["other_client"])
    orgs = permissions.visible(worker, Organization.objects.all())
    assert set(orgs) == {world["client"], world["agency"]}
    accounts = permissions.visible(worker, Account.objects.all())
    assert set(accounts) == {world["shop"], world["cafe"]}


def test_unassigned_member_of_the_agency_gets_nothing(world):
    factories.agency_access(world["client"], world["agency"], members=[])
    assert not permissions.can(world["worker"], Action.VIEW, world["client"])
    assert not permissions.visible(world["worker"], Account.objects.all()).exists()


def test_role_is_capped_at_operator(world):
    with pytest.raises(agency.AgencyError) as refused:
        agency.access_grant(
            client_id=world["client"].pk,
            agency_id=world["agency"].pk,
            actor=world["client_admin"],
            role="admin",
            ends_at=timezone.now() + timedelta(days=10),
        )
    assert refused.value.field == "role"


def test_viewer_role_only_views(world):
    factories.agency_access(
        world["client"], world["agency"], role="viewer", members=[world["worker"]]
    )
    assert permissions.can(world["worker"], Action.VIEW, world["client"])
    decision = permissions.explain(world["worker"], Action.CREATE_AUDIENCES, world["client"])
    assert not decision.allowed and "莎莉數位行銷" in decision.reason


def test_only_the_clients_admin_grants_and_only_to_an_agency(world):
    operator = factories.member(world["client"], "operator")
    with pytest.raises(NotAllowed):
        agency.access_grant(
            client_id=world["client"].pk,
            agency_id=world["agency"].pk,
            actor=operator,
            role="viewer",
            ends_at=timezone.now() + timedelta(days=10),
        )
    with pytest.raises(agency.AgencyError) as refused:
        agency.access_grant(
            client_id=world["client"].pk,
            agency_id=world["other_client"].pk,
            actor=world["client_admin"],
            role="viewer",
            ends_at=timezone.now() + timedelta(days=10),
        )
    assert refused.value.field == "agency"


def test_period_is_at_most_one_year_and_renewable(world):
    with pytest.raises(agency.AgencyError) as refused:
        agency.access_grant(
            client_id=world["client"].pk,
            agency_id=world["agency"].pk,
            actor=world["client_admin"],
            role="viewer",
            ends_at=timezone.now() + timedelta(days=400),
        )
    assert refused.value.field == "ends_at"
    access = factories.agency_access(world["client"], world["agency"], days=5)
    renewed = agency.access_renew(
        access_id=access.pk,
        actor=world["client_admin"],
        ends_at=timezone.now() + timedelta(days=300),
    )
    assert renewed.ends_at > timezone.now() + timedelta(days=299)
    with pytest.raises(NotAllowed):
        agency.access_renew(
            access_id=access.pk,
            actor=world["agency_admin"],
            ends_at=timezone.now() + timedelta(days=300),
        )


def test_limited_to_one_account_hides_the_others(world):
    factories.agency_access(
        world["client"], world["agency"], accounts=[world["shop"]], members=[world["worker"]]
    )
    worker = world["worker"]
    assert set(permissions.visible(worker, Account.objects.all())) == {world["shop"]}
    links = permissions.visible(worker, AccountLink.objects.all())
    assert {link.account for link in links} == {world["shop"]}
    assert permissions.can(worker, Action.VIEW, world["shop"])
    decision = permissions.explain(worker, Action.VIEW, world["cafe"])
    assert not decision.allowed and world["cafe"].name in decision.reason
    # The client's own audience from the other account is invisible; its own audiences are not.
    admin = world["client_admin"]
    cafe_audience = audience_services.audience_create_from_ids(
        actor=admin,
        name="咖啡會員",
        id_type="user_id",
        ids=["U" + "d" * 32],
        organization_id=world["client"].pk,
        account_id=world["cafe"].pk,
    )
    org_audience = audience_services.audience_create_from_ids(
        actor=admin,
        name="全體會員",
        id_type="phone",
        ids=af.phones(1),
        organization_id=world["client"].pk,
    )
    seen = set(permissions.visible(worker, Audience.objects.all()))
    assert org_audience in seen and cafe_audience not in seen
    assert not permissions.can(worker, Action.VIEW, cafe_audience)


def test_accounts_must_be_the_clients(world):
    with pytest.raises(agency.AgencyError) as refused:
        agency.access_grant(
            client_id=world["client"].pk,
            agency_id=world["agency"].pk,
            actor=world["client_admin"],
            role="viewer",
            ends_at=timezone.now() + timedelta(days=10),
            account_ids=[world["other_account"].pk],
        )
    assert refused.value.field == "accounts"


def test_either_side_ends_it_at_once_and_what_was_made_stays(world):
    for ender in ("client_admin", "agency_admin"):
        AgencyAccess.objects.all().delete()
        access = factories.agency_access(
            world["client"], world["agency"], members=[world["worker"]]
        )
        worker = _fresh(world["worker"])
        audience = audience_services.audience_create_from_ids(
            actor=worker,
            name=f"代理商名單 {ender}",
            id_type="phone",
            ids=af.phones(1),
            organization_id=world["client"].pk,
        )
        agency.access_end(access_id=access.pk, actor=world[ender], reason="合約結束")
        worker = _fresh(world["worker"])
        assert not permissions.can(worker, Action.VIEW, world["client"])
        assert not permissions.visible(worker, Audience.objects.all()).exists()
        assert Audience.objects.get(pk=audience.pk).organization == world["client"]
        assert AgencyAccess.objects.get(pk=access.pk).status == "ended"


def test_an_outsider_cannot_end_it(world):
    access = factories.agency_access(world["client"], world["agency"])
    with pytest.raises(NotAllowed):
        agency.access_end(access_id=access.pk, actor=world["worker"])


def test_expiry_takes_rights_at_the_end_and_the_beat_task_records_it(world):
    access = factories.agency_access(world["client"], world["agency"], members=[world["worker"]])
    AgencyAccess.objects.filter(pk=access.pk).update(
        starts_at=timezone.now() - timedelta(days=2), ends_at=timezone.now() - timedelta(seconds=1)
    )
    worker = _fresh(world["worker"])
    assert not permissions.can(worker, Action.VIEW, world["client"])  # before the task runs
    from lbm.tasks import expire_agency_access

    assert expire_agency_access() == 1
    access.refresh_from_db()
    assert access.status == "expired"
    assert access.history.first().history_change_reason == "Expired"
    assert agency.expire_due() == 0


def test_expiry_is_scheduled():
    from django_celery_beat.models import PeriodicTask

    assert PeriodicTask.objects.filter(task="lbm.expire_agency_access", enabled=True).exists()


def test_cross_client_isolation(world):
    """An agency working for two clients: each member sees only the client they are assigned
    to."""
    other_worker = factories.member(world["agency"], "viewer")
    factories.agency_access(world["client"], world["agency"], members=[world["worker"]])
    factories.agency_access(world["other_client"], world["agency"], members=[other_worker])
    assert set(permissions.visible(world["worker"], Account.objects.all())) == {
        world["shop"],
        world["cafe"],
    }
    assert set(permissions.visible(other_worker, Account.objects.all())) == {world["other_account"]}
    assert not permissions.can(world["worker"], Action.VIEW, world["other_account"])


def test_agency_organization_owns_no_links_or_audiences(world):
    with pytest.raises(IneligibleLink) as refused:
        services.link_request(
            organization_id=world["agency"].pk,
            actor=world["agency_admin"],
            account_identifier="@abc1234d",
        )
    assert refused.value.field == "account_identifier"
    with pytest.raises(AudienceError) as refused:
        audience_services.audience_create_from_ids(
            actor=world["agency_admin"],
            name="自己的名單",
            id_type="phone",
            ids=af.phones(1),
            organization_id=world["agency"].pk,
        )
    assert refused.value.field == "organization"


def test_history_names_the_member_and_the_agency(world):
    factories.agency_access(world["client"], world["agency"], members=[world["worker"]])
    audience = audience_services.audience_create_from_ids(
        actor=world["worker"],
        name="代理商名單",
        id_type="phone",
        ids=af.phones(1),
        organization_id=world["client"].pk,
    )
    assert agency.agency_of(world["worker"], world["client"].pk) == world["agency"]
    assert agency.agency_of(world["client_admin"], world["client"].pk) is None
    from lbm.history_admin import actor_label

    row = audience.history.first()
    label = actor_label(row, world["client"].pk)
    assert str(world["worker"]) in label and "莎莉數位行銷" in label
    assert actor_label(world["client"].history.first(), world["client"].pk) == ""


def test_removed_from_the_agency_loses_the_client(world):
    factories.agency_access(world["client"], world["agency"], members=[world["worker"]])
    membership = Membership.objects.get(organization=world["agency"], user=world["worker"])
    services.membership_remove(membership_id=membership.pk, actor=world["agency_admin"])
    assert not permissions.can(_fresh(world["worker"]), Action.VIEW, world["client"])


def test_history_page_and_the_access_page_show_the_agency_and_its_actions(world, client):
    access = factories.agency_access(world["client"], world["agency"], members=[world["worker"]])
    audience = audience_services.audience_create_from_ids(
        actor=world["worker"],
        name="代理商名單",
        id_type="phone",
        ids=af.phones(1),
        organization_id=world["client"].pk,
    )
    client.force_login(world["client_admin"])
    history = client.get(f"/admin/audiences/audience/{audience.pk}/history/")
    assert history.status_code == 200
    assert "lbm-agency-actor" in history.content.decode()
    assert "莎莉數位行銷" in history.content.decode()
    listing = client.get("/admin/lbm/agencyaccess/").content.decode()
    assert "莎莉數位行銷" in listing and str(world["worker"]) in listing
    page = client.get(f"/admin/lbm/agencyaccess/{access.pk}/change/").content.decode()
    assert "lbm-agency-actions" in page and "代理商名單" in page
    # Another client's Admin sees nothing of it.
    client.force_login(world["other_client"].contact)
    assert client.get(f"/admin/lbm/agencyaccess/{access.pk}/change/").status_code == 404


# --- The admin pages (lbm.admin_agency): thin forms over lbm.agency ----------------------------


def _signed_in(user):
    from django.test import Client

    browser = Client()
    browser.force_login(user)
    return browser


def _grant_data(world, **extra):
    day = (timezone.localdate() + timedelta(days=90)).isoformat()
    return {
        "client": world["client"].pk,
        "agency": world["agency"].pk,
        "role": "operator",
        "ends_on": day,
        "accounts": [world["shop"].pk],
        "reason": "年度代操",
        **extra,
    }


def test_client_admin_grants_on_the_grant_page(world):
    browser = _signed_in(world["client_admin"])
    assert browser.get("/admin/lbm/agencyaccess/grant/").status_code == 200
    response = browser.post("/admin/lbm/agencyaccess/grant/", _grant_data(world))
    access = AgencyAccess.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/lbm/agencyaccess/{access.pk}/change/"
    assert (access.client, access.agency, access.role) == (
        world["client"],
        world["agency"],
        "operator",
    )
    assert access.status == AgencyAccess.Status.PENDING
    assert list(access.accounts.all()) == [world["shop"]]
    assert access.granted_by == world["client_admin"]
    assert access.history.filter(history_change_reason="年度代操").exists()


def test_grant_by_business_number(world):
    data = _grant_data(world, agency="", agency_business_number=world["agency"].business_number)
    response = _signed_in(world["client_admin"]).post("/admin/lbm/agencyaccess/grant/", data)
    assert response.status_code == 302
    assert AgencyAccess.objects.get().agency == world["agency"]


def test_operator_of_the_client_cannot_open_the_grant_page(world):
    operator = factories.member(world["client"], "operator")
    browser = _signed_in(operator)
    assert browser.get("/admin/lbm/agencyaccess/grant/").status_code in (403, 404)
    assert browser.post("/admin/lbm/agencyaccess/grant/", _grant_data(world)).status_code in (
        403,
        404,
    )
    assert not AgencyAccess.objects.exists()


def test_role_above_operator_and_a_long_period_are_refused_on_their_fields(world):
    browser = _signed_in(world["client_admin"])
    response = browser.post("/admin/lbm/agencyaccess/grant/", _grant_data(world, role="admin"))
    assert response.status_code == 200 and "role" in response.context["form"].errors
    far = (timezone.localdate() + timedelta(days=400)).isoformat()
    response = browser.post("/admin/lbm/agencyaccess/grant/", _grant_data(world, ends_on=far))
    assert response.status_code == 200
    assert response.context["form"].errors["ends_on"] == [
        "Agency access lasts at most one year; renew it to go on."
    ]
    assert not AgencyAccess.objects.exists()


def test_agency_admin_accepts_assigning_a_member_and_either_side_ends_it(world):
    access = agency.access_grant(
        client_id=world["client"].pk,
        agency_id=world["agency"].pk,
        actor=world["client_admin"],
        role="operator",
        ends_at=timezone.now() + timedelta(days=30),
    )
    membership = Membership.objects.get(user=world["worker"], organization=world["agency"])
    # The client's Admin cannot accept for the agency.
    response = _signed_in(world["client_admin"]).post(
        f"/admin/lbm/agencyaccess/{access.pk}/accept/", {"members": [membership.pk]}
    )
    assert response.status_code == 403
    agency_admin = _signed_in(world["agency_admin"])
    page = agency_admin.get(f"/admin/lbm/agencyaccess/{access.pk}/change/")
    assert f"/admin/lbm/agencyaccess/{access.pk}/accept/" in page.content.decode()
    response = agency_admin.post(
        f"/admin/lbm/agencyaccess/{access.pk}/accept/",
        {"members": [membership.pk], "reason": "接案"},
    )
    assert response.status_code == 302
    access.refresh_from_db()
    assert access.status == AgencyAccess.Status.ACTIVE
    assert access.accepted_by == world["agency_admin"]
    assert permissions.can(_fresh(world["worker"]), Action.CREATE_AUDIENCES, world["client"])

    # The client's Admin ends it: the member's rights are gone at once.
    response = _signed_in(world["client_admin"]).post(
        f"/admin/lbm/agencyaccess/{access.pk}/end/", {"reason": "合約結束"}
    )
    assert response.status_code == 302
    access.refresh_from_db()
    assert access.status == AgencyAccess.Status.ENDED and access.reason == "合約結束"
    assert not permissions.can(_fresh(world["worker"]), Action.VIEW, world["client"])
    worker_page = f"/admin/lbm/organization/{world['client'].pk}/change/"
    response = _signed_in(world["worker"]).get(worker_page)
    assert response.status_code == 404


def test_agency_admin_ends_and_assigns_on_the_members_page(world):
    access = factories.agency_access(world["client"], world["agency"], members=[])
    membership = Membership.objects.get(user=world["worker"], organization=world["agency"])
    agency_admin = _signed_in(world["agency_admin"])
    response = agency_admin.post(
        f"/admin/lbm/agencyaccess/{access.pk}/members/", {"assign": [membership.pk]}
    )
    assert response.status_code == 302
    assert permissions.can(_fresh(world["worker"]), Action.VIEW, world["client"])
    assignment = access.assignments.get()
    agency_admin.post(
        f"/admin/lbm/agencyaccess/{access.pk}/members/", {"unassign": [assignment.pk]}
    )
    assert not permissions.can(_fresh(world["worker"]), Action.VIEW, world["client"])
    assert agency_admin.get(f"/admin/lbm/agencyaccess/{access.pk}/renew/").status_code == 403
    response = agency_admin.post(f"/admin/lbm/agencyaccess/{access.pk}/end/", {"reason": "x"})
    assert response.status_code == 302
    access.refresh_from_db()
    assert access.status == AgencyAccess.Status.ENDED


def test_members_page_changes_all_or_nothing(world):
    """One refused member (not of the agency) leaves every other change of that save undone."""
    access = factories.agency_access(world["client"], world["agency"], members=[world["worker"]])
    assignment = access.assignments.get()
    newcomer = factories.member(world["agency"], "viewer")
    newcomer_membership = Membership.objects.get(user=newcomer, organization=world["agency"])
    outsider = Membership.objects.get(user=world["client_admin"], organization=world["client"])
    with pytest.raises(agency.AgencyError, match="Only members of the agency"):
        agency.members_change(
            access_id=access.pk,
            actor=world["agency_admin"],
            assign_ids=[newcomer_membership.pk, outsider.pk],
            unassign_ids=[assignment.pk],
        )
    assert list(access.assignments.values_list("membership__user", flat=True)) == [
        world["worker"].pk
    ]
    assert not permissions.can(_fresh(newcomer), Action.VIEW, world["client"])
    assert permissions.can(_fresh(world["worker"]), Action.VIEW, world["client"])


def test_client_admin_renews_but_not_beyond_a_year(world):
    access = factories.agency_access(world["client"], world["agency"], members=[world["worker"]])
    browser = _signed_in(world["client_admin"])
    far = (timezone.localdate() + timedelta(days=400)).isoformat()
    response = browser.post(f"/admin/lbm/agencyaccess/{access.pk}/renew/", {"ends_on": far})
    assert response.status_code == 200 and "ends_on" in response.context["form"].errors
    before = access.ends_at
    access.refresh_from_db()
    assert access.ends_at == before
    near = (timezone.localdate() + timedelta(days=200)).isoformat()
    response = browser.post(
        f"/admin/lbm/agencyaccess/{access.pk}/renew/", {"ends_on": near, "reason": "續約"}
    )
    assert response.status_code == 302
    access.refresh_from_db()
    assert timezone.localtime(access.ends_at).date().isoformat() == near


def test_another_client_admin_sees_nothing_of_the_access(world):
    access = factories.agency_access(world["client"], world["agency"], members=[world["worker"]])
    stranger = _signed_in(world["other_client"].contact)
    for step in ("accept", "members", "end", "renew"):
        assert (
            stranger.post(
                f"/admin/lbm/agencyaccess/{access.pk}/{step}/", {"reason": "x"}
            ).status_code
            == 404
        )
    access.refresh_from_db()
    assert access.status == AgencyAccess.Status.ACTIVE
