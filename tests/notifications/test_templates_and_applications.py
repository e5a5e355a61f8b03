"""Applications (eligibility, stages, history, expected finish) and templates (scenarios and
their restrictions, pre-screen flags, versions, the exempt/masking rule)."""

from datetime import date

import pytest
import time_machine

from lbm.exceptions import InvalidTransition
from notifications import rendering, services
from notifications.exceptions import ApplicationRefused, TemplateRefused
from notifications.models import Application, TemplateVersion
from tests import factories
from tests.notifications import factories as lon

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    return factories.organization(state="approved")


@pytest.fixture
def admin(org):
    return lon.admin_of(org)


@pytest.fixture
def reviewer():
    return factories.reviewer()


def linked_account(org, **kwargs):
    account = factories.account_for(org, **kwargs)
    factories.linked(org, account)
    return account


# --- Applications -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"badge": "none"}, "must be verified (blue or green badge)"),
        ({"certified": False}, "needs a certified provider"),
    ],
)
def test_application_refused_without_badge_or_certified_provider(org, admin, kwargs, message):
    certified = kwargs.pop("certified", True)
    provider = factories.ProviderFactory(
        certified=certified, business_number=org.business_number, name=f"{org.name}：熊大餐廳"
    )
    account = factories.account_for(org, provider=provider)
    factories.linked(org, account)
    if kwargs:
        account.badge = kwargs["badge"]
        account.save()
    with pytest.raises(ApplicationRefused) as info:
        services.application_create(actor=admin, account_id=account.pk, scenarios=["bill"])
    assert message in str(info.value)
    assert not Application.objects.exists()


def test_green_badge_may_apply(org, admin):
    account = linked_account(org, badge="green")
    assert (
        services.application_create(actor=admin, account_id=account.pk, scenarios=["bill"]).stage
        == "draft"
    )


def test_stages_in_order_with_history_and_expected_finish(org, admin, reviewer):
    account = linked_account(org)
    app = services.application_create(actor=admin, account_id=account.pk, scenarios=["bill"])
    with time_machine.travel("2025-03-03 02:00:00+00:00", tick=False):  # Monday
        app = services.application_submit(actor=admin, application_id=app.pk)
    assert (app.expected_earliest, app.expected_latest) == (date(2025, 3, 17), date(2025, 3, 31))
    app = services.application_advance(actor=reviewer, application_id=app.pk)
    assert app.stage == "contract"
    with pytest.raises(ApplicationRefused, match="purchase agreement and NDA"):
        services.application_advance(actor=reviewer, application_id=app.pk)
    services.application_update(
        actor=admin,
        application_id=app.pk,
        files={"purchase_agreement": lon.upload(), "nda": lon.upload()},
    )
    app = services.application_advance(actor=reviewer, application_id=app.pk)
    assert app.stage == "testing"
    with pytest.raises(ApplicationRefused, match="recording of the test"):
        services.application_advance(actor=reviewer, application_id=app.pk)
    services.application_update(
        actor=admin, application_id=app.pk, files={"test_recording": lon.upload("t.mp4")}
    )
    app = services.application_advance(actor=reviewer, application_id=app.pk)
    assert app.stage == "live" and app.test_recording_checked_by == reviewer
    with pytest.raises(ApplicationRefused, match="written reason"):
        services.application_suspend(actor=reviewer, application_id=app.pk, reason=" ")
    services.application_suspend(actor=reviewer, application_id=app.pk, reason="違規廣告")
    services.application_reinstate(actor=reviewer, application_id=app.pk, reason="已改善")
    history = list(
        app.history.order_by("history_id").values_list(
            "stage", "history_user", "history_change_reason"
        )
    )
    assert [h[0] for h in history] == [
        "draft",
        "scenario_review",
        "contract",
        "contract",
        "testing",
        "testing",
        "live",
        "suspended",
        "live",
    ]
    assert history[-2][1:] == (reviewer.pk, "Live → Suspended: 違規廣告")


def test_reject_needs_a_reason_and_the_customer_resubmits(org, admin, reviewer):
    account = linked_account(org)
    app = services.application_create(actor=admin, account_id=account.pk, scenarios=["bill"])
    services.application_submit(actor=admin, application_id=app.pk)
    with pytest.raises(ApplicationRefused):
        services.application_reject(actor=reviewer, application_id=app.pk, reason="")
    services.application_reject(actor=reviewer, application_id=app.pk, reason="情境不符")
    services.application_update(actor=admin, application_id=app.pk, scenarios=["delivery"])
    assert (
        services.application_submit(actor=admin, application_id=app.pk).stage == "scenario_review"
    )


def test_live_cannot_skip_back_or_be_reinstated(org, admin, reviewer):
    account = linked_account(org)
    app = lon.application_live(account, admin=admin, reviewer=reviewer)
    with pytest.raises(InvalidTransition):
        services.application_transition(actor=reviewer, application_id=app.pk, target="contract")
    with pytest.raises(ApplicationRefused, match="Only a suspended"):
        services.application_reinstate(actor=reviewer, application_id=app.pk, reason="x")


# --- Templates --------------------------------------------------------------------------------


