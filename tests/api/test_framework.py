"""The API's common behaviour: authentication, error bodies, request IDs, rate limits, schema."""

import uuid

import pytest
from rest_framework.test import APIClient

from api.errors import AUTH_FAILED, AUTH_REQUIRED, LineAPIError
from api.params import parse_bool
from lbm import channels
from tests import factories

pytestmark = pytest.mark.django_db


def test_bot_info_answers_for_the_token_channel(api, oa):
    response = api.get("/v2/bot/info")
    assert response.status_code == 200
    assert response.json() == {
        "userId": oa.channel.bot_user_id,
        "basicId": oa.basic_id,
        "premiumId": "@bearfood",
        "displayName": oa.name,
        "chatMode": "bot",
        "markAsReadMode": "auto",
    }
    uuid.UUID(response["X-Line-Request-Id"])


@pytest.mark.parametrize(
    "header,message",
    [
        (None, AUTH_REQUIRED),
        ("Basic abc", AUTH_REQUIRED),
        ("Bearer not-a-token", AUTH_FAILED),
    ],
)
def test_missing_or_wrong_token_is_401_with_lines_body(header, message):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/v2/bot/info")
    assert response.status_code == 401
    assert response.json() == {"message": message}
    assert response["X-Line-Request-Id"]


def test_revoked_token_is_401(api, oa):
    row = oa.channel.tokens.get()
    channels.token_revoke(token_id=row.pk, actor=factories.account_manager())
    assert api.get("/v2/bot/info").status_code == 401


def test_unknown_api_path_is_lines_404(api):
    response = api.get("/v2/bot/nothing/here")
    assert response.status_code == 404
    assert response.json() == {"message": "Not found"}
    assert response["X-Line-Request-Id"]


def test_unknown_api_path_is_404_for_any_method(api):
    response = api.put("/v2/bot/audienceGroup/null%2Cnull/updateDescription", {}, format="json")
    assert response.status_code == 404
    assert response.json() == {"message": "Not found"}


def test_admin_pages_carry_no_request_id(client):
    assert "X-Line-Request-Id" not in client.get("/admin/login/")


def test_rate_limit_per_channel_answers_429(api, oa, settings):
    settings.LBM_API_RATE_LIMITS = {**settings.LBM_API_RATE_LIMITS, "default": "3/min"}
    codes = [api.get("/v2/bot/info").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = api.get("/v2/bot/info")
    assert limited.json() == {"message": "The API rate limit has been exceeded. Try again later."}
    # Another channel has its own budget.
    other = factories.AccountFactory()
    _row, token = channels.token_issue(account=other)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/v2/bot/info").status_code == 200


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("True", True),
        ("true", True),
        ("TRUE", True),
        ("False", False),
        ("false", False),
        ("0", False),
        (None, None),
    ],
)
def test_booleans_arrive_as_python_spells_them(raw, expected):
    assert parse_bool(raw, name="x") is expected


def test_bad_boolean_is_a_400_detail():
    with pytest.raises(LineAPIError) as error:
        parse_bool("yes please", name="includesExternalPublicGroups")
    assert error.value.details == [
        ("Invalid boolean value: yes please", "includesExternalPublicGroups")
    ]


def test_openapi_document_is_served():
    response = APIClient().get("/api/openapi?format=json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert "/v2/bot/info" in document["paths"]
