"""Delivery webhooks: event ids, signing, the body, the HTTP client with its deadline, attempts
and the sweep (docs/reliability.md#webhooks)."""

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from datetime import datetime, timedelta

import httpcore
import httpx
from celery.exceptions import SoftTimeLimitExceeded
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from lbm import outbox

from .. import crypto
from ..models import WebhookAttempt, WebhookDelivery
from .common import FAN_OUT_CHUNK, INSERT_BATCH, logger

WEBHOOK_TIMEOUT = 10  # seconds, per socket operation (connect, each read and write)
# The whole POST — connect, send, the answer's headers and its first bytes — however slowly the
# receiver drips them: below the task's soft time limit, so the client itself ends the attempt
# (the threads and solo pools have no time limits).
WEBHOOK_DEADLINE = 15
# How long a claimed attempt is held: longer than the task's hard time limit (WEBHOOK_TIME_LIMIT),
# so a killed or stuck execution's claim has always lapsed before another may POST.
WEBHOOK_TIME_LIMIT = 30  # seconds: the whole attempt, however slowly the receiver answers
WEBHOOK_CLAIM = timedelta(seconds=WEBHOOK_TIME_LIMIT + 15)
WEBHOOK_MAX_ATTEMPTS = 7  # the first and deliver_webhook's 6 retries
# An open webhook whose state has not moved this long (no attempt, claim lapsed) lost its task:
# longer than the longest wait between two attempts (600 s backoff, with jitter).
WEBHOOK_STUCK_AFTER = timedelta(minutes=15)


# --- Webhooks ---------------------------------------------------------------------------------

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_event_id(moment: datetime | None = None) -> str:
    """A ULID (26 characters, Crockford base32: 48-bit ms time + 80 random bits), the format of
    ``webhookEventId``."""
    ms = int((moment or timezone.now()).timestamp() * 1000)
    value = (ms << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def _queue_webhooks(account_id: int, notice_ids: list[int], now: datetime) -> None:
    """Create the delivery webhooks of delivered notices (when the account's channel has a
    webhook URL) and send them through Celery once the transaction commits."""
    if not notice_ids:
        return
    from lbm.models import Channel

    url = (
        Channel.objects.filter(account_id=account_id).values_list("webhook_url", flat=True).first()
    )
    if not url:
        return
    rows = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                notice_id=pk,
                account_id=account_id,
                webhook_event_id=new_event_id(now),
                created_at=now,
            )
            for pk in notice_ids
        ],
        batch_size=INSERT_BATCH,
    )
    ids = [row.pk for row in rows]
    from ..tasks import deliver_webhook, fan_out_webhooks

    # Outbox rows in this transaction, published after commit (docs/reliability.md#the-outbox).
    for start in range(0, len(ids), FAN_OUT_CHUNK):
        chunk = ids[start : start + FAN_OUT_CHUNK]
        if len(chunk) == 1:
            outbox.enqueue(deliver_webhook, {"delivery_id": chunk[0]}, reason="delivery webhook")
        else:
            outbox.enqueue(
                fan_out_webhooks, {"delivery_ids": chunk}, reason=f"{len(chunk)} delivery webhooks"
            )


