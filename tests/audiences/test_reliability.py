"""Imports under faults (docs/reliability.md): a daemonic worker process (Celery's prefork
pool), a hashing process killed mid-import, an unexpected error, the cache unreachable, and an
audience with upload history being deleted."""

import multiprocessing
import os
import signal
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from audiences import hashing, importers, services
from audiences.exceptions import AudienceError
from audiences.models import Audience, AudienceMember, AudienceUpload
from tests.audiences import factories as af

pytestmark = pytest.mark.django_db


def _upload(org, admin_user, capture, lines, name="名單"):
    content = ("\n".join(lines) + "\n").encode()
    with capture(execute=True):
        upload = services.upload_start(
            actor=admin_user,
            organization_id=org.pk,
            id_type="phone",
            file=SimpleUploadedFile("m.txt", content),
            name=name,
        )
    upload.refresh_from_db()
    return upload


def _die_in_the_third_block(task):
    """A hashing process killed by the kernel (kill -9) while it holds a block."""
    if task[1] > 1 and task[1] >= 3 * 5:  # the third block of 64-byte blocks onwards
        os.kill(os.getpid(), signal.SIGKILL)
    return hashing.process_block(*task)


def test_a_daemonic_worker_process_hashes_in_process(
    parallel, monkeypatch, org, admin_user, django_capture_on_commit_callbacks
):
    """Celery's prefork children are daemonic: multiprocessing refuses them children, so the
    file is hashed in-process there instead of failing."""
    from concurrent import futures

    started = []
    monkeypatch.setattr(
        futures,
        "ProcessPoolExecutor",
        lambda *a, **k: started.append(k) or pytest.fail("pool started"),
    )
    monkeypatch.setitem(multiprocessing.current_process()._config, "daemon", True)
    upload = _upload(org, admin_user, django_capture_on_commit_callbacks, af.phones(300))
    assert upload.status == AudienceUpload.Status.DONE, upload.error
    assert AudienceMember.objects.filter(audience__name="名單").count() == 300
    assert started == []


def test_a_killed_hashing_process_fails_the_upload_whole(
    parallel, monkeypatch, org, admin_user, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(hashing, "process_task", _die_in_the_third_block)
    upload = _upload(org, admin_user, django_capture_on_commit_callbacks, af.phones(300))
    assert upload.status == AudienceUpload.Status.FAILED
    assert "unexpected error" in upload.error
    assert not upload.file  # the raw file is removed
    assert not Audience.objects.filter(name="名單").exists()
    assert not AudienceMember.objects.exists()


def test_in_a_threaded_process_the_hashing_processes_are_spawned(
    parallel, monkeypatch, settings, tmp_path
):
    """A Celery worker with ``--pool=threads`` runs the import in a thread: forking there can
    leave a child waiting for ever on a lock another thread held, so the pool is spawned; the
    rows are the same as hashed in-process (docs/reliability.md#imports-of-id-files)."""
    import threading
    from concurrent import futures

    path = tmp_path / "ids.txt"
    path.write_text("".join(f"{p}\n" for p in af.phones(300)) + "0912\n")
    size = path.stat().st_size
    real, methods = futures.ProcessPoolExecutor, []

    def spy(*args, **kwargs):
        methods.append(kwargs["mp_context"].get_start_method())
        return real(*args, **kwargs)

    monkeypatch.setattr(futures, "ProcessPoolExecutor", spy)
    found = {}
    thread = threading.Thread(
        target=lambda: found.setdefault(
            "pool", [r for r, _seen in importers._results(str(path), "phone", size)]
        )
    )
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive()
    assert methods == ["spawn"]
    settings.AUDIENCES_UPLOAD_WORKERS = 1  # in-process, no pool
    alone = [r for r, _seen in importers._results(str(path), "phone", size)]
    assert methods == ["spawn"] and len(alone) > 2
    assert found["pool"] == alone
    assert alone[-1]["bad"]  # the malformed last line came back from a spawned process too


def test_hashing_children_take_the_default_signal_handlers(monkeypatch):
    seen = {}
    monkeypatch.setattr(signal, "signal", lambda number, handler: seen.setdefault(number, handler))
    hashing.child_defaults()
    assert seen[signal.SIGTERM] is signal.SIG_DFL
    assert seen[signal.SIGINT] is signal.SIG_DFL


def test_an_unexpected_error_ends_the_upload_failed(
    monkeypatch, org, admin_user, django_capture_on_commit_callbacks
):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(importers, "_feed", broken)
    upload = _upload(org, admin_user, django_capture_on_commit_callbacks, af.phones(5))
    assert upload.status == AudienceUpload.Status.FAILED
    assert "unexpected error" in upload.error and "boom" not in upload.error
    assert not upload.file
    assert not AudienceMember.objects.exists()


def test_the_cache_unreachable_does_not_stop_an_import(
    settings, org, admin_user, django_capture_on_commit_callbacks
):
    from django.core.cache import caches

    # A closed port: every cache call fails to connect.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        }
    }
    caches._settings = caches.settings = settings.CACHES
    try:
        from audiences import selectors

        upload = _upload(org, admin_user, django_capture_on_commit_callbacks, af.phones(50))
        assert upload.status == AudienceUpload.Status.DONE, upload.error
        assert selectors.upload_status(upload)["progress"] == 100
    finally:
        del caches.settings
    assert AudienceMember.objects.count() == 50