def test_prescreen_flags_advertising_words_and_undeclared_placeholders():
    content = rendering.Content(
        scenario="points",
        title="限時優惠",
        placeholders=["name"],
        body="{{name}} 您獲得 10 點，Big SALE and coupon {{code}}！",
        fields=[],
    )
    flags = rendering.prescreen(content)
    assert {(f["part"], f["text"], f["kind"]) for f in flags} == {
        ("title", "限時", "advertising"),
        ("title", "優惠", "advertising"),
        ("body", "SALE", "advertising"),
        ("body", "coupon", "advertising"),
        ("body", "{{code}}", "undeclared_placeholder"),
    }
    body_flag = next(f for f in flags if f["text"] == "{{code}}")
    assert content.body[body_flag["start"] : body_flag["end"]] == "{{code}}"
    assert not rendering.prescreen(
        rendering.Content(
            scenario="bill", title="Wholesale bill", body="Your bill", placeholders=[], fields=[]
        )
    )


@pytest.mark.parametrize(
    "content,message",
    [
        ({"scenario": "reservation", "service_type": "other"}, "only for restaurant reservations"),
        ({"scenario": "reservation_reminder"}, "only for restaurant reservations"),
        ({"scenario": "outage"}, "power, gas and telecom"),
        ({"scenario": "points", "promotional_points": True}, "free points given by a promotion"),
        ({"scenario": "lottery"}, "one of the 18 notification scenarios"),
        ({"cta_url": "http://shop.example.com"}, "https link or a LIFF URL"),
        ({"cta_kind": "liff", "cta_url": "https://example.com/liff"}, "https://liff.line.me/"),
        ({"placeholders": ["Name"]}, "is not a placeholder name"),
    ],
)
def test_scenario_restrictions_and_link_rules(org, admin, content, message):
    account = linked_account(org)
    with pytest.raises(TemplateRefused) as info:
        services.template_create(
            actor=admin, account_id=account.pk, name="t", content={**lon.CONTENT, **content}
        )
    assert message in str(info.value)


@pytest.mark.parametrize(
    "content",
    [
        {"scenario": "reservation", "service_type": "restaurant"},
        {"scenario": "outage", "utility": "gas"},
        {"scenario": "enquiry", "cta_kind": "liff", "cta_url": "https://liff.line.me/123-abc"},
    ],
)
def test_allowed_scenarios(org, admin, content):
    account = linked_account(org)
    v = services.template_create(
        actor=admin, account_id=account.pk, name="t", content={**lon.CONTENT, **content}
    )
    assert v.number == 1 and v.status == "draft"


def test_exempt_needs_masking_and_no_forbidden_field(org, admin):
    account = linked_account(org)
    name_field = {"label": "姓名", "value": "{{name}}", "kind": "name"}
    with pytest.raises(TemplateRefused, match="must be masked"):
        services.template_create(
            actor=admin,
            account_id=account.pk,
            name="a",
            content={**lon.CONTENT, "exempt": True, "fields": [name_field]},
        )
    with pytest.raises(TemplateRefused, match="may not be shown"):
        services.template_create(
            actor=admin,
            account_id=account.pk,
            name="b",
            content={
                **lon.CONTENT,
                "exempt": True,
                "fields": [{"label": "身分證", "value": "A1", "kind": "national_id"}],
            },
        )
    v = services.template_create(
        actor=admin,
        account_id=account.pk,
        name="c",
        content={**lon.CONTENT, "exempt": True, "fields": [{**name_field, "masked": True}]},
    )
    rendered = rendering.render(rendering.Content.of(v), lon.VALUES)
    assert rendered["fields"] == [{"label": "姓名", "value": "王*明"}]
    assert rendered["body"].startswith("王小明 您好")


def test_masking_keeps_the_last_four_digits_of_numbers():
    assert rendering.mask("0912345678", "phone") == "******5678"
    assert rendering.mask("chen@example.com", "email") == "c***@example.com"


def test_change_makes_a_new_version_reviewed_again(org, admin, reviewer):
    account = linked_account(org)
    v1 = lon.version(account, admin=admin, reviewer=reviewer, name="到貨")
    same = services.template_revise(actor=admin, template_id=v1.template_id, content={})
    assert same.pk == v1.pk
    v2 = services.template_revise(
        actor=admin,
        template_id=v1.template_id,
        content={"body": "{{name}} 您好，訂單 {{order_no}} 已出貨。"},
    )
    assert (v2.number, v2.status) == (2, "draft")
    v1.refresh_from_db()
    assert v1.status == "approved"  # still sendable until v2 is approved
    services.template_submit(actor=admin, version_id=v2.pk)
    with pytest.raises(TemplateRefused, match="written reason"):
        services.template_review(actor=reviewer, version_id=v2.pk, decision="rejected")
    services.template_review(actor=reviewer, version_id=v2.pk, decision="approved")
    v1.refresh_from_db()
    assert v1.status == "superseded"


def test_undeclared_placeholder_cannot_be_approved(org, admin, reviewer):
    account = linked_account(org)
    v = services.template_create(
        actor=admin,
        account_id=account.pk,
        name="t",
        content={**lon.CONTENT, "body": "{{name}} {{order_no}} {{secret}}"},
    )
    assert any(f["kind"] == "undeclared_placeholder" for f in v.prescreen_flags)
    services.template_submit(actor=admin, version_id=v.pk)
    with pytest.raises(TemplateRefused, match="Placeholders not declared: {{secret}}"):
        services.template_review(actor=reviewer, version_id=v.pk, decision="approved")
    assert TemplateVersion.objects.get(pk=v.pk).status == "pending"
