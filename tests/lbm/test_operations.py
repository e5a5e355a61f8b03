"""What operators see: health endpoints, Prometheus metrics, JSON logs, named task queues."""

import json
import logging
import socket

import pytest
from django.db.migrations.recorder import MigrationRecorder
from django.test import override_settings

from lbm import health, observability
from lbm.celery import app

pytestmark = pytest.mark.django_db


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens there once the socket is closed


@pytest.fixture(autouse=True)
def _fresh_readiness():
    health._migrations_applied = False
    yield
    health._migrations_applied = False


# --- health -------------------------------------------------------------------------------------


def test_liveness_answers_without_a_session(client):
    response = client.get("/-/live")
    assert response.status_code == 200
    assert response.json() == {"status": "live"}
    assert "sessionid" not in response.cookies
    assert response["Cache-Control"].startswith("max-age=0")


def test_readiness_is_ready_on_a_migrated_database(client):
    response = client.get("/-/ready")
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ready"}


def test_readiness_names_an_unapplied_migration(client):
    MigrationRecorder.Migration.objects.filter(app="billing").order_by("-id").first().delete()
    response = client.get("/-/ready")
    assert response.status_code == 503
    assert response.json() == {"status": "not ready", "problems": ["1 migrations not applied"]}


def test_readiness_fails_when_redis_cannot_be_reached(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{_closed_port()}/0"
    response = client.get("/-/ready")
    assert response.status_code == 503
    assert response.json()["problems"] == ["redis unreachable"]


def test_health_endpoints_take_only_get(client):
    assert client.post("/-/ready").status_code == 405


# --- metrics ------------------------------------------------------------------------------------


@override_settings(METRICS_TOKEN="s3cret-scrape-token", DEBUG=False)
def test_metrics_are_not_public(client):
    assert client.get("/-/metrics").status_code == 404
    assert client.get("/-/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    assert (
        client.get("/-/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token").status_code == 200
    )


@override_settings(METRICS_TOKEN="", DEBUG=False)
def test_metrics_without_a_token_are_served_nowhere_but_under_debug(client):
    assert client.get("/-/metrics").status_code == 404


@override_settings(METRICS_TOKEN="tok")
def test_admin_pages_are_counted_by_kind(client, admin_user):
    client.force_login(admin_user)
    assert client.get("/admin/lbm/organization/").status_code == 200
    assert client.get("/admin/lbm/organization/add/").status_code == 200
    text = scrape(client)
    assert (
        value(
            text,
            'lbm_http_requests_total{endpoint="changelist",kind="admin",method="GET",status="200"}',
        )
        >= 1
    )
    assert (
        value(
            text, 'lbm_http_requests_total{endpoint="add",kind="admin",method="GET",status="200"}'
        )
        >= 1
    )


def test_a_stalled_upload_is_counted(settings):
    from datetime import timedelta

    from django.utils import timezone

    from audiences.models import AudienceUpload
    from lbm.metrics import StateCollector
    from tests import factories

    org = factories.organization(state="approved")
    fresh = AudienceUpload.objects.create(organization=org, name="new", id_type="phone")
    old = AudienceUpload.objects.create(organization=org, name="old", id_type="phone")
    AudienceUpload.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - settings.STALLED_AFTER - timedelta(minutes=1)
    )
    metrics = {m.name: m for m in StateCollector().collect()}
    assert metrics["lbm_uploads_in_progress"].samples[0].value == 2
    stalled = {s.labels["kind"]: s.value for s in metrics["lbm_stalled_jobs"].samples}
    assert stalled == {"upload": 1, "webhook": 0}  # the fresh one is in progress, not stalled
    assert AudienceUpload.objects.filter(pk=fresh.pk, status="queued").exists()


def scrape(client) -> str:
    response = client.get("/-/metrics", HTTP_AUTHORIZATION="Bearer tok")
    assert response.status_code == 200
    return response.content.decode()


def value(text: str, sample: str) -> float:
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


# --- logs ---------------------------------------------------------------------------------------


