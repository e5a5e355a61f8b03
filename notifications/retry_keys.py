"""``X-Line-Retry-Key``: a send request carrying a key the channel already used in the last 24
hours is not executed again but answered 409 with the accepted request's id, as LINE does
(docs/api.md#retry-keys).

The key is claimed in the same transaction as the send it guards: a send that fails (any
exception) releases it, so the client may retry; a send that was recorded keeps it. Two
concurrent requests with one key meet at the unique constraint (channel, key): on PostgreSQL
the second INSERT waits for the first transaction and then either fails (→ 409) or, if the
first rolled back, goes ahead; on SQLite writes are serialised anyway."""

import re
import uuid
from contextlib import contextmanager
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import RETRY_KEY_WINDOW, RetryKey

HEADER = "X-Line-Retry-Key"
# LINE: "the UUID in hexadecimal format (e.g. 123e4567-e89b-12d3-a456-426614174000)".
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class RetryKeyAccepted(Exception):
    """The key was accepted before (within ``RETRY_KEY_WINDOW``) with ``request_id``."""

    def __init__(self, request_id: str):
        super().__init__(request_id)
        self.request_id = request_id


def parse_key(raw) -> uuid.UUID | None:
    """The header's value as a UUID; ``None`` when absent. Raises ``ValueError`` when it is
    not a UUID in hexadecimal 8-4-4-4-12 form."""
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or not _UUID.fullmatch(raw):
        raise ValueError("The retry key must be a UUID in hexadecimal format.")
    return uuid.UUID(raw)


def _claim(
    *, channel_id: int, key: uuid.UUID, endpoint: str, request_id: str, now: datetime
) -> None:
    try:
        with transaction.atomic():
            RetryKey.objects.create(
                channel_id=channel_id,
                key=key,
                endpoint=endpoint,
                request_id=request_id,
                accepted_at=now,
            )
        return
    except IntegrityError:
        pass
    # Kept longer than the window (the purge has not run yet): the key is free again. The
    # conditional update lets only one of several concurrent takers have it.
    taken = RetryKey.objects.filter(
        channel_id=channel_id, key=key, accepted_at__lt=now - RETRY_KEY_WINDOW
    ).update(endpoint=endpoint, request_id=request_id, accepted_at=now)
    if taken:
        return
    accepted = (
        RetryKey.objects.filter(channel_id=channel_id, key=key)
        .values_list("request_id", flat=True)
        .first()
    )
    raise RetryKeyAccepted(accepted or "")


@contextmanager
def claimed(
    *,
    channel_id: int,
    key: uuid.UUID | None,
    endpoint: str,
    request_id: str,
    now: datetime | None = None,
):
    """Run the body (the send) once per (channel, key) within ``RETRY_KEY_WINDOW``, in one
    transaction with the key's row. Raises ``RetryKeyAccepted`` before the body when the key
    was accepted already. Without a key the body just runs."""
    if key is None:
        yield
        return
    with transaction.atomic():
        _claim(
            channel_id=channel_id,
            key=key,
            endpoint=endpoint,
            request_id=request_id,
            now=now or timezone.now(),
        )
        yield


def retry_keys_purge(*, now: datetime | None = None) -> int:
    """Delete keys older than ``RETRY_KEY_WINDOW``; returns how many. Idempotent (run by the
    hourly ``notifications.purge_personal_data`` beat task)."""
    cutoff = (now or timezone.now()) - RETRY_KEY_WINDOW
    deleted, _by_model = RetryKey.objects.filter(accepted_at__lt=cutoff).delete()
    return deleted
