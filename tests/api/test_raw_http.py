"""Raw HTTP, bypassing the SDK's own checks: the server enforces every limit itself, and each
error status comes with LINE's body."""

import json
import secrets

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from api import views_audiences
from tests.notifications import factories as lon

pytestmark = pytest.mark.django_db


def uid() -> str:
    return "U" + secrets.token_hex(16)


def post_json(api, path, body, **headers):
    return api.post(path, data=json.dumps(body), content_type="application/json", **headers)


def test_oversized_name_is_400_with_the_property(api):
    response = post_json(
        api,
        "/v2/bot/audienceGroup/upload",
        {"description": "名" * 121, "audiences": [{"id": uid()}]},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "The request body has 1 error(s)"
    assert body["details"][0]["property"] == "description"


def test_more_than_10000_ids_in_json_is_400(api):
    response = post_json(
        api,
        "/v2/bot/audienceGroup/upload",
        {"description": "太多", "audiences": [{"id": uid()} for _ in range(10_001)]},
    )
    assert response.status_code == 400
    assert response.json()["details"][0]["property"] == "audiences"


@pytest.mark.parametrize("tag", ["short-tag-15chr", "x" * 101, "含中文的傳送標籤含中文的傳送標籤"])
def test_bad_delivery_tags_are_400(tag):
    setup = lon.live_setup()
    from lbm import channels

    _row, token = channels.token_issue(account=setup["account"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    headers = {"HTTP_X_LINE_DELIVERY_TAG": tag} if tag.isascii() else {}
    if not tag.isascii():
        # Not representable in an HTTP header as text: sent as UTF-8 bytes decoded as latin-1.
        headers = {"HTTP_X_LINE_DELIVERY_TAG": tag.encode().decode("latin-1")}
    response = post_json(
        client,
        "/bot/pnp/push",
        {"to": "a" * 64, "messages": [{"type": "text", "text": "到貨通知\n王小明 您好"}]},
        **headers,
    )
    assert response.status_code == 400
    assert response.json()["details"][0]["property"] == "X-Line-Delivery-Tag"


def test_malformed_json_is_400(api):
    response = api.post(
        "/v2/bot/audienceGroup/upload", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert "message" in response.json()


def test_wrong_media_type_is_415(api):
    response = api.post(
        "/v2/bot/audienceGroup/upload", data="description=x", content_type="text/plain"
    )
    assert response.status_code == 415
    upload = SimpleUploadedFile("ids.png", b"\x89PNG", content_type="image/png")
    response = api.post(
        "/v2/bot/audienceGroup/upload/byFile",
        {"description": "圖片", "file": upload},
        format="multipart",
    )
    assert response.status_code == 415
    assert response.json() == {"message": "The file must be text/plain."}


def test_oversized_file_is_413(api, monkeypatch):
    monkeypatch.setattr(views_audiences, "MAX_FILE_BYTES", 100)
    upload = SimpleUploadedFile(
        "ids.txt", ("\n".join(uid() for _ in range(5))).encode(), content_type="text/plain"
    )
    response = api.post(
        "/v2/bot/audienceGroup/upload/byFile",
        {"description": "大檔案", "file": upload},
        format="multipart",
    )
    assert response.status_code == 413


def test_booleans_in_form_fields_and_query_strings_arrive_capitalised(api):
    upload = SimpleUploadedFile(
        "ifa.txt", b"6D92078A-8246-4BA4-AE5B-76104861E7DC\n", content_type="text/plain"
    )
    response = api.post(
        "/v2/bot/audienceGroup/upload/byFile",
        {"description": "IFA", "isIfaAudience": "True", "file": upload},
        format="multipart",
    )
    assert response.status_code == 202 and response.json()["isIfaAudience"] is True
    listing = api.get(
        "/v2/bot/audienceGroup/shared/list", {"page": 1, "includesOwnedAudienceGroups": "True"}
    )
    assert listing.status_code == 200 and listing.json()["totalCount"] == 1
    bad = api.get(
        "/v2/bot/audienceGroup/list", {"page": 1, "includesExternalPublicGroups": "maybe"}
    )
    assert bad.status_code == 400


def test_put_by_file_parses_the_multipart_body_itself(api):
    created = post_json(
        api,
        "/v2/bot/audienceGroup/upload",
        {"description": "逐步加入", "audiences": [{"id": uid()}]},
    ).json()
    body = ("\n".join(uid() for _ in range(3))).encode()
    response = api.put(
        "/v2/bot/audienceGroup/upload/byFile",
        {
            "audienceGroupId": str(created["audienceGroupId"]),
            "file": SimpleUploadedFile("more.txt", body, content_type="text/plain"),
        },
        format="multipart",
    )
    assert response.status_code == 202
    data = api.get(f"/v2/bot/audienceGroup/{created['audienceGroupId']}").json()
    assert data["audienceGroup"]["audienceCount"] == 4


def test_audience_not_found_is_400_with_lines_code(api):
    response = api.get("/v2/bot/audienceGroup/123456789")
    assert response.status_code == 400
    assert response.json() == {
        "message": "audience group not found",
        "details": [{"message": "AUDIENCE_GROUP_NOT_FOUND"}],
    }


def test_audience_endpoints_are_limited_to_60_a_minute_per_channel(api):
    import time_machine

    with time_machine.travel("2026-11-22 10:00:05 +0000", tick=False):
        codes = [api.get("/v2/bot/audienceGroup/list", {"page": 1}).status_code for _ in range(61)]
        assert api.get("/v2/bot/info").status_code == 200  # another scope, its own budget
    assert codes[:60] == [200] * 60 and codes[60] == 429
