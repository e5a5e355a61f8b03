"""Several hosts' worth of processes on one PostgreSQL and one Redis: two gunicorn servers (as
docs/operations.md serves the web) and two Celery workers started as `make worker` starts them
(prefork, every queue). Pushes go through both servers, uploads through both servers and
through the admin's service path; every notice must be charged once and sent once, every upload
finished once."""

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from contextlib import ExitStack
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.db import connection

from audiences import services as audiences
from audiences.models import Audience, AudienceMember, AudienceUpload
from billing.models import UsageRecord
from lbm import channels
from notifications.models import Notice, WebhookDelivery
from tests import factories
from tests.notifications import factories as lonf
from tests.notifications.receiver import Receiver

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
TEXT = "到貨通知\n王小明 您好，您的訂單 A123456 已送達門市。"
PUSHES_PER_HOST = 30


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(settings) -> dict:
    db = connection.settings_dict
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "DEBUG": "1",
        "DATABASE_URL": "postgres://{u}@{h}:{p}/{n}".format(
            u=db["USER"] or "postgres",
            h=db["HOST"] or "127.0.0.1",
            p=db["PORT"] or 5432,
            n=db["NAME"],
        ),
        "REDIS_URL": settings.REDIS_URL,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PII_HASH_KEY": settings.PII_HASH_KEY,
        "WEB_CONCURRENCY": "2",
        "LOG_REQUESTS": "0",
    }


def _start(stack: ExitStack, args: list[str], env: dict, log: Path) -> subprocess.Popen:
    handle = stack.enter_context(open(log, "w"))
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)

    def stop():
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    stack.callback(stop)
    return proc


def _wait(predicate, what: str, logs: list[Path], timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    tails = "\n".join(f"--- {p.name}\n{p.read_text()[-1500:]}" for p in logs)
    raise AssertionError(f"timed out waiting for {what}\n{tails}")


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/live", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def _request(url: str, token: str, *, body: bytes, content_type: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _multipart(fields: dict, file_bytes: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="ids.txt"\r\nContent-Type: text/plain\r\n\r\n'.encode()
        + file_bytes
        + b"\r\n"
    )
    return b"".join(
        parts
    ) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_two_web_servers_and_two_workers_charge_and_finish_everything_once(settings, tmp_path):
    with Receiver() as receiver, ExitStack() as stack:
        data = lonf.live_setup(webhook_url=receiver.url)
        _row, token = channels.token_issue(account=data["account"])
        phones = [lonf.line_user(f"+8869113{i:05d}")[1] for i in range(2 * PUSHES_PER_HOST)]
        org = factories.organization(state="approved")
        admin = org.memberships.get(role="admin").user

        env = _env(settings)
        ports = [_free_port(), _free_port()]
        logs = []
        for n, port in enumerate(ports):
            logs.append(tmp_path / f"web{n}.log")
            _start(
                stack,
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "-c",
                    "python:lbm.gunicorn_conf",
                    "-b",
                    f"127.0.0.1:{port}",
                    "lbm.wsgi",
                ],
                env,
                logs[-1],
            )
        for n in range(2):
            logs.append(tmp_path / f"worker{n}.log")
            # One as `make worker` starts it, one as plain as a newcomer would (no -Q).
            queues = ["-Q", ",".join(settings.TASK_QUEUES)] if n == 0 else []
            _start(
                stack,
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "lbm",
                    "worker",
                    *queues,
                    "--concurrency=2",
                    "--loglevel=INFO",
                    "-n",
                    f"host{n}-{os.getpid()}@%h",
                ],
                env,
                logs[-1],
            )
        _wait(lambda: all(_answers(p) for p in ports), "both web servers", logs, timeout=60)

        # Uploads queued the way the admin queues them: the two workers share them.
        queued = []
        for n in range(4):
            ids = "".join(f"09{n}{i:07d}\n" for i in range(5_000)).encode()
            queued.append(
                audiences.upload_start(
                    actor=admin,
                    organization_id=org.pk,
                    id_type="phone",
                    name=f"分批 {n}",
                    file=ContentFile(ids, name=f"batch{n}.txt"),
                )
            )
        # Pushes and API uploads through both servers, interleaved.
        for i, phone in enumerate(phones):
            port = ports[i % 2]
            body = json.dumps(
                {
                    "to": hashlib.sha256(phone.encode()).hexdigest(),
                    "messages": [{"type": "text", "text": TEXT}],
                }
            ).encode()
            status, answer = _request(
                f"http://127.0.0.1:{port}/bot/pnp/push",
                token,
                body=body,
                content_type="application/json",
            )
            assert status == 200, answer
        for n, port in enumerate(ports):
            ids = "".join(f"U{n:x}{i:031x}\n" for i in range(1_000)).encode()
            body, content_type = _multipart({"description": f"API 名單 {n}"}, ids)
            status, answer = _request(
                f"http://127.0.0.1:{port}/v2/bot/audienceGroup/upload/byFile",
                token,
                body=body,
                content_type=content_type,
            )
            assert status == 202, answer

        pushes = 2 * PUSHES_PER_HOST
        _wait(
            lambda: (
                Notice.objects.filter(charged_at__isnull=False).count() == pushes
                and len(receiver.requests) >= pushes
                and not AudienceUpload.objects.exclude(status__in=AudienceUpload.FINISHED).exists()
            ),
            "every notice charged, sent, and every upload finished",
            logs,
        )
        time.sleep(2)  # a second POST or charge, if anything did one twice, has time to land

    assert Notice.objects.count() == pushes
    assert (
        sum(UsageRecord.objects.filter(kind="notification").values_list("recipients", flat=True))
        == pushes
    )
    assert WebhookDelivery.objects.filter(state="sent").count() == pushes
    event_ids = [
        event["webhookEventId"]
        for _headers, body in receiver.requests
        for event in json.loads(body)["events"]
    ]
    assert len(event_ids) == len(set(event_ids)) == pushes
    for upload in AudienceUpload.objects.all():
        assert upload.status == "done", upload.error
        assert upload.id_count == upload.added_count == 5_000
    for n in range(4):
        audience = Audience.objects.get(name=f"分批 {n}")
        assert audience.size == 5_000 == AudienceMember.objects.filter(audience=audience).count()
    for n in range(2):
        audience = Audience.objects.get(name=f"API 名單 {n}")
        assert audience.size == 1_000 == AudienceMember.objects.filter(audience=audience).count()
