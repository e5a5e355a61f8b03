"""Upload progress (the cache keys the import writes, the progress bar) and the summary shown
before an upload is confirmed."""

import logging
from datetime import UTC, datetime

from django.core.cache import cache
from django.utils.translation import gettext as _

from ..models import AudienceUpload

logger = logging.getLogger("audiences.selectors")  # one logger for the package, as before


# The cache keys of an upload's progress and of when it last moved; written by
# ``services.upload_progress_set`` (best effort: the row's status is in the database).
def progress_key(upload_id: int) -> str:
    return f"audiences:upload-progress:{upload_id}"


def moved_key(upload_id: int) -> str:
    return f"audiences:upload-moved:{upload_id}"


def upload_summary(upload: AudienceUpload) -> dict:
    """What a person reads before confirming an upload: how many IDs, how many new, how many
    the audience already has, and a few masked samples recomputed from the kept file (never
    stored, never logged; docs/audiences.md#uploading)."""
    from .. import preview

    samples: list[str] = []
    if upload.file:
        try:
            with upload.file.open("rb") as handle:
                samples = preview.masked_samples(preview.read_head(handle), upload.id_type)
        except (FileNotFoundError, OSError):
            samples = []
    return {
        "count": upload.id_count,
        "new": upload.added_count,
        "existing": max(upload.id_count - upload.added_count, 0),
        "samples": samples,
        "id_type": upload.get_id_type_display(),
        "guessed": upload.id_type_guessed,
    }


def upload_status(upload: AudienceUpload, *, now=None) -> dict:
    """What the progress bar shows: status, percent, counts, and the error (no personal data);
    ``stalled`` (and ``next``: what happens now) when it waits for the queue or has not moved
    for a while (docs/reliability.md#imports-of-id-files)."""
    from django.utils import timezone

    from lbm import outbox

    from ..services.uploads import UPLOAD_STALE_AFTER, UPLOAD_STALL_AFTER

    now = now or timezone.now()
    percent = upload.progress
    moved_at = upload.created_at
    if not upload.is_finished:
        try:
            cached = cache.get_many([progress_key(upload.pk), moved_key(upload.pk)])
            percent = max(percent, cached.get(progress_key(upload.pk), 0) or 0)
            if cached.get(moved_key(upload.pk)):
                moved_at = max(
                    moved_at, datetime.fromtimestamp(cached[moved_key(upload.pk)], tz=UTC)
                )
        except Exception:  # noqa: BLE001 - the cache unreachable: the row's progress stands
            logger.warning("upload %s: progress not read from the cache", upload.pk)
    stalled, next_step = False, ""
    if not upload.is_finished:
        deadline = timezone.localtime(upload.created_at + UPLOAD_STALE_AFTER)
        if upload.status == AudienceUpload.Status.QUEUED and outbox.waiting(
            "audiences.import_upload", upload_id=upload.pk
        ):
            stalled = True
            next_step = _(
                "The queue is unreachable; the import will start when it is back. "
                "If it has not finished by %(deadline)s it is stopped and you can "
                "upload the file again."
            ) % {"deadline": f"{deadline:%Y-%m-%d %H:%M}"}
        elif upload.status == AudienceUpload.Status.CHECKING and outbox.waiting(
            "audiences.check_upload", upload_id=upload.pk
        ):
            stalled = True
            next_step = _(
                "The queue is unreachable; the file will be checked when it is back. "
                "If it has not finished by %(deadline)s it is stopped and you can "
                "upload the file again."
            ) % {"deadline": f"{deadline:%Y-%m-%d %H:%M}"}
        elif (
            moved_at
            and now - moved_at > UPLOAD_STALL_AFTER
            and upload.status != AudienceUpload.Status.AWAITING
        ):  # waits for the person
            stalled = True
            next_step = _(
                "No progress for %(minutes)d minutes. The import is queued again "
                "automatically; if it has not finished by %(deadline)s it is stopped "
                "and you can upload the file again."
            ) % {
                "minutes": (now - moved_at).total_seconds() // 60,
                "deadline": f"{deadline:%Y-%m-%d %H:%M}",
            }
    return {
        "id": upload.pk,
        "status": upload.status,
        "status_display": str(_("Stalled")) if stalled else str(upload.get_status_display()),
        "progress": 100 if upload.status == AudienceUpload.Status.DONE else min(percent, 99),
        "finished": upload.is_finished,
        "stalled": stalled,
        "next": next_step,
        "id_count": upload.id_count,
        "added_count": upload.added_count,
        "error": upload.error,
        "audience_id": upload.audience_id,
    }