def test_deleting_an_audience_with_an_addition_in_its_history(
    org, admin_user, django_capture_on_commit_callbacks
):
    audience = af.upload_audience(org, admin_user, af.phones(10), name="有歷史")
    content = ("\n".join(af.phones(20)[10:]) + "\n").encode()
    with django_capture_on_commit_callbacks(execute=True):
        addition = services.upload_start(
            actor=admin_user,
            audience_id=audience.pk,
            id_type="phone",
            file=SimpleUploadedFile("more.txt", content),
        )
    addition.refresh_from_db()
    assert addition.status == AudienceUpload.Status.DONE and addition.name == ""
    services.audience_delete(actor=admin_user, audience_id=audience.pk)
    assert not Audience.objects.filter(pk=audience.pk).exists()
    addition.refresh_from_db()
    assert addition.audience_id is None and addition.name == "有歷史"  # history kept


def test_deleting_an_audience_is_refused_while_an_upload_runs(org, admin_user):
    audience = af.upload_audience(org, admin_user, af.phones(10), name="進行中")
    AudienceUpload.objects.create(
        organization=org,
        audience=audience,
        id_type="phone",
        status=AudienceUpload.Status.VALIDATING,
    )
    with pytest.raises(AudienceError, match="upload in progress"):
        services.audience_delete(actor=admin_user, audience_id=audience.pk)
    assert Audience.objects.filter(pk=audience.pk).exists()


def test_the_sweep_fails_a_stuck_upload_and_leaves_a_recent_one(org, admin_user):
    from django.utils import timezone

    from audiences import tasks

    stuck = AudienceUpload.objects.create(
        organization=org, name="卡住", id_type="phone", status=AudienceUpload.Status.VALIDATING
    )
    stuck.file.save("stuck.txt", SimpleUploadedFile("stuck.txt", b"0912345678\n"))
    path = stuck.file.path
    AudienceUpload.objects.filter(pk=stuck.pk).update(
        created_at=timezone.now() - services.UPLOAD_STALE_AFTER - timezone.timedelta(minutes=1)
    )
    recent = AudienceUpload.objects.create(organization=org, name="剛開始", id_type="phone")
    assert tasks.sweep_uploads.apply().get() == 1
    stuck.refresh_from_db()
    recent.refresh_from_db()
    assert stuck.status == AudienceUpload.Status.FAILED and "did not finish" in stuck.error
    assert not stuck.file and not os.path.exists(path)
    assert recent.status == AudienceUpload.Status.QUEUED


def test_the_upload_sweep_is_scheduled():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="audiences.sweep_uploads")
    assert task.enabled and task.interval.every == 10