def signature(body: bytes, channel_secret: str) -> str:
    """``X-Line-Signature``: base64 of HMAC-SHA256 of the body under the channel secret."""
    import base64

    digest = hmac.new(channel_secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def webhook_body(delivery: WebhookDelivery, *, destination: str, redelivery: bool) -> bytes:
    """The CallbackRequest of one ``delivery`` event (webhook.yml), as the bytes signed."""
    notice = delivery.notice
    data = notice.delivery_tag or crypto.decrypt(notice.line_hash_secret)
    event = {
        "type": "delivery",
        "mode": "active",
        "timestamp": int(notice.delivered_at.timestamp() * 1000),
        "webhookEventId": delivery.webhook_event_id,
        "deliveryContext": {"isRedelivery": redelivery},
        "delivery": {"data": data},
    }
    return json.dumps(
        {"destination": destination, "events": [event]}, separators=(",", ":")
    ).encode("utf-8")


class WebhookTemporaryError(Exception):
    """A connection error or a 5xx answer: the task retries with backoff."""


# --- The webhook HTTP client: httpx, one pooled client per process, an overall deadline -------

_deadline = threading.local()  # .at: time.monotonic() by which this thread's POST must be done


def _time_left(timeout: float | None, timeout_error: type[Exception]) -> float | None:
    """The socket timeout of one operation: its own, cut to what is left of the deadline."""
    at = getattr(_deadline, "at", None)
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise timeout_error(f"the webhook's {WEBHOOK_DEADLINE} s deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read and write gets at most the time left of the POST's
    deadline: a receiver that drips its headers a byte at a time cannot hold the worker."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        return _DeadlineStream(
            self._stream.start_tls(
                ssl_context, server_hostname, _time_left(timeout, httpcore.ConnectTimeout)
            )
        )

    def get_extra_info(self, info: str):
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        return _DeadlineStream(
            self._backend.connect_tcp(
                host,
                port,
                _time_left(timeout, httpcore.ConnectTimeout),
                local_address,
                socket_options,
            )
        )

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        return _DeadlineStream(
            self._backend.connect_unix_socket(
                path, _time_left(timeout, httpcore.ConnectTimeout), socket_options
            )
        )

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _DeadlineTransport(httpx.HTTPTransport):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._pool._network_backend = _DeadlineBackend()  # httpx pinned (pyproject.toml)


_client: tuple[int, httpx.Client] | None = None


def webhook_client() -> httpx.Client:
    """This process's pooled client (made anew after a fork: a prefork child never shares its
    parent's sockets). No redirects followed (LINE does not: a 3xx is an answer like any other),
    no proxy from the environment."""
    global _client
    if _client is None or _client[0] != os.getpid():
        transport = _DeadlineTransport(
            trust_env=False,
            retries=0,
            limits=httpx.Limits(
                max_connections=20, max_keepalive_connections=10, keepalive_expiry=30
            ),
        )
        _client = (
            os.getpid(),
            httpx.Client(
                transport=transport,
                follow_redirects=False,
                trust_env=False,
                timeout=httpx.Timeout(WEBHOOK_TIMEOUT),
            ),
        )
    return _client[1]


def _post(url: str, body: bytes, headers: dict) -> tuple[int, bytes]:
    """POST within ``WEBHOOK_DEADLINE``; returns the status and the answer's first 400 bytes.
    Raises ``httpx.HTTPError`` (connection refused, a timeout, the deadline)."""
    _deadline.at = time.monotonic() + WEBHOOK_DEADLINE
    try:
        with webhook_client().stream("POST", url, content=body, headers=headers) as response:
            start = b""
            for piece in response.iter_raw():
                start += piece
                if len(start) >= 400:
                    break
            return response.status_code, start[:400]
    except httpx.TimeoutException as exc:
        if time.monotonic() >= _deadline.at - 0.05:  # the deadline, not one slow read
            raise type(exc)(
                f"no answer within the webhook's {WEBHOOK_DEADLINE} s deadline"
            ) from exc
        raise
    finally:
        _deadline.at = None


def _claim(delivery_id: int, now) -> int | None:
    """Claim the next attempt of an unfinished webhook for this execution, in one conditional
    UPDATE, before anything is POSTed: the attempt count goes up at once (so an attempt cut off
    by a killed process still counts, and the next one says ``isRedelivery: true``) and the
    claim holds for ``WEBHOOK_CLAIM``. Returns the attempts made before this one, or None when
    the webhook is finished or another execution holds the claim."""
    open_states = (WebhookDelivery.State.QUEUED, WebhookDelivery.State.RETRYING)
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery_id, state__in=open_states)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(attempts=F("attempts") + 1, claimed_until=now + WEBHOOK_CLAIM)
    )
    if not claimed:
        return None
    return (
        WebhookDelivery.objects.filter(pk=delivery_id).values_list("attempts", flat=True).get() - 1
    )


