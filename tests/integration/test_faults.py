"""Fault tier (docs/reliability.md): real PostgreSQL, Redis and a Celery worker started as the
README's ``make worker`` starts it (prefork); faults are injected from outside — kill -9 of
worker processes, database backends terminated — and each test asserts the end state."""

import os
import signal
import subprocess
import time

import pytest
from django.core.files import File
from django.db import connection

from audiences import services
from audiences.models import Audience, AudienceMember, AudienceUpload
from tests import factories

pytestmark = [pytest.mark.integration, pytest.mark.fault, pytest.mark.django_db(transaction=True)]

LINES = 400_000


@pytest.fixture
def shared_media(settings, monkeypatch):
    monkeypatch.setenv("MEDIA_ROOT", str(settings.MEDIA_ROOT))
    monkeypatch.setenv("PII_HASH_KEY", settings.PII_HASH_KEY)


def _start_upload(tmp_path, name):
    org = factories.organization(state="approved")
    admin = org.memberships.get(role="admin").user
    path = tmp_path / "members.txt"
    with open(path, "w") as handle:
        for i in range(LINES):
            handle.write(f"09{i * 7 + 11:08d}\n")
    with open(path, "rb") as handle:
        upload = services.upload_start(
            actor=admin,
            organization_id=org.pk,
            id_type="phone",
            file=File(handle, name="members.txt"),
            name=name,
        )
    return upload, upload.file.path


