"""The API's requests in the operators' view: counted per endpoint, logged once with their id."""

import json
import logging

import pytest
from django.test import override_settings

from lbm import observability
from tests.lbm.test_operations import scrape, value

pytestmark = pytest.mark.django_db


@override_settings(METRICS_TOKEN="tok")
def test_metrics_count_api_requests_per_endpoint_and_read_the_system(client, api):
    from tests import factories

    factories.organization(state="pending")
    before = value(
        scrape(client),
        'lbm_http_requests_total{endpoint="bot-info",kind="api",method="GET",status="200"}',
    )
    assert api.get("/v2/bot/info").status_code == 200
    assert api.get("/v2/bot/audienceGroup/999999").status_code == 400  # LINE's answer
    text = scrape(client)
    assert (
        value(
            text,
            'lbm_http_requests_total{endpoint="bot-info",kind="api",method="GET",status="200"}',
        )
        == before + 1
    )
    assert (
        value(
            text,
            'lbm_http_requests_total{endpoint="audience",kind="api",method="GET",status="400"}',
        )
        >= 1
    )
    assert 'lbm_http_request_duration_seconds_bucket{endpoint="bot-info",kind="api"' in text
    assert value(text, 'lbm_review_pending{queue="organizations"}') == 1
    assert value(text, 'lbm_review_overdue{queue="organizations"}') == 0
    assert value(text, "lbm_uploads_in_progress") == 0
    assert value(text, "lbm_notices_awaiting_charge") == 0
    assert value(text, 'lbm_webhook_deliveries_open{state="queued"}') == 0
    assert value(text, 'lbm_stalled_jobs{kind="upload"}') == 0


def test_every_api_request_is_logged_once_with_its_id_channel_and_duration(api, oa, caplog):
    with caplog.at_level(logging.INFO, logger="lbm.request"):
        response = api.get("/v2/bot/info")
    records = [r for r in caplog.records if r.name == "lbm.request"]
    assert len(records) == 1
    record = records[0]
    assert record.request_id == response["X-Line-Request-Id"]
    assert record.channel_id == oa.channel.channel_id
    assert record.route == "api:bot-info" and record.status == 200
    assert record.duration_ms > 0
    line = json.loads(observability.json_formatter().format(record))
    assert line["request_id"] == response["X-Line-Request-Id"]
    assert line["level"] == "INFO" and line["logger"] == "lbm.request"
    assert line["time"].endswith("+00:00")
    assert line["path"] == "/v2/bot/info" and line["duration_ms"] == record.duration_ms
