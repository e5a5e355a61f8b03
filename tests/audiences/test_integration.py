"""Integration tier: PostgreSQL, Redis and a real Celery worker process."""

import time

import pytest
from django.core.files import File

from audiences import services
from audiences.models import Audience, AudienceMember, AudienceShare, AudienceUpload
from lbm import pii
from tests import factories
from tests.audiences import factories as af

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shared_media(settings, monkeypatch):
    """The worker process must see the files the test process saves."""
    monkeypatch.setenv("MEDIA_ROOT", str(settings.MEDIA_ROOT))
    monkeypatch.setenv("PII_HASH_KEY", settings.PII_HASH_KEY)


def _wait(predicate, timeout=180, worker=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    log = worker.log_path.read_text()[-3000:] if worker else ""
    raise AssertionError(f"timed out\n{log}")


def test_worker_imports_200000_ids_into_postgresql(shared_media, celery_worker, tmp_path):
    org = factories.organization(state="approved")
    admin = org.memberships.get(role="admin").user
    path = tmp_path / "members.txt"
    with open(path, "w", newline="") as handle:
        handle.write("\ufeff")
        for i in range(200_000):
            handle.write(f"09{i * 7 + 11:08d}\r\n")
    with open(path, "rb") as handle:
        upload = services.upload_start(
            actor=admin,
            organization_id=org.pk,
            id_type="phone",
            file=File(handle, name="members.txt"),
            name="二十萬",
        )
    stored = upload.file.path
    _wait(lambda: AudienceUpload.objects.get(pk=upload.pk).is_finished, worker=celery_worker)
    upload.refresh_from_db()
    assert upload.status == "done", upload.error
    audience = Audience.objects.get(name="二十萬")
    assert audience.size == 200_000 == AudienceMember.objects.filter(audience=audience).count()
    assert AudienceMember.objects.filter(
        audience=audience, identifier=pii.phone_keyed_hash("0900000011")
    ).exists()
    import os

    assert not os.path.exists(stored)  # the raw file is gone


def test_a_threads_pool_worker_spawns_its_hashing_processes(shared_media, settings, tmp_path):
    """``--pool=threads`` (the README: threads work too): the import runs in a thread of the
    worker's one process, so its hashing processes are spawned, never forked from a process
    with other threads running (docs/reliability.md#imports-of-id-files); the import finishes
    whole."""
    import subprocess

    from tests.conftest import start_worker

    org = factories.organization(state="approved")
    admin = org.memberships.get(role="admin").user
    path = tmp_path / "members.txt"
    path.write_text("".join(f"09{i * 7 + 11:08d}\n" for i in range(200_000)))
    worker = start_worker(tmp_path, settings, name="lbm-threads", pool="threads")
    children = set()

    def finished():
        out = subprocess.run(
            ["ps", "-ww", "-o", "args=", "--ppid", str(worker.pid)], capture_output=True, text=True
        ).stdout
        children.update(line for line in out.splitlines() if "multiprocessing" in line)
        return AudienceUpload.objects.get(pk=upload.pk).is_finished

    try:
        with open(path, "rb") as handle:
            upload = services.upload_start(
                actor=admin,
                organization_id=org.pk,
                id_type="phone",
                name="執行緒",
                file=File(handle, name="members.txt"),
            )
        _wait(finished, worker=worker)
    finally:
        worker.stop()
    upload.refresh_from_db()
    assert upload.status == "done", upload.error
    assert Audience.objects.get(name="執行緒").size == 200_000
    assert any("multiprocessing.spawn" in line for line in children), children


def test_worker_rejects_a_bad_file_whole(shared_media, celery_worker, tmp_path):
    org = factories.organization(state="approved")
    admin = org.memberships.get(role="admin").user
    path = tmp_path / "bad.txt"
    path.write_text("".join(f"09{i:08d}\n" for i in range(5000)) + "0900000001\n")
    with open(path, "rb") as handle:
        upload = services.upload_start(
            actor=admin,
            organization_id=org.pk,
            id_type="phone",
            file=File(handle, name="bad.txt"),
            name="壞檔",
        )
    _wait(lambda: AudienceUpload.objects.get(pk=upload.pk).is_finished, worker=celery_worker)
    upload.refresh_from_db()
    # The worker speaks the site's default language (zh-Hant); either wording names the lines.
    assert upload.status == "failed"
    assert (
        "Line 5001: duplicate of line 2" in upload.error
        or "第 5001 行：與第 2 行重複" in upload.error
    ), upload.error
    assert not Audience.objects.filter(name="壞檔").exists()
    assert not AudienceMember.objects.exists()


def test_link_approval_syncs_audiences_through_the_worker(shared_media, celery_worker):
    org = factories.organization(state="approved")
    admin = org.memberships.get(role="admin").user
    shared_later = af.upload_audience(org, admin, af.phones(150), name="組織名單")
    account = factories.account_for(org)
    from django.utils import timezone

    own = Audience.objects.create(
        source_account=account,
        name="帳號名單",
        type="chat_tag",
        id_type="user_id",
        create_route="oa_manager",
        status="ready",
        created_at=timezone.now(),
        expires_at=timezone.now() + timezone.timedelta(days=180),
    )
    factories.linked(org, account)  # approval: the hook sends the sync task to the worker
    _wait(
        lambda: (
            Audience.objects.get(pk=own.pk).organization_id == org.pk
            and AudienceShare.objects.filter(audience=shared_later, account=account).exists()
        ),
        worker=celery_worker,
    )