def _wait(predicate, worker, timeout=180, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(step)
    raise AssertionError("timed out\n" + worker.log_path.read_text()[-4000:])


def _copy_backends() -> list[int]:
    """Backends of this database running the import's COPY right now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND query ILIKE 'COPY %%' "
            "AND state = 'active'"
        )
        return [row[0] for row in cursor.fetchall()]


def test_a_database_backend_terminated_during_the_copy_fails_the_upload_whole(
    shared_media, celery_worker, tmp_path
):
    upload, stored = _start_upload(tmp_path, "斷線")
    pids = _wait(_copy_backends, celery_worker)
    with connection.cursor() as cursor:
        for pid in pids:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    done = _wait(
        lambda: AudienceUpload.objects.get(pk=upload.pk).is_finished, celery_worker, step=0.5
    )
    upload.refresh_from_db()
    assert done and upload.status == AudienceUpload.Status.FAILED, upload.error
    assert "unexpected error" in upload.error or "未預期" in upload.error, upload.error
    assert not Audience.objects.filter(name="斷線").exists()
    assert not AudienceMember.objects.exists()  # no partial members
    assert not os.path.exists(stored)  # the raw file is removed


def _pool_children(worker) -> list[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(worker.pid)], capture_output=True, text=True
    ).stdout
    return [int(pid) for pid in out.split()]


def test_a_worker_process_killed_mid_import_is_redelivered_and_completes(
    shared_media, celery_worker, tmp_path
):
    upload, stored = _start_upload(tmp_path, "重來")
    _wait(_copy_backends, celery_worker)
    for pid in _pool_children(celery_worker):  # kill -9 the prefork children mid-COPY
        os.kill(pid, signal.SIGKILL)
    _wait(lambda: AudienceUpload.objects.get(pk=upload.pk).is_finished, celery_worker, step=0.5)
    upload.refresh_from_db()
    # The lost task went back to the queue (acks late, reject on worker lost) and ran again
    # from the start: the audience is whole, never partial or doubled.
    assert upload.status == AudienceUpload.Status.DONE, upload.error
    audience = Audience.objects.get(name="重來")
    assert audience.size == LINES == AudienceMember.objects.filter(audience=audience).count()
    assert not os.path.exists(stored)


def test_concurrent_narrowcasts_at_the_quota_edge_never_record_past_it(django_db_blocker):
    """20 sends of 10 at once on a Medium account at 2,950 of 3,000: exactly 5 are recorded."""
    import threading

    from billing import services as billing
    from billing.exceptions import QuotaExceeded
    from billing.models import UsageRecord
    from tests.billing.factories import send, subscription, taipei

    sub = subscription(plan="medium", actor=factories.account_manager())
    at = taipei(2025, 3, 5, 10)
    send(sub.account_id, 2_950, at)
    barrier = threading.Barrier(20)
    outcomes = []

    def narrowcast():
        from django.db import connection as own

        try:
            barrier.wait()
            billing.usage_send(
                account_id=sub.account_id,
                kind=UsageRecord.Kind.NARROWCAST,
                recipients=10,
                sent_at=at,
            )
            outcomes.append("sent")
        except QuotaExceeded:
            outcomes.append("refused")
        finally:
            own.close()

    threads = [threading.Thread(target=narrowcast) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["refused"] * 15 + ["sent"] * 5
    total = sum(
        UsageRecord.objects.filter(account_id=sub.account_id).values_list("recipients", flat=True)
    )
    assert total == 3_000


# --- The broker out of reach, database backends terminated, two workers (the outbox) -------------


def _later():
    from datetime import timedelta

    from django.utils import timezone

    from lbm import outbox

    return timezone.now() + outbox.SWEEP_AFTER + timedelta(seconds=1)


def test_a_refused_broker_during_an_admin_upload_and_a_push_then_the_sweep_publishes_once(
    shared_media, celery_worker, broker, client, settings, tmp_path
):
    """docs/reliability.md#the-outbox: the broker's address refuses connections (a closed port)
    for the web process while the worker runs on; the admin upload says so and keeps its row,
    the push answers 503 with nothing recorded; once the broker is back the outbox sweep (as
    beat runs it) publishes the import, which runs exactly once, and the retried push is one
    notice, charged once."""
    import hashlib

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse
    from rest_framework.test import APIClient

    from billing.models import UsageRecord
    from lbm import channels, outbox
    from lbm.models import OutboxMessage
    from notifications.models import Notice
    from tests.notifications import factories as lon

    org = factories.organization(state="approved")
    admin = org.memberships.get(role="admin").user
    live = lon.live_setup()
    _row, token = channels.token_issue(account=live["account"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    _user, phone = lon.line_user()
    OutboxMessage.objects.all().delete()  # the setup's own rows (e-mails, link syncs)

    broker.down()
    client.force_login(admin)
    content = "".join(f"09{i * 7 + 11:08d}\n" for i in range(500)).encode()
    response = client.post(
        reverse("admin:audiences_audience_import"),
        {
            "mode": "new",
            "organization": org.pk,
            "name": "佇列斷線",
            "id_type": "phone",
            "format": "0",
            "resource": "0",
            "import_file": SimpleUploadedFile("ids.txt", content),
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "The queue is unreachable" in response.content.decode()
    upload = AudienceUpload.objects.get()
    stored = upload.file.path
    assert upload.status == AudienceUpload.Status.CHECKING and os.path.exists(stored)

    text = "到貨通知\n王小明 您好，您的訂單 A123456 已送達門市。"
    body = {
        "to": hashlib.sha256(phone.encode()).hexdigest(),
        "messages": [{"type": "text", "text": text}],
    }
    refused = api.post("/bot/pnp/push", body, format="json")
    assert refused.status_code == 503 and int(refused["Retry-After"]) > 0
    assert not Notice.objects.exists()
    time.sleep(2)
    assert AudienceUpload.objects.get().status == AudienceUpload.Status.CHECKING  # nothing ran

    broker.up(settings.CELERY_BROKER_URL)
    assert api.post("/bot/pnp/push", body, format="json").status_code == 200  # the retry
    assert outbox.sweep(now=_later()) == 1  # the check, published by the sweep
    _wait(
        lambda: AudienceUpload.objects.get().status == AudienceUpload.Status.AWAITING,
        celery_worker,
        step=0.3,
    )
    # The person confirms the summary; the import is published at once (the broker is back).
    client.post(
        reverse("admin:audiences_audienceupload_confirm", args=[upload.pk]), {"decision": "confirm"}
    )
    _wait(lambda: AudienceUpload.objects.get().is_finished, celery_worker, step=0.3)
    _wait(lambda: Notice.objects.filter(charged_at__isnull=False).exists(), celery_worker, step=0.3)
    assert outbox.sweep(now=_later()) == 0  # published once
    time.sleep(2)  # a second import or charge would show now
    upload.refresh_from_db()
    assert upload.status == AudienceUpload.Status.DONE, upload.error
    assert Audience.objects.filter(name="佇列斷線").count() == 1
    assert AudienceMember.objects.count() == 500 and not os.path.exists(stored)
    assert Notice.objects.count() == 1
    assert (
        sum(UsageRecord.objects.filter(kind="notification").values_list("recipients", flat=True))
        == 1
    )
    log = celery_worker.log_path.read_text()
    received = [
        line
        for line in log.splitlines()
        if "Task audiences.import_upload[" in line and "received" in line
    ]
    assert len(received) == 1, log[-3000:]  # one import, published once
    checks = [
        line
        for line in log.splitlines()
        if "Task audiences.check_upload[" in line and "received" in line
    ]
    assert len(checks) == 1, log[-3000:]  # one check, published once


def _own_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_database_backends_terminated_during_api_load_lose_or_double_no_notice(
    celery_worker, live_server
):
    """Pushes from 6 threads while a separate connection terminates every other backend of the
    database (the API's and the worker's) every 400 ms: a push that answered 200 is exactly one
    notice, none is recorded twice, every delivered notice is charged exactly once, and every
    failure is LINE's 503 JSON."""
    import hashlib
    import threading

    import httpx
    import psycopg

    from billing.models import UsageRecord
    from lbm import channels, outbox
    from notifications.models import Notice
    from notifications.tasks import finish_notices
    from tests.notifications import factories as lon

    live = lon.live_setup()
    _row, token = channels.token_issue(account=live["account"])
    phones = [lon.line_user()[1] for _ in range(180)]
    text = "到貨通知\n王小明 您好，您的訂單 A123456 已送達門市。"
    outcomes: list[tuple[str, int, str]] = []
    stop = threading.Event()
    killed = []
    main_pid = _own_pid()
    dsn = connection.settings_dict

    def kill():
        with psycopg.connect(
            host=dsn["HOST"] or "127.0.0.1",
            port=dsn["PORT"] or 5432,
            user=dsn["USER"] or "postgres",
            dbname=dsn["NAME"],
            autocommit=True,
        ) as own:
            while not stop.is_set():
                rows = own.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
                    "current_database() AND pid NOT IN (pg_backend_pid(), %s) AND "
                    "backend_type = 'client backend'",
                    [main_pid],
                ).fetchall()
                killed.extend(row[0] for row in rows if row[0])
                time.sleep(0.4)

    def pushes(share):
        # A real HTTP server (live_server: Django's request signals, connection checks), as
        # a client sees it.
        with httpx.Client(
            base_url=live_server.url, timeout=30, headers={"Authorization": f"Bearer {token}"}
        ) as client:
            for index, phone in share:
                tag = f"fault-load-tag-{index:05d}"
                response = client.post(
                    "/bot/pnp/push",
                    json={
                        "to": hashlib.sha256(phone.encode()).hexdigest(),
                        "messages": [{"type": "text", "text": text}],
                    },
                    headers={"X-Line-Delivery-Tag": tag},
                )
                outcomes.append(
                    (tag, response.status_code, response.headers.get("Content-Type", ""))
                )

    killer = threading.Thread(target=kill)
    killer.start()
    numbered = list(enumerate(phones))
    threads = [threading.Thread(target=pushes, args=(numbered[i::6],)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    stop.set()
    killer.join(10)
    connection.close()

    assert len(outcomes) == len(phones)
    statuses = {status for _tag, status, _type in outcomes}
    assert statuses <= {200, 503}, outcomes
    assert all(kind.startswith("application/json") for _tag, _s, kind in outcomes)
    assert killed, "no backend was terminated"
    accepted = {tag for tag, status, _type in outcomes if status == 200}
    assert accepted, "every push failed"
    by_tag = {}
    for tag in Notice.objects.values_list("delivery_tag", flat=True):
        by_tag[tag] = by_tag.get(tag, 0) + 1
    assert all(count == 1 for count in by_tag.values()), "a notice recorded twice"
    assert accepted <= set(by_tag)  # no accepted push lost
    outbox.publish_now(finish_notices)  # as beat's every-minute run would
    delivered = Notice.objects.filter(state="delivered")
    _wait(
        lambda: not delivered.filter(charged_at__isnull=True).exists(),
        celery_worker,
        timeout=120,
        step=0.5,
    )
    assert (
        sum(UsageRecord.objects.filter(kind="notification").values_list("recipients", flat=True))
        == delivered.count()
    )


class _CountingReceiver:
    """A local receiver that takes 1.5 s to answer each POST and counts them."""

    def __init__(self):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.posts = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.posts.append(body)
                time.sleep(1.5)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callback"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_two_worker_processes_executing_one_delivery_post_once(celery_worker, settings, tmp_path):
    """Two real worker processes (two `celery worker`s) take the same delivery at once: the
    claim lets one POST; the other retries and finds the webhook sent."""
    from django.utils import timezone

    from notifications import services as lon_services
    from notifications.models import WebhookDelivery
    from notifications.tasks import deliver_webhook
    from tests.conftest import start_worker
    from tests.notifications import factories as lon

    second = start_worker(tmp_path, settings, name="lbm-test-b", queues=["fault-b"])
    receiver = _CountingReceiver()
    try:
        live = lon.live_setup()
        notice = lon_services.notice_send(
            account_id=live["account"].pk,
            to=lon.line_user()[1],
            template_version_id=live["version"].pk,
            values=lon.VALUES,
        )
        delivery = WebhookDelivery.objects.create(
            notice=notice,
            account=live["account"],
            created_at=timezone.now(),
            webhook_event_id=lon_services.new_event_id(),
        )
        live["channel"].webhook_url = receiver.url
        live["channel"].save(update_fields=["webhook_url"])
        deliver_webhook.apply_async(kwargs={"delivery_id": delivery.pk}, queue="webhooks")
        deliver_webhook.apply_async(kwargs={"delivery_id": delivery.pk}, queue="fault-b")

        def both_done():
            logs = [w.log_path.read_text() for w in (celery_worker, second)]
            return all("notifications.deliver_webhook" in log and "'sent'" in log for log in logs)

        _wait(both_done, second, timeout=90, step=0.5)
        delivery.refresh_from_db()
        assert delivery.state == "sent" and delivery.attempts == 1
        assert len(receiver.posts) == 1
    finally:
        receiver.close()
        second.stop()
