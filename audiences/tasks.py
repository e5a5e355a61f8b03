"""Celery tasks: thin, idempotent, take ids, acks late (a worker dying mid-task leaves the
message to be delivered again, and the services start over safely)."""

from celery import shared_task
from django.db import OperationalError

TASK_OPTIONS = dict(
    acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5
)


@shared_task(name="audiences.import_upload", **TASK_OPTIONS)
def import_upload(upload_id: int) -> str:
    from .services import upload_process

    return upload_process(upload_id=upload_id).status


@shared_task(name="audiences.check_upload", **TASK_OPTIONS)
def check_upload(upload_id: int) -> str:
    """Check and count a kept upload before the person confirms it (nothing is stored)."""
    from .services import upload_check_process

    return upload_check_process(upload_id=upload_id).status


@shared_task(name="audiences.detach_account", **TASK_OPTIONS)
def detach_account(link_id: int) -> int:
    """An ended link: the account's audiences and shares leave the organization."""
    from .services import account_detach

    return account_detach(link_id=link_id)


@shared_task(name="audiences.sync_account", **TASK_OPTIONS)
def sync_account(link_id: int) -> int:
    """Bring a newly linked account's audiences into its organization (and share-all)."""
    from .services import account_sync

    return account_sync(link_id=link_id)


@shared_task(name="audiences.refresh_audience", **TASK_OPTIONS)
def refresh_audience(audience_id: int) -> None:
    from .services import audience_refresh

    audience_refresh(audience_id=audience_id)


@shared_task(name="audiences.refresh_all", **TASK_OPTIONS)
def refresh_all() -> int:
    """Beat: keep sizes, statuses (expiry) and reachable counts current."""
    from .services import audiences_refresh_all

    return audiences_refresh_all()


@shared_task(name="audiences.sweep_uploads", **TASK_OPTIONS)
def sweep_uploads() -> int:
    """Beat: fail uploads stuck unfinished (docs/reliability.md)."""
    from .services import uploads_sweep

    return uploads_sweep()


@shared_task(name="audiences.purge_tag_events", **TASK_OPTIONS)
def purge_tag_events() -> int:
    """Beat: LINE Tag events older than the retention (180 days) are deleted."""
    from .services import tag_events_purge

    return tag_events_purge()


@shared_task(name="audiences.recompute_web_traffic", **TASK_OPTIONS)
def recompute_web_traffic() -> int:
    """Beat: every web-traffic audience is recomputed from its rule, in the database."""
    from .services import web_traffic_recompute_all

    return web_traffic_recompute_all()
