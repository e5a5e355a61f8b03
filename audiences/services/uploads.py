"""Uploads of ID files in the background (docs/audiences.md#uploading): the file is kept, checked
and counted, summarised for the person's confirmation, then imported by a Celery task with a
progress bar; the sweep fails or re-queues what is stuck (docs/reliability.md#imports-of-id-files).
"""

import logging
import time
import uuid

from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from lbm import permissions
from lbm.permissions import Action

from .. import importers, selectors
from ..exceptions import AudienceError, IdTypeNotGuessed, UploadRejected
from ..models import UPLOAD_TYPE_FOR_ID, Audience, AudienceUpload
from ._base import _addable, _check_type, _owner
from .audiences import audience_add_ids, audience_create_from_ids

logger = logging.getLogger(__name__)


def upload_progress_set(upload_id: int, percent: int) -> None:
    """Best-effort: the cache unreachable must not stop an import (the row's status and final
    progress are in the database). The moment the percentage last changed is kept too (a
    stalled upload is one that has not moved for a while; ``selectors.upload_status``)."""
    try:
        key = selectors.progress_key(upload_id)
        if cache.get(key) != int(percent):
            cache.set_many(
                {key: int(percent), selectors.moved_key(upload_id): time.time()}, 24 * 3600
            )
    except Exception:  # noqa: BLE001 - any cache backend's connection error
        logger.warning("upload %s: progress not written to the cache", upload_id, exc_info=True)


def upload_start(
    *,
    actor,
    organization_id: int | None = None,
    id_type: str,
    file,
    original_name: str = "",
    name: str = "",
    audience_id: int | None = None,
    description: str = "",
    queue: bool = True,
) -> AudienceUpload:
    """Keep the file and queue its import: the upload row and its outbox row are written in one
    transaction, the task published after commit (docs/reliability.md#the-outbox).
    ``audience_id`` adds to an existing audience; otherwise ``name`` names a new one. Rights and
    name are checked now, the content by the task. ``upload.queued`` is the outbox row: its
    ``published`` is False when the broker was out of reach (the sweep publishes it later).
    ``queue=False`` keeps the file only (``upload_check`` queues the check instead)."""
    from lbm import outbox

    from ..tasks import import_upload

    if audience_id:
        audience = Audience.objects.select_related("organization").get(pk=audience_id)
        _addable(audience, actor)
        organization = audience.organization
        id_type = audience.id_type
        name = ""
    else:
        organization, _account = _owner(
            actor=actor, organization_id=organization_id, account_id=None
        )
        _check_type(UPLOAD_TYPE_FOR_ID[id_type], None)
        name = selectors.audience_check_name(name=name, organization_id=organization.pk)
    upload = AudienceUpload(
        organization=organization,
        audience_id=audience_id or None,
        name=name,
        description=description,
        id_type=id_type,
        original_name=(original_name or getattr(file, "name", ""))[:255],
        file_size=getattr(file, "size", 0) or 0,
        created_by=actor,
    )
    upload.file.save(f"{uuid.uuid4().hex}.txt", file, save=False)
    try:
        with transaction.atomic():
            upload.save()
            upload.queued = None
            if queue:
                upload.queued = outbox.enqueue(
                    import_upload, {"upload_id": upload.pk}, reason="audience upload"
                )
    except BaseException:
        upload.file.storage.delete(upload.file.name)  # nothing recorded: no file left behind
        raise
    return upload


def upload_check(
    *,
    actor,
    organization_id: int | None = None,
    id_type: str = "",
    file,
    original_name: str = "",
    name: str = "",
    audience_id: int | None = None,
    description: str = "",
) -> AudienceUpload:
    """Keep the file and queue its check (after commit); the import waits for
    ``upload_confirm`` (docs/audiences.md#uploading). An empty ``id_type`` is guessed from the
    file's first lines (``audiences.preview.guess_id_type``); rights and name are checked now."""
    from lbm import outbox

    from .. import preview
    from ..tasks import check_upload

    guessed = False
    if not audience_id and not id_type:
        id_type = preview.guess_id_type(preview.read_head(file)) or ""
        if not id_type:
            raise IdTypeNotGuessed(
                _(
                    "The first lines of the file do not show which kind of ID it "
                    "holds; choose the ID type."
                )
            )
        guessed = True
    with transaction.atomic():  # the row, its state and its outbox row together
        upload = upload_start(
            actor=actor,
            organization_id=organization_id,
            id_type=id_type,
            file=file,
            original_name=original_name,
            name=name,
            audience_id=audience_id,
            description=description,
            queue=False,
        )
        AudienceUpload.objects.filter(pk=upload.pk).update(
            status=AudienceUpload.Status.CHECKING, id_type_guessed=guessed
        )
        upload.status, upload.id_type_guessed = AudienceUpload.Status.CHECKING, guessed
        upload.queued = outbox.enqueue(
            check_upload, {"upload_id": upload.pk}, reason="audience upload check"
        )
    return upload


