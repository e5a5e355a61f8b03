"""A customer's journey in zh-Hant: create a LINE Tag, post events through the intake (as the
tag's snippet does, from the browser), build a web-traffic audience from a URL rule and share
it to one linked account only. Screenshots of each step go to var/screenshots/."""

import json
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from audiences.models import Audience, AudienceShare, LineTag, TagEvent
from lbm.models import Organization
from tests import factories
from tests.audiences import factories as af
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(django_settings.BASE_DIR) / "var" / "screenshots"


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"audiences-journey-{name}.png"), full_page=True)


def run_action(page, action: str, pks) -> None:
    for pk in pks:
        page.check(f"input[name=_selected_action][value='{pk}']")
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")


@pytest.fixture
def customer(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    org = factories.organization(state="approved", name="熊大餐飲集團")
    Organization.objects.filter(pk=org.pk).update(share_mode="share_selected")
    oa = factories.account_for(org, name="熊大餐廳官方帳號")
    factories.linked(org, oa)
    lap = factories.AccountFactory(
        kind="lap",
        basic_id=None,
        external_id="LAP-SHOP",
        verified=True,
        business_number=org.business_number,
        name="熊大商店 LAP",
    )
    factories.linked(org, lap)
    return org, factories.member(org, "operator"), oa, lap


def test_tag_events_audience_and_share_to_one_account(new_page, customer):
    org, user, oa, lap = customer
    users = af.line_users(80)
    page = new_page(locale="zh-Hant")
    sign_in(page, user.username, factories.PASSWORD)

    # 1. A LINE Tag, from the add form.
    page.goto("/admin/audiences/linetag/add/")
    page.select_option("#id_organization", str(org.pk))
    page.fill("#id_name", "官網 LINE Tag")
    page.click("input[name=_save]")
    page.wait_for_selector("text=官網 LINE Tag")
    tag = LineTag.objects.get(name="官網 LINE Tag")
    page.goto(f"/admin/audiences/linetag/{tag.pk}/change/")
    assert tag.tag_id in page.content()  # the snippets carry the tag ID
    shot(page, "1-tag")

    # 2. Events posted through the intake as the snippet posts them (text/plain, no preflight):
    # 60 visitors of an item page, 20 of the home page only.
    now = int(page.evaluate("Date.now() / 1000"))
    events = [
        {
            "type": "PageView",
            "url": f"https://shop.example.com/items/{i}",
            "timestamp": now - 60,
            "user": {"lineUserId": u.user_id},
        }
        for i, u in enumerate(users[:60])
    ] + [
        {
            "type": "PageView",
            "url": "https://shop.example.com/",
            "timestamp": now - 60,
            "user": {"lineUserId": u.user_id},
        }
        for u in users[60:]
    ]
    answer = page.evaluate(
        """async (body) => {
             const r = await fetch('/tag/v1/events', {method: 'POST', body: body,
                                   headers: {'Content-Type': 'text/plain'}});
             return {status: r.status, body: await r.json()};
           }""",
        json.dumps({"tagId": tag.tag_id, "events": events}),
    )
    assert answer == {"status": 202, "body": {"accepted": 80}}
    bad = page.evaluate(
        """async (body) => (await fetch('/tag/v1/events', {method: 'POST', body: body})).status""",
        json.dumps(
            {
                "tagId": tag.tag_id,
                "events": [{"type": "PageView", "url": "ftp://x", "timestamp": now, "user": {}}],
            }
        ),
    )
    assert bad == 400 and TagEvent.objects.filter(tag=tag).count() == 80

    # 3. A web-traffic audience: page views of URLs containing /items/ in the last 30 days.
    page.goto("/admin/audiences/linetag/")
    run_action(page, "create_web_traffic_audience", [tag.pk])
    page.fill("#id_name", "商品頁訪客")
    page.fill("#id_event", "PageView")
    page.select_option("#id_url_match", "contains")
    page.fill("#id_url_value", "/items/")
    page.fill("#id_retention_days", "30")
    shot(page, "2-rule")
    page.click("#lbm-confirm")
    page.wait_for_url("**/audiences/audience/*/change/")
    audience = Audience.objects.get(name="商品頁訪客")
    assert (audience.type, audience.size, audience.status) == ("webtraffic", 60, "ready")
    assert "商品頁訪客" in page.locator(".messagelist").inner_text()

    # 4. Share it to the LAP ad account only; the page says what each account may use it for.
    page.goto("/admin/audiences/audience/")
    run_action(page, "share", [audience.pk])
    usage = page.locator("#usage-by-account").inner_text()
    assert "再行銷" in usage and "排除" in usage  # retargeting and exclusion, in zh-Hant
    page.check(f"input[name=accounts][value='{lap.pk}']")
    shot(page, "3-share")
    page.click("#lbm-confirm")
    page.wait_for_selector(".messagelist")
    assert list(
        AudienceShare.objects.filter(audience=audience).values_list("account_id", flat=True)
    ) == [lap.pk]
    page.goto(f"/admin/audiences/audience/{audience.pk}/change/")
    assert "熊大商店 LAP" in page.content() and "熊大餐廳官方帳號" not in page.content()

    # 5. Insight: the size and the reachable part per account, under 50 never exact.
    page.click("#insight-link")
    page.wait_for_selector("html[data-insight-charts=drawn]")
    assert page.locator("#insight-size").inner_text() == "60"
    assert "少於 50" in page.locator("#insight-reachable").inner_text()
    shot(page, "4-insight")

    # 6. Unsharing lists what will stop first, then stops it.
    page.goto("/admin/audiences/audience/")
    run_action(page, "unshare", [audience.pk])
    page.check(f"input[name=accounts][value='{lap.pk}']")
    page.click("#lbm-confirm")  # 下一步：查看將會停止的項目
    stop = page.locator("#what-will-stop").inner_text()
    assert "商品頁訪客" in stop and "熊大商店 LAP" in stop
    assert AudienceShare.objects.filter(audience=audience).exists()  # nothing stopped yet
    shot(page, "5-what-will-stop")
    page.click("#lbm-confirm")
    page.wait_for_selector(".messagelist")
    assert not AudienceShare.objects.filter(audience=audience).exists()
