"""The django-import-export and django-simple-history pages speak zh-Hant (docs/language.md):
the project catalogue covers the strings those libraries' own catalogues lack in zh_Hant, and the
export form labels each column with its field's verbose name."""

import json
import re

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from import_export.admin import ExportMixin

from lbm.import_export_i18n import LabelledExportForm
from tests import factories

pytestmark = pytest.mark.django_db

# English that must not reach a zh-Hant page: the libraries' own words and Django's.
ENGLISH = [
    "Import",
    "Export",
    "Format",
    "Resource",
    "File to import",
    "Submit",
    "This importer",
    "This exporter",
    "Select all",
    "Confirm import",
    "Preview",
    "Errors",
    "Skipped",
    "History",
    "Changed by",
    "Changes",
    "Change reason",
    "Object",
    "Comment",
    "Date/time",
    "Home",
    "Close",
    "Revert",
    "entries",
    "Changed",
    "Created",
    "Deleted",
    "None",
    "pk=",
    "Business Number",
    "Certified",
    "Name",
    "Face Value",
    "Valid From",
    "Toggle theme",
    "Welcome",
    "Log out",
    "Change password",
    "Language",
]


def visible(page: str) -> str:
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def leaks(page: str) -> list[str]:
    text = visible(page)
    return [
        word for word in ENGLISH if re.search(rf"(?<![A-Za-z]){re.escape(word)}(?![A-Za-z])", text)
    ]


@pytest.fixture
def zh(settings):
    settings.LANGUAGE_CODE = "zh-hant"


def _page(client, url, **kwargs):
    response = client.post(url, kwargs) if kwargs else client.get(url)
    assert response.status_code == 200, url
    page = response.content.decode()
    assert '<html lang="zh-hant"' in page
    return page


def test_the_leak_check_itself():
    assert leaks("<p>將匯入下列欄位：<code>名稱（name）</code></p>") == []
    assert leaks('<p title="Import">File to import: <b>Import</b></p>') == [
        "Import",
        "File to import",
    ]


def test_import_pages_speak_zh_hant(client, zh):
    client.force_login(factories.account_manager())
    url = reverse("admin:lbm_provider_import")
    page = _page(client, url)
    assert leaks(page) == []
    for chinese in (
        "匯入",
        "要匯入的檔案",
        "格式",
        "將匯入下列欄位",
        "名稱（name）",
        "統一編號（business_number）",
    ):
        assert chinese in page, chinese
    csv = f"id,name,business_number,certified\n,熊大：新,{factories.next_business_number()},1\n"
    preview = _page(
        client,
        url,
        format="0",
        resource="0",
        import_file=SimpleUploadedFile("p.csv", csv.encode(), content_type="text/csv"),
    )
    assert leaks(preview) == []
    assert "以下是即將匯入的資料預覽" in preview and "確認匯入" in preview and "新增" in preview
    confirm = preview[preview.index('action="' + reverse("admin:lbm_provider_process_import")) :]
    confirm = confirm[: confirm.index("</form>")]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', confirm))
    done = client.post(reverse("admin:lbm_provider_process_import"), fields, follow=True)
    messages = [str(m) for m in done.context["messages"]]
    assert any("匯入完成：新增 1 筆、更新 0 筆" in m for m in messages), messages


def test_export_pages_speak_zh_hant(client, zh):
    client.force_login(factories.account_manager())
    for name in (
        "admin:lbm_provider_export",
        "admin:lbm_account_export",
        "admin:billing_promotioncode_export",
    ):
        page = _page(client, reverse(name))
        assert leaks(page) == [], name
        assert "將匯出下列欄位" in page and "全選" in page and "格式" in page
    page = _page(client, reverse("admin:billing_promotioncode_export"))
    assert "面額（新台幣）（face_value）" in page and "有效期間開始日（valid_from）" in page


def test_the_audience_import_page_speaks_zh_hant(client, zh):
    org = factories.organization(state="approved", name="熊大餐飲")
    client.force_login(org.contact)
    page = _page(client, reverse("admin:audiences_audience_import"))
    assert leaks(page) == []
    assert "上傳受眾" in page and "上傳方式" in page and "檢查檔案" in page


def test_history_pages_speak_zh_hant(client, zh):
    org = factories.organization(state="approved", name="熊大餐飲")
    client.force_login(org.contact)
    page = _page(client, reverse("admin:lbm_organization_history", args=[org.pk]))
    assert leaks(page) == []
    assert "變更者" in page and "變更內容" in page and "已變更" in page and "筆變更" in page
    version = org.history.order_by("history_date", "history_id").first()
    page = _page(
        client, reverse("admin:lbm_organization_simple_history", args=[org.pk, version.history_id])
    )
    assert leaks(page) == []
    assert "此次變更後的內容" in page and "返回變更紀錄" in page


def test_every_export_admin_labels_its_columns():
    exporting = [a for a in admin.site._registry.values() if isinstance(a, ExportMixin)]
    assert len(exporting) >= 4
    assert [
        type(a).__name__
        for a in exporting
        if not issubclass(a.get_export_form_class(), LabelledExportForm)
    ] == []


def test_the_admin_javascript_strings_use_full_width_punctuation(client, zh):
    client.force_login(factories.account_manager())
    script = client.get(reverse("admin:jsi18n")).content.decode()
    for chinese in (
        "要選擇%s，請先選取項目，再按「選取」箭頭按鈕。",
        "您有尚未儲存的欄位變更。如果執行動作，未儲存的變更將會遺失。",
    ):
        assert chinese in script or json.dumps(chinese)[1:-1] in script, chinese
    assert json.dumps("如果你執行動作, ")[1:-1] not in script and "如果你執行動作, " not in script