def upload_check_process(*, upload_id: int) -> AudienceUpload:
    """Check and count a kept file without storing anything: how many IDs, how many the
    audience does not have yet. A refused file ends the upload FAILED with its lines named;
    otherwise it waits for the confirmation. Safe to run again."""
    upload = AudienceUpload.objects.get(pk=upload_id)
    if upload.status != AudienceUpload.Status.CHECKING:
        return upload
    if not upload.file or not upload.file.storage.exists(upload.file.name):
        return _upload_failed(
            upload, _("The uploaded file is no longer available; upload it again.")
        )

    def progress(fraction: float) -> None:
        upload_progress_set(upload.pk, int(fraction * 100))

    try:
        with transaction.atomic():
            loaded = importers.load_ids(
                upload.file.path,
                id_type=upload.id_type,
                audience_id=upload.audience_id,
                new_audience=not upload.audience_id,
                total_bytes=upload.file_size,
                progress=progress,
                dry_run=True,
            )
    except UploadRejected as exc:
        return _upload_failed(upload, _error_text(exc))
    except Exception:
        logger.exception("audience upload %s: the check failed", upload.pk)
        return _upload_failed_unexpectedly(upload)
    AudienceUpload.objects.filter(pk=upload.pk, status=AudienceUpload.Status.CHECKING).update(
        status=AudienceUpload.Status.AWAITING,
        id_count=loaded.count,
        added_count=loaded.added,
        progress=0,
    )
    upload_progress_set(upload.pk, 0)
    upload.refresh_from_db()
    return upload


def _unconfirmed(upload_id: int, actor) -> AudienceUpload:
    upload = AudienceUpload.objects.select_for_update().get(pk=upload_id)
    permissions.require(actor, Action.CREATE_AUDIENCES, upload.organization)
    return upload


@transaction.atomic
def upload_confirm(*, upload_id: int, actor) -> AudienceUpload:
    """The person confirmed the summary: the import is queued (through the outbox; see
    ``upload_start``). A second click changes nothing."""
    from lbm import outbox

    from ..tasks import import_upload

    upload = _unconfirmed(upload_id, actor)
    if upload.status != AudienceUpload.Status.AWAITING:
        if upload.status in (AudienceUpload.Status.CHECKING, AudienceUpload.Status.FAILED):
            raise AudienceError(
                _("This upload cannot be confirmed (it is %(status)s).")
                % {"status": upload.get_status_display()}
            )
        return upload  # already confirmed
    upload.status, upload.progress = AudienceUpload.Status.QUEUED, 0
    upload.save(update_fields=["status", "progress"])
    upload.queued = outbox.enqueue(
        import_upload, {"upload_id": upload.pk}, reason="audience upload confirmed"
    )
    return upload


@transaction.atomic
def upload_cancel(*, upload_id: int, actor) -> AudienceUpload:
    """The person does not confirm: the upload ends and its file is removed."""
    upload = _unconfirmed(upload_id, actor)
    if upload.status not in AudienceUpload.UNCONFIRMED:
        return upload
    return _upload_failed(upload, _("Cancelled before the import; nothing was stored."))


def upload_process(*, upload_id: int) -> AudienceUpload:
    """Import one queued upload. Safe to run again and twice at once: a finished upload is a
    no-op; the import runs in one transaction holding the upload's row lock, so a second
    execution (a redelivery, a sweep's re-queue) waits for the first and then finds it finished
    (or, if the first was killed, its transaction rolled back and its file still there, starts
    over). An upload not yet confirmed is left alone."""
    upload = AudienceUpload.objects.select_related("created_by").get(pk=upload_id)
    if upload.status in AudienceUpload.UNCONFIRMED:
        return upload
    if upload.is_finished:
        _delete_file(upload)
        return upload
    if not upload.file or not upload.file.storage.exists(upload.file.name):
        return _upload_failed(
            upload, _("The uploaded file is no longer available; upload it again.")
        )
    AudienceUpload.objects.filter(pk=upload.pk).exclude(status__in=AudienceUpload.FINISHED).update(
        status=AudienceUpload.Status.VALIDATING, progress=0
    )
    upload_progress_set(upload.pk, 0)

    def progress(fraction: float) -> None:
        upload_progress_set(upload.pk, int(fraction * 100))

    actor = upload.created_by
    try:
        with transaction.atomic():
            # The row lock: another execution of this upload waits here until this one ends.
            locked = AudienceUpload.objects.select_for_update().get(pk=upload.pk)
            if locked.is_finished:
                return locked
            path = upload.file.path
            if upload.audience_id:
                added = audience_add_ids(
                    actor=actor,
                    audience_id=upload.audience_id,
                    ids=path,
                    progress=progress,
                    total_bytes=upload.file_size,
                )
                audience = Audience.objects.get(pk=upload.audience_id)
            else:
                audience = audience_create_from_ids(
                    actor=actor,
                    organization_id=upload.organization_id,
                    name=upload.name,
                    id_type=upload.id_type,
                    ids=path,
                    description=upload.description,
                    progress=progress,
                    total_bytes=upload.file_size,
                )
                added = audience.size
            # DONE commits with the members: never an audience without its upload finished.
            AudienceUpload.objects.filter(pk=upload.pk).update(
                status=AudienceUpload.Status.DONE,
                progress=100,
                audience=audience,
                id_count=audience.size if not upload.audience_id else added,
                added_count=added,
                finished_at=timezone.now(),
            )
    except (UploadRejected, AudienceError, permissions.NotAllowed) as exc:
        return _upload_failed(upload, _error_text(exc))
    except Exception:
        # Unexpected (database connection lost — a raw psycopg error as well as Django's —, a
        # hashing process killed, a bug): the upload ends FAILED with its file removed, never
        # stuck "validating" (docs/reliability.md). Only when even that cannot be written does
        # the error go back to Celery, whose retry then finds the upload unfinished.
        logger.exception("audience upload %s failed", upload.pk)
        return _upload_failed_unexpectedly(upload)
    upload.refresh_from_db()
    _delete_file(upload)
    return upload