def test_an_admin_upload_with_the_queue_unreachable_says_so_and_the_sweep_imports_it_once(
    client, org, admin_user, settings, broker, django_capture_on_commit_callbacks
):
    """docs/reliability.md#the-outbox: no 500, the row and its file kept, a message on the page;
    once the broker is back the outbox sweep publishes the import, which runs once."""
    from django.urls import reverse

    from lbm import outbox
    from lbm.models import OutboxMessage

    client.force_login(admin_user)
    OutboxMessage.objects.all().delete()  # the organization's own (its contact e-mail)
    broker.down()
    content = "".join(f"{p}\n" for p in af.phones(30)).encode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:audiences_audience_import"),
            {
                "mode": "new",
                "organization": org.pk,
                "name": "等佇列",
                "id_type": "phone",
                "format": "0",
                "resource": "0",
                "import_file": SimpleUploadedFile("big.txt", content),
            },
            follow=True,
        )
    assert response.status_code == 200
    assert "The queue is unreachable; the file will be checked when it is back." in (
        response.content.decode()
    )
    upload = AudienceUpload.objects.get()
    assert upload.status == AudienceUpload.Status.CHECKING and os.path.exists(upload.file.path)
    status = client.get(reverse("admin:audiences_audienceupload_status", args=[upload.pk])).json()
    assert status["stalled"] and status["status_display"] == "Stalled"
    assert "the file will be checked when it is back" in status["next"]
    entry = OutboxMessage.objects.get(task="audiences.check_upload")
    assert entry.published_at is None and entry.kwargs == {"upload_id": upload.pk}

    broker.eager()  # the broker is back (eager: publishing runs the check here)
    later = timezone.now() + outbox.SWEEP_AFTER + timedelta(seconds=1)
    assert outbox.sweep(now=later) == 1
    assert outbox.sweep(now=later) == 0
    upload.refresh_from_db()
    assert upload.status == AudienceUpload.Status.AWAITING and upload.id_count == 30

    broker.down()  # down again when the person confirms: the import waits in the outbox
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:audiences_audienceupload_confirm", args=[upload.pk]),
            {"decision": "confirm"},
            follow=True,
        )
    assert "The queue is unreachable; the import will start when it is back." in (
        response.content.decode()
    )
    upload.refresh_from_db()
    assert upload.status == AudienceUpload.Status.QUEUED
    broker.eager()
    later = timezone.now() + outbox.SWEEP_AFTER + timedelta(seconds=1)
    assert outbox.sweep(now=later) == 1
    assert outbox.sweep(now=later) == 0
    upload.refresh_from_db()
    assert upload.status == AudienceUpload.Status.DONE and not upload.file
    assert Audience.objects.filter(name="等佇列").count() == 1
    assert AudienceMember.objects.count() == 30


def test_a_second_execution_of_a_finished_import_changes_nothing(
    org, admin_user, django_capture_on_commit_callbacks
):
    upload = _upload(
        org, admin_user, django_capture_on_commit_callbacks, af.phones(20), name="一次"
    )
    assert upload.status == AudienceUpload.Status.DONE
    again = services.upload_process(upload_id=upload.pk)
    assert again.status == AudienceUpload.Status.DONE and again.added_count == 20
    assert Audience.objects.filter(name="一次").count() == 1
    assert AudienceMember.objects.count() == 20


def test_a_stalled_upload_shows_stalled_and_is_queued_again_once(org, admin_user, broker):
    from audiences import selectors
    from lbm.models import OutboxMessage

    upload = AudienceUpload.objects.create(
        organization=org, name="停住", id_type="phone", status=AudienceUpload.Status.QUEUED
    )
    AudienceUpload.objects.filter(pk=upload.pk).update(
        created_at=timezone.now() - services.UPLOAD_STALL_AFTER - timedelta(minutes=5)
    )
    upload.refresh_from_db()
    status = selectors.upload_status(upload)
    assert status["stalled"] and "No progress for 20 minutes" in status["next"]
    assert "it is stopped and you can upload the file again" in status["next"]
    fresh = AudienceUpload.objects.create(organization=org, name="剛來", id_type="phone")
    assert not selectors.upload_status(fresh)["stalled"]

    broker.up()
    assert services.uploads_sweep() == 1
    entry = OutboxMessage.objects.get(task="audiences.import_upload")
    assert entry.kwargs == {"upload_id": upload.pk} and entry.reason.startswith("sweep:")
    assert services.uploads_sweep() == 0  # queued again once, not every 10 minutes
    upload.refresh_from_db()
    assert upload.status == AudienceUpload.Status.QUEUED  # left to the import (or the 4 hours)


def test_the_stalled_state_is_in_zh_hant(org):
    from django.utils import translation

    from audiences import selectors

    upload = AudienceUpload.objects.create(organization=org, name="停住", id_type="phone")
    AudienceUpload.objects.filter(pk=upload.pk).update(
        created_at=timezone.now() - services.UPLOAD_STALL_AFTER - timedelta(minutes=1)
    )
    upload.refresh_from_db()
    with translation.override("zh-hant"):
        status = selectors.upload_status(upload)
    assert status["status_display"] == "停滯"
    assert "分鐘沒有進度" in status["next"]
