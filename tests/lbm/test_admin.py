"""The admin as customers and LINE staff use it: scoping, 404s, refusals with reasons,
the review queue, and the history."""

import re
from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone

from lbm import services
from lbm.models import AccountLink, Membership, Organization
from tests import factories

pytestmark = pytest.mark.django_db


def client_for(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def bear():
    return factories.organization(state="approved", name="熊大餐飲")


@pytest.fixture
def bunny():
    return factories.organization(state="approved", name="兔兔服飾")


# --- Customers sign in and see only their own ------------------------------------------------


def test_customer_without_staff_flag_can_sign_in(client, bear):
    response = client.post(
        reverse("admin:login"),
        {"username": bear.contact.username, "password": factories.PASSWORD, "next": "/admin/"},
    )
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_changelists_show_only_the_users_organizations(client, bear, bunny):
    factories.linked(bear)
    factories.linked(bunny)
    viewer = factories.member(bear, "viewer")
    client_for(client, viewer)
    page = client.get(reverse("admin:lbm_organization_changelist")).content.decode()
    assert "熊大餐飲" in page and "兔兔服飾" not in page
    links = client.get(reverse("admin:lbm_accountlink_changelist"))
    assert list(links.context["cl"].result_list.values_list("organization", flat=True)) == [bear.pk]


@pytest.mark.parametrize(
    "url_name,obj",
    [
        ("admin:lbm_organization_change", "org"),
        ("admin:lbm_organization_history", "org"),
        ("admin:lbm_membership_change", "membership"),
        ("admin:lbm_accountlink_change", "link"),
        ("admin:lbm_accountlink_history", "link"),
    ],
)
def test_another_organizations_objects_are_404(client, bear, bunny, url_name, obj):
    target = {
        "org": bunny,
        "membership": Membership.objects.get(organization=bunny),
        "link": factories.linked(bunny),
    }[obj]
    client_for(client, bear.contact)
    assert client.get(reverse(url_name, args=[target.pk])).status_code == 404
    assert client.post(reverse(url_name, args=[target.pk]), {"name": "x"}).status_code == 404


def test_unknown_id_is_404_too(client, bear):
    client_for(client, bear.contact)
    assert client.get(reverse("admin:lbm_organization_change", args=[999999])).status_code == 404


def test_operator_sees_the_organization_read_only_and_cannot_post(client, bear):
    operator = factories.member(bear, "operator")
    client_for(client, operator)
    url = reverse("admin:lbm_organization_change", args=[bear.pk])
    page = client.get(url)
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert client.post(url, {"name": "hijacked"}).status_code == 403
    bear.refresh_from_db()
    assert bear.name == "熊大餐飲"


def test_viewer_cannot_add_links_or_members(client, bear):
    viewer = factories.member(bear, "viewer")
    client_for(client, viewer)
    assert client.get(reverse("admin:lbm_accountlink_add")).status_code == 403
    assert client.get(reverse("admin:lbm_membership_add")).status_code == 403


def test_customers_do_not_see_staff_pages(client, bear):
    client_for(client, bear.contact)
    for name in (
        "admin:lbm_organizationreview_changelist",
        "admin:lbm_accountlinkreview_changelist",
        "admin:lbm_provider_changelist",
        "admin:auth_user_changelist",
        "admin:django_celery_beat_periodictask_changelist",
    ):
        assert client.get(reverse(name)).status_code == 403, name
    index = client.get("/admin/").content.decode()
    assert "lbm-backlog" not in index


# --- Customer edits ---------------------------------------------------------------------------


def _org_form(org, **changes):
    data = {
        "name": org.name,
        "country": org.country,
        "entity_type": org.entity_type,
        "company_name": org.company_name,
        "business_number": org.business_number,
        "address": org.address,
        "phone": org.phone,
        "industry": org.industry,
        "contact": org.contact_id,
        "share_mode": org.share_mode,
    }
    data.update(changes)
    return data


def test_customer_creates_an_organization_and_becomes_its_admin(client):
    user = factories.UserFactory()
    client_for(client, user)
    number = factories.next_business_number()
    response = client.post(
        reverse("admin:lbm_organization_add"),
        {
            "name": "莎莉科技",
            "country": "TW",
            "entity_type": "company",
            "company_name": "莎莉科技股份有限公司",
            "business_number": number,
            "address": "台北市",
            "phone": "02-1234-5678",
            "industry": "ecommerce",
            "share_mode": "share_all",
        },
    )
    assert response.status_code == 302, response.content
    org = Organization.objects.get(business_number=number)
    assert Membership.objects.get(organization=org).user == user
    assert org.history.earliest().history_user == user


def test_duplicate_business_number_is_a_form_error_and_changes_nothing(client, bear):
    user = factories.UserFactory()
    client_for(client, user)
    response = client.post(
        reverse("admin:lbm_organization_add"),
        {
            "name": "copy",
            "country": "TW",
            "entity_type": "company",
            "business_number": bear.business_number,
            "share_mode": "share_all",
        },
    )
    assert response.status_code == 200
    assert "only one, ever" in response.content.decode()
    assert Organization.objects.filter(business_number=bear.business_number).count() == 1


def test_bad_checksum_and_agency_are_form_errors(client):
    client_for(client, factories.UserFactory())
    response = client.post(
        reverse("admin:lbm_organization_add"),
        {
            "name": "代理商",
            "country": "TW",
            "entity_type": "agency",
            "business_number": "12345678",
            "share_mode": "share_all",
        },
    )
    page = response.content.decode()
    assert "checksum" in page and "Agencies and resellers" in page
    assert not Organization.objects.exists()


def test_approved_business_information_is_read_only(client, bear):
    client_for(client, bear.contact)
    url = reverse("admin:lbm_organization_change", args=[bear.pk])
    response = client.post(url, _org_form(bear, address="偷改的地址", name="熊大餐飲集團"))
    assert response.status_code == 302
    bear.refresh_from_db()
    assert bear.name == "熊大餐飲集團"  # renaming is allowed
    assert bear.address != "偷改的地址"  # business information is not


def test_submit_action_reports_every_missing_item(client):
    org = factories.organization(verified=False, address="")
    client_for(client, org.contact)
    response = client.post(
        reverse("admin:lbm_organization_changelist"),
        {"action": "submit_for_review", ACTION_CHECKBOX_NAME: [org.pk]},
        follow=True,
    )
    page = response.content.decode()
    assert "address" in page and "not been verified" in page
    org.refresh_from_db()
    assert org.status == "draft"


def test_delete_action_is_final_and_keeps_the_number(client, bear):
    client_for(client, bear.contact)
    url = reverse("admin:lbm_organization_changelist")
    confirm = client.post(url, {"action": "delete_organizations", ACTION_CHECKBOX_NAME: [bear.pk]})
    assert "cannot be restored" in confirm.content.decode()
    client.post(
        url,
        {
            "action": "delete_organizations",
            ACTION_CHECKBOX_NAME: [bear.pk],
            "confirm": "yes",
            "reason": "品牌整併",
        },
    )
    bear.refresh_from_db()
    assert bear.status == "deleted"
    assert bear.business_number


def test_operator_cannot_run_the_delete_action(client, bear):
    operator = factories.member(bear, "operator")
    client_for(client, operator)
    client.post(
        reverse("admin:lbm_organization_changelist"),
        {"action": "delete_organizations", ACTION_CHECKBOX_NAME: [bear.pk], "confirm": "yes"},
    )
    bear.refresh_from_db()
    assert bear.status == "approved"


def test_link_request_form_names_each_failed_rule(client, bear):
    account = factories.account_for(bear, badge="none")
    client_for(client, bear.contact)
    response = client.post(
        reverse("admin:lbm_accountlink_add"),
        {"organization": bear.pk, "account_identifier": account.basic_id},
    )
    assert response.status_code == 200
    assert "not verified" in response.content.decode()
    assert not AccountLink.objects.exists()


def test_link_request_through_the_admin(client, bear):
    account = factories.account_for(bear)
    client_for(client, bear.contact)
    response = client.post(
        reverse("admin:lbm_accountlink_add"),
        {"organization": bear.pk, "account_identifier": account.basic_id},
    )
    assert response.status_code == 302
    link = AccountLink.objects.get()
    assert (link.account, link.status, link.requested_by) == (account, "pending", bear.contact)


def test_link_request_cannot_target_another_organization(client, bear, bunny):
    account = factories.account_for(bunny)
    client_for(client, bear.contact)
    response = client.post(
        reverse("admin:lbm_accountlink_add"),
        {"organization": bunny.pk, "account_identifier": account.basic_id},
    )
    assert response.status_code == 200  # the organization is not a valid choice
    assert not AccountLink.objects.exists()


def test_removing_the_last_admin_in_the_admin_is_refused_with_a_message(client, bear):
    membership = Membership.objects.get(organization=bear)
    client_for(client, bear.contact)
    response = client.post(
        reverse("admin:lbm_membership_delete", args=[membership.pk]), {"post": "yes"}, follow=True
    )
    assert "last Admin cannot be removed" in response.content.decode()
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_admin_changes_a_members_role(client, bear):
    newcomer = factories.member(bear, "operator_data")
    membership = Membership.objects.get(user=newcomer)
    client_for(client, bear.contact)
    client.post(
        reverse("admin:lbm_membership_change", args=[membership.pk]),
        {"role": "operator", "is_company_member": "on"},
    )
    membership.refresh_from_db()
    assert membership.role == "operator"
    assert membership.history.latest().history_user == bear.contact


# --- Review queue -----------------------------------------------------------------------------


def test_review_queue_is_oldest_first_with_overdue_flag(client):
    reviewer = factories.reviewer()
    older = factories.organization(state="pending", name="舊的申請")
    newer = factories.organization(state="pending", name="新的申請")
    Organization.objects.filter(pk=older.pk).update(
        submitted_at=timezone.now() - timedelta(days=20),
        review_due_on=timezone.localdate() - timedelta(days=5),
    )
    factories.organization(state="approved", name="已核准")
    client_for(client, reviewer)
    url = reverse("admin:lbm_organizationreview_changelist")
    response = client.get(url)
    assert list(response.context["cl"].result_list) == [older, newer]
    assert "lbm-overdue" in response.content.decode()
    overdue = client.get(url + "?overdue=yes")
    assert list(overdue.context["cl"].result_list) == [older]


def test_reviewer_rejection_needs_a_reason_then_the_applicant_sees_it(client):
    org = factories.organization(state="pending")
    reviewer = factories.reviewer()
    client_for(client, reviewer)
    url = reverse("admin:lbm_organizationreview_changelist")
    missing = client.post(
        url, {"action": "reject", ACTION_CHECKBOX_NAME: [org.pk], "confirm": "yes", "reason": ""}
    )
    assert "A written reason is required" in missing.content.decode()
    org.refresh_from_db()
    assert org.status == "pending"
    client.post(
        url,
        {
            "action": "reject",
            ACTION_CHECKBOX_NAME: [org.pk],
            "confirm": "yes",
            "reason": "統一編號與公司名稱不符",
        },
    )
    org.refresh_from_db()
    assert org.status == "rejected"
    client.force_login(org.contact)
    page = client.get(reverse("admin:lbm_organization_change", args=[org.pk])).content.decode()
    assert "統一編號與公司名稱不符" in page


def test_reviewer_approves_links_and_the_history_page_shows_who_and_why(client):
    org = factories.organization(state="approved")
    link = services.link_request(
        organization_id=org.pk,
        actor=org.contact,
        account_identifier=factories.account_for(org).display_id,
    )
    reviewer = factories.reviewer(username="lin.reviewer")
    client_for(client, reviewer)
    queue = client.get(reverse("admin:lbm_accountlinkreview_changelist")).content.decode()
    assert "All rules met" in queue  # eligibility column
    client.post(
        reverse("admin:lbm_accountlinkreview_changelist"),
        {"action": "approve", ACTION_CHECKBOX_NAME: [link.pk]},
    )
    link.refresh_from_db()
    assert link.status == "approved" and link.reviewed_by == reviewer
    history = client.get(reverse("admin:lbm_accountlink_history", args=[link.pk]))
    page = history.content.decode()
    assert "lin.reviewer" in page and "Approved" in page


def test_customers_cannot_run_review_actions(client, bear):
    pending = factories.organization(state="pending")
    client_for(client, bear.contact)
    response = client.post(
        reverse("admin:lbm_organizationreview_changelist"),
        {"action": "approve", ACTION_CHECKBOX_NAME: [pending.pk]},
    )
    assert response.status_code == 403
    pending.refresh_from_db()
    assert pending.status == "pending"


def test_account_manager_cannot_review(client):
    pending = factories.organization(state="pending")
    client_for(client, factories.account_manager())
    assert client.get(reverse("admin:lbm_organizationreview_changelist")).status_code == 403
    pending.refresh_from_db()
    assert pending.status == "pending"


def test_admin_index_shows_the_backlog_to_reviewers(client):
    factories.organization(state="pending")
    late = factories.organization(state="pending")
    Organization.objects.filter(pk=late.pk).update(
        review_due_on=timezone.localdate() - timedelta(days=1)
    )
    client_for(client, factories.reviewer())
    page = client.get("/admin/").content.decode()
    row = re.search(r'<tr class="lbm-queue-organizations">(.*?)</tr>', page, re.S).group(1)
    assert re.search(r'class="lbm-pending">2<', row)
    assert re.search(r'class="lbm-overdue">.*⚠ 1<', row)
    assert (timezone.localdate() - timedelta(days=1)).isoformat() in row  # the next due date
    # Every queue the reviewer works on is listed, the LON ones too.
    for key in ("account_links", "lon_applications", "lon_templates"):
        assert f'class="lbm-queue-{key}"' in page


def test_review_queue_queries_do_not_grow_with_rows(client, django_assert_max_num_queries):
    reviewer = factories.reviewer()
    for _ in range(3):
        org = factories.organization(state="approved")
        services.link_request(
            organization_id=org.pk,
            actor=org.contact,
            account_identifier=factories.account_for(org).display_id,
        )
    client_for(client, reviewer)
    url = reverse("admin:lbm_accountlinkreview_changelist")
    client.get(url)
    with django_assert_max_num_queries(25) as few:
        client.get(url)
    for _ in range(5):
        org = factories.organization(state="approved")
        services.link_request(
            organization_id=org.pk,
            actor=org.contact,
            account_identifier=factories.account_for(org).display_id,
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(url)


# --- Import / export permissions --------------------------------------------------------------


def test_import_export_needs_the_change_permission(client):
    client_for(client, factories.reviewer())
    assert client.get(reverse("admin:lbm_account_import")).status_code == 403
    assert client.get(reverse("admin:lbm_account_export")).status_code == 403
    client.force_login(factories.account_manager())
    assert client.get(reverse("admin:lbm_account_import")).status_code == 200
    assert client.get(reverse("admin:lbm_account_export")).status_code == 200


def test_customers_cannot_import_or_export_accounts(client, bear):
    client_for(client, bear.contact)
    assert client.get(reverse("admin:lbm_account_import")).status_code == 403
    assert client.get(reverse("admin:lbm_account_export")).status_code == 403