def _error_text(exc) -> str:
    """The refusal and each line it names, one a line (line numbers and reasons, no values)."""
    return "\n".join([exc.message, *getattr(exc, "details", [])])


def _upload_failed(upload: AudienceUpload, message: str) -> AudienceUpload:
    """End an unfinished upload FAILED (one another execution finished stays as it is)."""
    AudienceUpload.objects.filter(pk=upload.pk).exclude(status__in=AudienceUpload.FINISHED).update(
        status=AudienceUpload.Status.FAILED, error=message, finished_at=timezone.now()
    )
    upload.refresh_from_db()
    _delete_file(upload)
    return upload


def _upload_failed_unexpectedly(upload: AudienceUpload) -> AudienceUpload:
    from django.db import connection

    if not connection.in_atomic_block and not connection.is_usable():
        connection.close()  # the next query opens a fresh connection
    return _upload_failed(
        upload,
        _(
            "The import stopped because of an unexpected error; "
            "nothing was stored. Upload the file again."
        ),
    )


# An upload unfinished this long after it was made is stuck (its task was lost: a worker killed
# past the broker's visibility timeout, a publish that never reached the queue): beat fails it.
UPLOAD_STALE_AFTER = timezone.timedelta(hours=4)
# One whose state has not moved this long (queued, or validating with no import running) is
# stalled: the sweep queues its import again (recorded as an outbox row with the reason).
UPLOAD_STALL_AFTER = timezone.timedelta(minutes=15)


def uploads_sweep(*, now=None) -> int:
    """Beat, every 10 minutes (docs/reliability.md#imports-of-id-files): an upload unfinished
    ``UPLOAD_STALE_AFTER`` after it was made ends FAILED with a message and its raw file removed
    (nothing was stored: an import is one transaction); a stalled one (``UPLOAD_STALL_AFTER``
    without moving, and no import of it running, i.e. its row not locked) is queued again,
    at most once per ``UPLOAD_STALL_AFTER`` (a stalled check queues its check again; an upload
    waiting for its confirmation is only failed when stale). An upload whose import runs is
    left alone. Returns
    how many uploads were failed or re-queued."""
    from lbm import outbox
    from lbm.models import OutboxMessage

    from ..tasks import check_upload, import_upload

    now = now or timezone.now()
    swept = 0
    unfinished = (
        AudienceUpload.objects.exclude(status__in=AudienceUpload.FINISHED)
        .filter(created_at__lt=now - UPLOAD_STALL_AFTER)
        .order_by("pk")
    )
    for pk in list(unfinished.values_list("pk", flat=True)):
        with transaction.atomic():
            rows = AudienceUpload.objects.filter(pk=pk).exclude(status__in=AudienceUpload.FINISHED)
            if connection.features.has_select_for_update_skip_locked:
                rows = rows.select_for_update(skip_locked=True)  # locked: its import runs
            upload = rows.first()
            if upload is None:
                continue
            if upload.created_at < now - UPLOAD_STALE_AFTER:
                _upload_failed(
                    upload,
                    _(
                        "The import did not finish in time and was stopped; "
                        "nothing was stored. Upload the file again."
                    ),
                )
                swept += 1
                continue
            if upload.status == AudienceUpload.Status.AWAITING:
                continue  # waits for the person's confirmation, not for a worker
            checking = upload.status == AudienceUpload.Status.CHECKING
            task = check_upload if checking else import_upload
            recent = OutboxMessage.objects.filter(
                task=task.name, kwargs__upload_id=pk, created_at__gte=now - UPLOAD_STALL_AFTER
            ).exists()
            if recent or outbox.waiting(task, upload_id=pk):
                continue  # just queued (again), or waiting for the broker: the outbox has it
            outbox.enqueue(
                task,
                {"upload_id": pk},
                reason=f"sweep: upload {upload.status} "
                f"{int(UPLOAD_STALL_AFTER.total_seconds() // 60)} min, re-queued",
            )
            logger.warning("upload %s stalled (%s): its import is queued again", pk, upload.status)
            swept += 1
    return swept


def _delete_file(upload: AudienceUpload) -> None:
    """The raw file may hold phone numbers or addresses: it goes as soon as it is processed."""
    if upload.file:
        upload.file.storage.delete(upload.file.name)
        AudienceUpload.objects.filter(pk=upload.pk).update(file="")
        upload.file = None
