"""The outbox: publishing a task never decides the outcome of a request that already committed
(docs/reliability.md#the-outbox).

A service that changes state and wants a task run writes ``enqueue(task, kwargs)`` inside the
same transaction: one ``OutboxMessage`` row, committed (or rolled back) with the change. After
commit the row is published; if the broker is out of reach then, the request still succeeds,
the row stays unpublished (``entry.published`` is False, for a page that wants to say so) and
the beat sweep (``sweep``, every minute) publishes it once the broker is back. A row may be
published twice (published, then the database lost before it was marked): every task queued
this way is idempotent, and one that must run at most once (an e-mail) calls ``consume``.

With eager tasks (``make run``, the unit tests) publishing runs the task at once, after commit.
"""

import logging
from datetime import timedelta

import kombu.exceptions
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from .models import OutboxMessage

logger = logging.getLogger(__name__)

# A row unpublished this long after it was written is the sweep's (its own after-commit publish
# has had time to run, so the two do not publish it together).
SWEEP_AFTER = timedelta(seconds=30)
SWEEP_CHUNK = 500
# Published rows are kept this long as a record (admin: "queued tasks"), then deleted.
KEEP_PUBLISHED = timedelta(days=7)
# One quick reconnect (a pooled connection gone stale after a Redis restart), then give up: the
# sweep retries, and a request is not held while the broker is down.
PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.1}
TASK_ID_PREFIX = "outbox-"


class QueueUnreachable(kombu.exceptions.OperationalError):
    """The broker did not take a task. A kombu ``OperationalError``, so the API answers it as
    any broker outage: a LINE-shaped 503 with ``Retry-After``."""


def broker_errors() -> tuple[type[BaseException], ...]:
    import redis.exceptions

    return (
        kombu.exceptions.OperationalError,
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
        ConnectionError,
        TimeoutError,
    )


def _task(name: str):
    from lbm.celery import app

    return app.tasks[name]


def _eager() -> bool:
    from lbm.celery import app

    return bool(app.conf.task_always_eager)


def enqueue(task, kwargs: dict | None = None, *, reason: str = "") -> OutboxMessage:
    """Write ``task`` (a task or its name) with ``kwargs`` (JSON: ids, not objects) in the current
    transaction and publish it after commit. Returns the row; its ``published`` attribute is
    None until the publish was tried, then True or False."""
    entry = OutboxMessage.objects.create(
        task=getattr(task, "name", task), kwargs=kwargs or {}, reason=reason[:200]
    )
    entry.published = None
    transaction.on_commit(lambda: publish(entry))
    return entry


def publish(entry: OutboxMessage) -> bool:
    """Publish one row (always with the task id ``outbox-<id>``) and mark it. Never raises for
    the broker or the database being out of reach: returns False and leaves the row to the
    sweep. With eager tasks the row is marked first and the task runs here."""
    task = _task(entry.task)
    if _eager():
        _mark(entry, published=True)
        entry.published = True
        task.apply_async(kwargs=entry.kwargs, task_id=entry.task_id)
        return True
    try:
        task.apply_async(
            kwargs=entry.kwargs, task_id=entry.task_id, retry=True, retry_policy=PUBLISH_RETRY
        )
    except broker_errors() as exc:
        entry.published = False
        logger.warning(
            "task %s (outbox %s) not published, the sweep will: %s",
            entry.task,
            entry.pk,
            type(exc).__name__,
        )
        _mark(entry, published=False, error=str(exc) or type(exc).__name__)
        return False
    entry.published = True
    _mark(entry, published=True)
    return True


def _mark(entry: OutboxMessage, *, published: bool, error: str = "") -> None:
    changes = {"attempts": F("attempts") + 1, "last_error": error[:300]}
    if published:
        changes["published_at"] = timezone.now()
    try:
        OutboxMessage.objects.filter(pk=entry.pk).update(**changes)
    except DatabaseError:
        # Published but not marked: the sweep publishes it again, and the task is idempotent.
        logger.warning("outbox %s: publish not recorded", entry.pk, exc_info=True)


def publish_now(task, kwargs: dict | None = None, *, countdown: float | None = None) -> None:
    """Publish a trigger that needs no row, because the state it acts on is its own record and a
    beat sweep runs the same task anyway (the push's ``finish_notices``). Called *before* the
    state change, so that an unreachable broker refuses the request with nothing recorded.
    Raises ``QueueUnreachable``."""
    try:
        task.apply_async(
            kwargs=kwargs or {}, countdown=countdown, retry=True, retry_policy=PUBLISH_RETRY
        )
    except broker_errors() as exc:
        raise QueueUnreachable(str(exc) or type(exc).__name__) from exc


def consume(task_id: str | None) -> bool:
    """For a task that must run at most once: True for the first run of an outbox row's task
    (marks the row), False for a second publication of it. Call it inside the transaction of the
    task's work, so that a run that fails leaves the row unconsumed for the retry, and a second
    run waits for the first one's commit. A task not published from the outbox is always run."""
    if not task_id or not task_id.startswith(TASK_ID_PREFIX):
        return True
    try:
        pk = int(task_id[len(TASK_ID_PREFIX) :])
    except ValueError:
        return True
    return bool(
        OutboxMessage.objects.filter(pk=pk, consumed_at__isnull=True).update(
            consumed_at=timezone.now()
        )
    )


def sweep(*, now=None) -> int:
    """Beat: publish every row the broker could not take after its commit, oldest first, in
    locked chunks (``SKIP LOCKED``: two sweeps share the work); stop at the first refusal (the
    broker is still down). Published rows past ``KEEP_PUBLISHED`` are deleted. Returns how many
    were published."""
    now = now or timezone.now()
    published, last_pk = 0, 0
    while True:
        with transaction.atomic():
            page = OutboxMessage.objects.filter(
                published_at__isnull=True, created_at__lt=now - SWEEP_AFTER, pk__gt=last_pk
            ).order_by("pk")
            if connection.features.has_select_for_update_skip_locked:
                page = page.select_for_update(skip_locked=True)
            chunk = list(page[:SWEEP_CHUNK])
            for entry in chunk:
                if not publish(entry):
                    return published
                published += 1
        if len(chunk) < SWEEP_CHUNK:
            break
        last_pk = chunk[-1].pk
    OutboxMessage.objects.filter(published_at__lt=now - KEEP_PUBLISHED).delete()
    if published:
        logger.info("outbox sweep published %d task(s)", published)
    return published


def waiting(task, **arguments) -> bool:
    """Whether a row for ``task`` with these arguments (among its kwargs) is still unpublished
    (a page saying "waiting for the queue")."""
    lookups = {f"kwargs__{name}": value for name, value in arguments.items()}
    return OutboxMessage.objects.filter(
        task=getattr(task, "name", task), published_at__isnull=True, **lookups
    ).exists()
