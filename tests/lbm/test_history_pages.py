"""The history pages read like the rest of the admin (docs/language.md#history-pages): choice
labels and names instead of raw codes and ``pk=None``, who and why, Taipei time, zh-Hant by
default and English on request."""

import datetime
import re

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone, translation

from tests import factories

pytestmark = pytest.mark.django_db

# 15:30 UTC on 31 January is 23:30 on 31 January in Taipei.
WHEN = datetime.datetime(2026, 1, 31, 15, 30, tzinfo=datetime.UTC)


@pytest.fixture
def org(settings):
    settings.LANGUAGE_CODE = "zh-hant"
    with time_machine.travel(WHEN, tick=False):
        return factories.organization(
            state="approved", name="熊大餐飲", admin=factories.UserFactory(username="bear.boss")
        )


def _history(client, org, language=None):
    if language:
        client.cookies["django_language"] = language
    response = client.get(reverse("admin:lbm_organization_history", args=[org.pk]))
    assert response.status_code == 200
    return response.content.decode()


def _visible(page):
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def test_history_list_shows_labels_names_who_why_and_taipei_time(client, org):
    client.force_login(org.contact)
    page = _history(client, org)
    text = _visible(page)
    assert "<strong>狀態</strong>：審核中 → 已核准" in page
    assert "<strong>狀態</strong>：草稿 → 審核中" in page
    assert "<strong>聯絡人</strong>：— → bear.boss" in page
    assert "2026年1月31日 23:30" in text
    assert "已變更" in text and "已建立" in text and "變更者" in text
    for raw in ("pending", "approved", "pk=None", "Deleted", "Changed", "None"):
        assert raw not in text, raw
    # The reason each service recorded, beside the change.
    approval = org.history.order_by("-history_date", "-history_id").first()
    assert approval.history_change_reason and approval.history_change_reason in text
    assert approval.history_user.username in text


def test_history_list_in_english_on_request(client, org):
    client.force_login(org.contact)
    page = _history(client, org, language="en")
    assert "<strong>Status</strong>: Pending review → Approved" in page
    assert "Changed by" in page and "狀態" not in page


def test_hashes_never_reach_the_history_pages(client, org):
    client.force_login(org.contact)
    digest = org.contact_email_verified_hash
    assert digest
    version = org.history.order_by("-history_date", "-history_id").first()
    page = client.get(
        reverse("admin:lbm_organization_simple_history", args=[org.pk, version.history_id])
    ).content.decode()
    assert digest not in _history(client, org) and digest not in page


def test_a_version_page_is_a_read_only_table_of_display_values(client, org):
    client.force_login(factories.member(org, "viewer"))
    draft = org.history.order_by("history_date", "history_id").first()
    response = client.get(
        reverse("admin:lbm_organization_simple_history", args=[org.pk, draft.history_id])
    )
    assert response.status_code == 200
    page = response.content.decode()
    content = page[page.index('id="content"') :]
    assert not re.search(r"<(input|select|textarea)\b", content)
    text = _visible(content)
    assert "熊大餐飲" in text and "2026年1月31日 23:30" in text
    assert "狀態 草稿" in text and "業者類型 公司／品牌主" in text and "產業 電子商務" in text
    assert "返回變更紀錄" in text
    assert "draft" not in text and "ecommerce" not in text and "pk=" not in text


def test_display_values_read_like_the_admin():
    from decimal import Decimal

    from simple_history.models import DeletedObject

    from billing.models import PromotionCode
    from lbm.history_admin import display_value
    from lbm.models import Account, Organization

    org = Organization._meta
    code = PromotionCode._meta
    with translation.override("zh-hant"), timezone.override("Asia/Taipei"):
        assert display_value(org.get_field("status"), "pending") == "審核中"
        assert display_value(org.get_field("contact"), DeletedObject(org.model, None)) == "—"
        assert display_value(org.get_field("contact_email_verified_at"), WHEN) == (
            "2026年1月31日 23:30"
        )
        assert display_value(org.get_field("name"), "") == "—"
        assert display_value(code.get_field("face_value"), Decimal("1200.0000")) == "1,200"
        assert display_value(Account._meta.get_field("verified"), True) == "是"
    with translation.override("en"):
        assert display_value(org.get_field("status"), "pending") == "Pending review"
        assert display_value(code.get_field("face_value"), Decimal("0.2000")) == "0.2"


def test_another_organizations_history_list_is_the_same_404_as_a_missing_one(client, org):
    other = factories.organization(state="approved", name="兔兔服飾")
    client.force_login(org.contact)
    for pk in (other.pk, 999999):
        response = client.get(reverse("admin:lbm_organization_history", args=[pk]))
        assert response.status_code == 404
        assert "找不到頁面" in response.content.decode()
        assert "兔兔服飾" not in response.content.decode()


def test_a_fixed_reason_recorded_in_english_reads_in_zh_hant(client, settings):
    english = factories.organization(state="approved", name="熊大餐飲")  # tests act in English
    reasons = set(english.history.values_list("history_change_reason", flat=True))
    assert {"Approved", "Submitted for review"} <= reasons
    settings.LANGUAGE_CODE = "zh-hant"
    client.force_login(english.contact)
    text = _visible(_history(client, english))
    assert "已核准" in text and "已送審" in text
    assert "Approved" not in text and "Submitted for review" not in text
