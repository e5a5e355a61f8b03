"""Who may do what (per role), the admin pages and queues, and the failed-notice export."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from lbm.exceptions import NotAllowed
from notifications import services
from notifications.exceptions import SendRefused
from notifications.models import Application, FailedNoticeExport, Notice
from tests import factories
from tests.notifications import factories as lon

pytestmark = pytest.mark.django_db

ROLES = ["admin", "operator", "operator_data", "viewer", "other_org", "reviewer", "account_manager"]


def user_for(role, live):
    if role == "admin":
        return live["admin"]
    if role in ("operator", "operator_data", "viewer"):
        return factories.member(live["org"], role)
    if role == "other_org":
        return lon.admin_of(factories.organization(state="approved"))
    if role == "reviewer":
        return live["reviewer"]
    return factories.account_manager()


@pytest.mark.parametrize(
    "role,allowed",
    [
        ("admin", True),
        ("operator", True),
        ("operator_data", False),
        ("viewer", False),
        ("other_org", False),
        ("reviewer", False),
        ("account_manager", False),
    ],
)
def test_who_may_create_templates(live, role, allowed):
    user = user_for(role, live)
    call = lambda: services.template_create(  # noqa: E731
        actor=user, account_id=live["account"].pk, name=f"t-{role}", content=lon.CONTENT
    )
    if allowed:
        assert call().number == 1
    else:
        with pytest.raises(NotAllowed):
            call()


@pytest.mark.parametrize(
    "role,allowed",
    [
        ("admin", False),
        ("operator", False),
        ("operator_data", False),
        ("viewer", False),
        ("other_org", False),
        ("reviewer", True),
        ("account_manager", False),
    ],
)
def test_who_may_review(live, role, allowed):
    user = user_for(role, live)
    call = lambda: services.application_suspend(  # noqa: E731
        actor=user, application_id=live["application"].pk, reason="檢查"
    )
    if allowed:
        assert call().stage == "suspended"
    else:
        with pytest.raises(NotAllowed):
            call()


@pytest.mark.parametrize(
    "role,allowed",
    [
        ("admin", True),
        ("operator", False),
        ("operator_data", False),
        ("viewer", False),
        ("other_org", False),
        ("reviewer", False),
        ("account_manager", False),
    ],
)
def test_only_admins_export_failed_notices(live, send, role, allowed):
    send("0987000111", delivery_tag="fallback-sms-00001")
    user = user_for(role, live)
    if allowed:
        rows = services.failed_notices_export(actor=user)
        assert rows == [
            {
                "hash": rows[0]["hash"],
                "tag": "fallback-sms-00001",
                "reason": "phone_mismatch",
                "accepted_at": rows[0]["accepted_at"],
                "account_id": live["account"].pk,
            }
        ]
        assert len(rows[0]["hash"]) == 64
        assert FailedNoticeExport.objects.get().exported_by == user
    elif role == "other_org":
        with pytest.raises(NotAllowed):
            services.failed_notices_export(actor=factories.member(live["org"], "viewer"))
        assert services.failed_notices_export(actor=user) == []
    else:
        with pytest.raises(NotAllowed):
            services.failed_notices_export(actor=user)


def test_sending_from_the_admin_needs_manage_rights(live):
    viewer = factories.member(live["org"], "viewer")
    with pytest.raises(SendRefused, match="permission"):
        services.notice_send(
            account_id=live["account"].pk,
            to="0912345678",
            template_version_id=live["version"].pk,
            values=lon.VALUES,
            actor=viewer,
        )
    operator = factories.member(live["org"], "operator")
    notice = services.notice_send(
        account_id=live["account"].pk,
        to="0912345678",
        template_version_id=live["version"].pk,
        values=lon.VALUES,
        actor=operator,
    )
    assert notice.sent_by == operator


# --- Admin pages ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role,sees", [("admin", True), ("viewer", True), ("other_org", False), ("reviewer", True)]
)
def test_changelists_are_scoped(client, live, send, role, sees):
    send("0987000111")
    client.force_login(user_for(role, live))
    for name in ("application", "template", "notice"):
        response = client.get(reverse(f"admin:notifications_{name}_changelist"))
        assert response.status_code == 200
        assert (response.context["cl"].result_count == 1) is sees, name


def test_other_org_gets_404_on_a_notice(client, live, send):
    notice = send("0987000111")
    client.force_login(user_for("other_org", live))
    assert (
        client.get(reverse("admin:notifications_notice_change", args=[notice.pk])).status_code
        == 404
    )


def test_reviewer_queue_highlights_flagged_spans(client, live):
    v = lon.version(
        live["account"],
        admin=live["admin"],
        reviewer=live["reviewer"],
        approve=False,
        title="限時到貨通知",
    )
    services.template_submit(actor=live["admin"], version_id=v.pk)
    client.force_login(live["reviewer"])
    queue = client.get(reverse("admin:notifications_templateversionreview_changelist"))
    assert list(queue.context["cl"].result_list) == [v]
    page = client.get(
        reverse("admin:notifications_templateversionreview_change", args=[v.pk])
    ).content.decode()
    assert '<mark class="lon-flag lon-advertising" title="advertising">限時</mark>' in page


def test_reviewer_rejects_a_template_with_a_reason_from_the_queue(client, live):
    v = lon.version(live["account"], admin=live["admin"], reviewer=live["reviewer"], approve=False)
    services.template_submit(actor=live["admin"], version_id=v.pk)
    client.force_login(live["reviewer"])
    url = reverse("admin:notifications_templateversionreview_changelist")
    data = {"action": "reject", ACTION_CHECKBOX_NAME: [v.pk], "confirm": "yes", "reason": ""}
    client.post(url, data)
    v.refresh_from_db()
    assert v.status == "pending"  # a reason is required
    client.post(url, {**data, "reason": "含促銷字眼"})
    v.refresh_from_db()
    assert (v.status, v.review_reason) == ("rejected", "含促銷字眼")


def test_customer_cannot_see_review_queues(client, live):
    client.force_login(live["admin"])
    for name in ("applicationreview", "templateversionreview"):
        assert client.get(reverse(f"admin:notifications_{name}_changelist")).status_code == 403


def test_application_queue_oldest_first_and_advance(client, live):
    org2 = factories.organization(state="approved")
    account = factories.account_for(org2)
    factories.linked(org2, account)
    app = services.application_create(
        actor=lon.admin_of(org2), account_id=account.pk, scenarios=["bill"]
    )
    services.application_submit(actor=lon.admin_of(org2), application_id=app.pk)
    client.force_login(live["reviewer"])
    url = reverse("admin:notifications_applicationreview_changelist")
    assert [a.pk for a in client.get(url).context["cl"].result_list] == [app.pk]
    client.post(url, {"action": "advance", ACTION_CHECKBOX_NAME: [app.pk]})
    assert Application.objects.get(pk=app.pk).stage == "contract"


def test_customer_creates_an_application_in_the_admin(client):
    org = factories.organization(state="approved")
    account = factories.account_for(org)
    factories.linked(org, account)
    operator = factories.member(org, "operator")
    client.force_login(operator)
    response = client.post(
        reverse("admin:notifications_application_add"),
        {
            "account": account.pk,
            "scenarios": ["bill", "payment"],
            "use_description": "帳單",
            "purchase_agreement": lon.upload("a.pdf"),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    app = Application.objects.get(account=account)
    assert app.scenarios == ["bill", "payment"] and app.purchase_agreement
    assert app.created_by == operator


def test_customer_creates_a_template_and_a_new_version_in_the_admin(client, live):
    client.force_login(live["admin"])
    form = {
        "account": live["account"].pk,
        "name": "帳單通知",
        "scenario": "bill",
        "title": "本月帳單",
        "body": "{{name}} 您好，本月帳單已出。",
        "placeholders": '["name"]',
        "fields_json": "[]",
        "cta_label": "",
        "cta_kind": "",
        "cta_url": "",
        "service_type": "",
        "utility": "",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
    }
    response = client.post(reverse("admin:notifications_template_add"), form)
    assert response.status_code == 302, response.content.decode()[:3000]
    template = live["account"].lon_templates.get(name="帳單通知")
    form["body"] = "{{name}} 您好，本月帳單金額已確認。"
    response = client.post(reverse("admin:notifications_template_change", args=[template.pk]), form)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert list(template.versions.values_list("number", "status")) == [(2, "draft"), (1, "draft")]


def test_export_action_returns_csv_for_admins_only(client, live, send):
    notice = send("0987000111", delivery_tag="fallback-sms-00001")
    url = reverse("admin:notifications_notice_changelist")
    client.force_login(factories.member(live["org"], "operator"))
    response = client.get(url)
    assert "export_failed" not in response.content.decode()
    client.force_login(live["admin"])
    response = client.post(url, {"action": "export_failed", ACTION_CHECKBOX_NAME: [notice.pk]})
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0] == "hash,delivery_tag,reason,accepted_at"
    assert lines[1].split(",")[1:3] == ["fallback-sms-00001", "phone_mismatch"]
    assert FailedNoticeExport.objects.count() == 1
    assert Notice.objects.count() == 1