def test_an_admin_request_keeps_the_proxy_request_id_and_logs_the_user_id(
    client, admin_user, caplog
):
    client.force_login(admin_user)
    with caplog.at_level(logging.INFO, logger="lbm.request"):
        client.get("/admin/?q=0912345678", HTTP_X_REQUEST_ID="proxy-abc-123")
    record = next(r for r in caplog.records if r.name == "lbm.request")
    assert record.request_id == "proxy-abc-123"
    assert record.user_id == admin_user.pk
    assert record.path == "/admin/"  # the query string (searches may hold anything) is not logged
    assert not hasattr(record, "channel_id")


def test_log_lines_mask_phone_numbers_and_e_mail_addresses():
    record = logging.LogRecord(
        "lbm.x",
        logging.WARNING,
        __file__,
        1,
        "sent to %s and %s, order %s",
        ("0912-345-678", "wang.xm@example.com.tw", "A123"),
        None,
    )
    observability.LogContextFilter().filter(record)
    line = json.loads(observability.json_formatter().format(record))
    assert line["message"] == "sent to [redacted] and [redacted], order A123"
    assert line["request_id"] == "-"


@pytest.mark.parametrize(
    "text",
    [
        "0912345678",
        "0912 345 678",
        "+886912345678",
        "+886 912-345-678",
        "+819012345678",
        "a.b+c@example.com",
    ],
)
def test_the_pii_scanner_finds_personal_data(text):
    assert observability.find_pii(f"x {text} y") == [text]


@pytest.mark.parametrize(
    "text",
    [
        "audience 12345678 done",
        "2026-12-01T21:44:18",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b",
        "request 6b1f0c1e-8e2a-4f6a-9a0b-0912345678ab",
        "NT$1,200",
        "U4af4980629a0b1c2d3e4f5a6b7c8d9e0",
    ],
)
def test_the_pii_scanner_leaves_ids_and_hashes_alone(text):
    assert observability.find_pii(text) == []


def test_the_suite_log_guard_would_catch_a_raw_phone_number(caplog):
    from tests.log_guard import GUARD

    before = len(GUARD.found)
    logging.getLogger("lbm.test").warning("calling %s", "0987654321")
    assert GUARD.found[before:] and "0987654321" in GUARD.found[-1]
    del GUARD.found[before:]  # this one was on purpose


# --- queues -------------------------------------------------------------------------------------


def _queue_of(task_name: str) -> str:
    return app.amqp.router.route({}, task_name)["queue"].name


def test_heavy_jobs_and_latency_sensitive_tasks_have_separate_queues(settings):
    app.loader.import_default_modules()
    ours = sorted(
        name
        for name in app.tasks
        if name.split(".")[0] in ("lbm", "audiences", "billing", "notifications")
    )
    assert len(ours) >= 10
    for name in ours:
        assert _queue_of(name) in settings.TASK_QUEUES, name
    assert _queue_of("audiences.import_upload") == "imports"
    assert _queue_of("billing.bill_month") == "billing"
    assert _queue_of("notifications.deliver_webhook") == "webhooks"
    assert _queue_of("notifications.finish_notices") == "webhooks"
    assert _queue_of("lbm.send_contact_verification") == "default"
    assert _queue_of("audiences.sweep_uploads") == "default"
    # What a worker started without -Q consumes: every queue, so nothing routed waits forever.
    assert sorted(app.amqp.queues) == sorted(settings.TASK_QUEUES)


@pytest.mark.integration
def test_queue_lengths_are_read_from_the_broker(settings):
    from lbm.metrics import queue_lengths

    with app.connection_for_write() as connection:
        connection.default_channel.client.delete("billing")
    app.send_task("billing.bill_month", args=["2001-01"])  # no worker consumes this test's tasks
    try:
        assert queue_lengths()["billing"] == 1
    finally:
        with app.connection_for_write() as connection:
            connection.default_channel.client.delete("billing")
    assert queue_lengths()["billing"] == 0
