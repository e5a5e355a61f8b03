"""Out-of-range and malformed input is refused with LINE's 400 (or 413), never a 500
(docs/api.md#errors); each case here was a 500 or a database error before, or could be one."""

import json

import pytest

from api import parsers

pytestmark = pytest.mark.django_db

TOO_BIG = str(2**64)


def post_raw(api, path, raw: bytes, method="post"):
    return getattr(api, method)(path, data=raw, content_type="application/json")


def assert_line_400(response, prop=None, status=400):
    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert isinstance(body["message"], str)
    if prop is not None:
        assert body["details"][0]["property"] == prop


@pytest.mark.parametrize(
    "page", [TOO_BIG, "9" * 30, "-1", "0", "1.5", "１", "1_0", "1e3", str(2**31), "9" * 5000]
)
def test_a_page_out_of_range_or_not_an_integer_is_400(api, page):
    assert_line_400(api.get("/v2/bot/audienceGroup/list", {"page": page}), "page")
    assert_line_400(api.get("/v2/bot/audienceGroup/shared/list", {"page": page}), "page")


@pytest.mark.parametrize("size", [TOO_BIG, "-5", "0", "41", "abc"])
def test_a_size_out_of_range_is_400(api, size):
    assert_line_400(api.get("/v2/bot/audienceGroup/list", {"page": 1, "size": size}), "size")


def test_the_largest_allowed_page_answers_an_empty_page(api):
    response = api.get("/v2/bot/audienceGroup/list", {"page": 2**31 - 1, "size": 40})
    assert response.status_code == 200
    assert response.json()["audienceGroups"] == []


@pytest.mark.parametrize(
    "path, delete", [("/v2/bot/audienceGroup/{}", 400), ("/v2/bot/audienceGroup/shared/{}", 405)]
)
def test_an_audience_id_beyond_64_bits_is_lines_not_found(api, path, delete):
    response = api.get(path.format(TOO_BIG))
    assert response.status_code == 400
    assert response.json()["details"][0]["message"] == "AUDIENCE_GROUP_NOT_FOUND"
    # LINE deletes an audience at the first path; the shared one is read-only (405).
    assert api.delete(path.format(2**63)).status_code == delete


def test_a_name_filter_with_a_nul_is_400(api):
    assert_line_400(
        api.get("/v2/bot/audienceGroup/list", {"page": 1, "description": "a\x00b"}), "description"
    )


@pytest.mark.parametrize("audience_group_id", [2**63, 2**64, -1, 0, True, "1", 1.5, None])
def test_add_ids_to_an_out_of_range_or_mistyped_audience_id_is_400(api, audience_group_id):
    response = api.put(
        "/v2/bot/audienceGroup/upload",
        {"audienceGroupId": audience_group_id, "audiences": [{"id": "U" + "0" * 32}]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["message"]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"description": "\\ud800", "audiences": []}',  # a lone surrogate: not UTF-8
        b'{"description": "a\\u0000b"}',  # NUL: PostgreSQL's text refuses it
        b'{"description": NaN}',
        b'{"description": 1e999}',
        b'{"description": "\xff\xfe"}',  # not UTF-8 at all
        b"[" * 5000 + b"]" * 5000,  # deeper than Python's json recursion
        b'{"a":' * 40 + b"1" + b"}" * 40,  # deeper than MAX_DEPTH
        b'"just a string"',
        b"[]",
        b"12345678901234567890123456789",
    ],
)
def test_malformed_or_unstorable_json_is_400(api, raw):
    response = post_raw(api, "/v2/bot/audienceGroup/upload", raw)
    assert_line_400(response)


@pytest.mark.parametrize(
    "body",
    [
        {"description": 12, "audiences": {"id": "x"}},
        {"description": ["x"]},
        {"description": {"a": 1}},
        {"description": "x", "isIfaAudience": "perhaps"},
        {"description": "x", "audiences": [{"id": None}]},
        {"description": "x" * 100_000},
    ],
)
def test_wrong_json_types_are_400(api, body):
    assert_line_400(post_raw(api, "/v2/bot/audienceGroup/upload", json.dumps(body).encode()))


def test_a_json_body_over_the_limit_is_413(api, settings):
    settings.LBM_API_MAX_JSON_BYTES = 1000
    raw = json.dumps({"description": "x", "audiences": [{"id": "U" + "0" * 32}] * 100}).encode()
    response = post_raw(api, "/v2/bot/audienceGroup/upload", raw)
    assert response.status_code == 413
    assert response.json() == {"message": "The request body is too large."}
    assert parsers.max_body_bytes() == 1000


@pytest.mark.parametrize(
    "recipient,limit",
    [
        ({"type": "audience", "audienceGroupId": 2**64}, None),
        ({"type": "audience", "audienceGroupId": True}, None),
        ({"type": "audience", "audienceGroupId": -3}, None),
        ({"type": "audience", "audienceGroupId": 1}, {"max": 2**64}),
        ({"type": "audience", "audienceGroupId": 1}, {"max": True}),
    ],
)
def test_narrowcast_ids_and_limits_out_of_range_are_400(api, recipient, limit):
    body = {"messages": [{"type": "text", "text": "x"}], "recipient": recipient}
    if limit is not None:
        body["limit"] = limit
    response = api.post("/v2/bot/message/narrowcast", body, format="json")
    assert response.status_code == 400, response.content[:300]


def test_multipart_fields_with_a_nul_or_too_long_are_400(api):
    from django.core.files.uploadedfile import SimpleUploadedFile

    def upload():
        return SimpleUploadedFile("ids.txt", b"U" + b"0" * 32 + b"\n", content_type="text/plain")

    response = api.post(
        "/v2/bot/audienceGroup/upload/byFile",
        {"description": "a\x00b", "file": upload()},
        format="multipart",
    )
    assert_line_400(response)
    response = api.post(
        "/v2/bot/audienceGroup/upload/byFile",
        {"description": "ok", "uploadDescription": "x" * 301, "file": upload()},
        format="multipart",
    )
    assert_line_400(response, "uploadDescription")
    response = api.put(
        "/v2/bot/audienceGroup/upload/byFile",
        {"audienceGroupId": TOO_BIG, "file": upload()},
        format="multipart",
    )
    assert_line_400(response, "audienceGroupId")


@pytest.mark.parametrize("day", ["٢٠٢٦١٢٠١", "2026-12-01", "20261301", "2026120", "9" * 5000])
def test_a_statistics_day_that_is_not_ascii_yyyymmdd_is_400(api, day):
    assert_line_400(api.get("/v2/bot/message/delivery/pnp", {"date": day}), "date")