def webhook_attempt(*, delivery_id: int, final: bool = False) -> WebhookDelivery:
    """POST the delivery event once and record the attempt. 2xx: sent. 4xx or 3xx: failed (no
    retry). Connection error or 5xx: raises ``WebhookTemporaryError`` for a retry, or fails
    when ``final``. A webhook already sent or given up is left alone; one whose attempt another
    execution has claimed raises ``WebhookTemporaryError`` (the retry finds it finished)."""
    now = timezone.now()
    delivery = WebhookDelivery.objects.select_related("notice", "account__channel").get(
        pk=delivery_id
    )
    if delivery.done:
        return delivery
    before = _claim(delivery_id, now)
    if before is None:
        delivery.refresh_from_db(fields=["state", "attempts", "finished_at", "claimed_until"])
        if delivery.done:
            return delivery
        raise WebhookTemporaryError("another execution holds this webhook's attempt")
    # The attempt count, not the task's retry count, decides the last one: a webhook the sweep
    # queued again starts a new task, but not a new series of attempts.
    final = final or before + 1 >= WEBHOOK_MAX_ATTEMPTS
    channel = getattr(delivery.account, "channel", None)
    url = channel.webhook_url if channel else ""
    attempt = WebhookAttempt(delivery=delivery, attempted_at=now, url=url[:500])
    retry = False
    if not url or not url.lower().startswith(("https://", "http://")):
        attempt.error = _("No webhook URL (http or https) is set for this channel.")
    else:
        body = webhook_body(delivery, destination=channel.bot_user_id, redelivery=before > 0)
        headers = {
            "Content-Type": "application/json",
            "X-Line-Signature": signature(body, channel.channel_secret),
            "User-Agent": "LineBotWebhook/2.0",
        }
        started = time.monotonic()
        try:
            attempt.status_code, excerpt = _post(url, body, headers)
            attempt.response_excerpt = _excerpt(excerpt)
            retry = attempt.status_code >= 500
        except (httpx.HTTPError, httpx.InvalidURL, OSError, SoftTimeLimitExceeded) as exc:
            attempt.error = (str(exc) or type(exc).__name__)[:300]
            retry = True
        attempt.duration_ms = int((time.monotonic() - started) * 1000)
    attempt.save()
    delivery.attempts = before + 1
    delivery.claimed_until = None
    if attempt.status_code is not None and 200 <= attempt.status_code < 300:
        delivery.state, delivery.finished_at = WebhookDelivery.State.SENT, now
    elif retry and not final:
        delivery.state = WebhookDelivery.State.RETRYING
    else:
        delivery.state, delivery.finished_at = WebhookDelivery.State.FAILED, now
    delivery.save(update_fields=["state", "finished_at", "claimed_until"])
    if delivery.state == WebhookDelivery.State.RETRYING:
        raise WebhookTemporaryError(attempt.error or f"HTTP {attempt.status_code}")
    return delivery


def webhooks_sweep(*, now: datetime | None = None) -> dict:
    """Beat, every 5 minutes (docs/reliability.md#webhooks): an open webhook (queued or
    retrying) whose claim has lapsed and whose state has not moved for ``WEBHOOK_STUCK_AFTER``
    (created, or last attempted, that long ago) lost its task. It is queued again through the
    outbox (the row records why), at most once per ``WEBHOOK_STUCK_AFTER``; one that has had
    all its attempts ends failed, with an attempt row saying so. Safe against a task that is
    merely late: the claim lets only one execution POST. Returns the counts."""
    from django.db.models import Max

    from lbm.models import OutboxMessage

    from ..tasks import deliver_webhook

    now = now or timezone.now()
    before = now - WEBHOOK_STUCK_AFTER
    stuck = (
        WebhookDelivery.objects.filter(
            state__in=[WebhookDelivery.State.QUEUED, WebhookDelivery.State.RETRYING],
            created_at__lt=before,
        )
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .annotate(last_attempt=Max("attempt_rows__attempted_at"))
        .filter(Q(last_attempt__isnull=True) | Q(last_attempt__lt=before))
        .order_by("pk")
    )
    result = {"requeued": 0, "failed": 0}
    for delivery in stuck.iterator(chunk_size=500):
        with transaction.atomic():
            if delivery.attempts >= WEBHOOK_MAX_ATTEMPTS:
                given_up = (
                    WebhookDelivery.objects.filter(
                        pk=delivery.pk,
                        state__in=[WebhookDelivery.State.QUEUED, WebhookDelivery.State.RETRYING],
                    )
                    .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
                    .update(state=WebhookDelivery.State.FAILED, finished_at=now)
                )
                if given_up:
                    WebhookAttempt.objects.create(
                        delivery=delivery,
                        attempted_at=now,
                        url="",
                        error=_("Given up by the sweep after %(count)d attempts.")
                        % {"count": delivery.attempts},
                    )
                    result["failed"] += 1
                continue
            if OutboxMessage.objects.filter(
                task=deliver_webhook.name, kwargs__delivery_id=delivery.pk, created_at__gte=before
            ).exists():
                continue  # queued again recently (or waiting for the broker)
            outbox.enqueue(
                deliver_webhook,
                {"delivery_id": delivery.pk},
                reason=f"sweep: webhook {delivery.state} without moving for "
                f"{int(WEBHOOK_STUCK_AFTER.total_seconds() // 60)} min",
            )
            result["requeued"] += 1
    if any(result.values()):
        logger.warning("webhook sweep: %(requeued)d queued again, %(failed)d given up", result)
    return result


def _excerpt(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")[:200]
