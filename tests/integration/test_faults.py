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
        upload = services.upload_start(actor=admin, organization_id=org.pk, id_type="phone",
                                       file=File(handle, name="members.txt"), name=name)
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
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                       "AND pid <> pg_backend_pid() AND query ILIKE 'COPY %%' "
                       "AND state = 'active'")
        return [row[0] for row in cursor.fetchall()]


def test_a_database_backend_terminated_during_the_copy_fails_the_upload_whole(
        shared_media, celery_worker, tmp_path):
    upload, stored = _start_upload(tmp_path, "斷線")
    pids = _wait(_copy_backends, celery_worker)
    with connection.cursor() as cursor:
        for pid in pids:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    done = _wait(lambda: AudienceUpload.objects.get(pk=upload.pk).is_finished, celery_worker,
                 step=0.5)
    upload.refresh_from_db()
    assert done and upload.status == AudienceUpload.Status.FAILED, upload.error
    assert "unexpected error" in upload.error or "未預期" in upload.error, upload.error
    assert not Audience.objects.filter(name="斷線").exists()
    assert not AudienceMember.objects.exists()  # no partial members
    assert not os.path.exists(stored)  # the raw file is removed


def _pool_children(worker) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(worker.pid)], capture_output=True,
                         text=True).stdout
    return [int(pid) for pid in out.split()]


def test_a_worker_process_killed_mid_import_is_redelivered_and_completes(
        shared_media, celery_worker, tmp_path):
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
            billing.usage_send(account_id=sub.account_id, kind=UsageRecord.Kind.NARROWCAST,
                               recipients=10, sent_at=at)
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
    total = sum(UsageRecord.objects.filter(account_id=sub.account_id)
                .values_list("recipients", flat=True))
    assert total == 3_000
