"""LINE Tag event intake: the browser snippets' endpoint and the server-to-server conversion
endpoint (docs/audiences.md, "LINE Tag").

A request carries ``{"tagId": "...", "events": [...]}``. Every event is checked before any is
stored: one bad field refuses the whole batch with a 400 naming ``events[i].field``, and nothing
is written. The server-to-server endpoint also needs ``Authorization: Bearer <token>``, the
tag's access token (only its SHA-256 is kept). Each tag has its own rate limit of events per
second, counted in Redis (``settings.LBM_TAG_RATE_LIMIT``).
"""

import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from lbm import generations, pii

from .models import EVENT_RETENTION, LineTag, LineUser, TagEvent

MAX_EVENTS_PER_REQUEST = 100
MAX_BODY_BYTES = 256 * 1024
# An event may be at most this far in the future (clock skew of the sender).
FUTURE_SKEW = timedelta(minutes=5)
LAST_EVENT_STEP = timedelta(seconds=30)
STANDARD_EVENTS = {"PageView", TagEvent.PAGE_VIEW, TagEvent.CONVERSION}
_CUSTOM_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_USER_ID = re.compile(r"^U[0-9a-f]{32}$")
_TAG_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


class BadRequest(Exception):
    def __init__(self, message: str, details: list[tuple[str, str]] | None = None, status=400):
        super().__init__(message)
        self.message, self.details, self.status = message, details or [], status


@dataclass
class Parsed:
    event: str
    url: str
    occurred_at: datetime
    who: tuple[str, str]  # ("user_id" | "phone_hash" | "email_hash", value)


def _event(i: int, raw, now: datetime) -> tuple[Parsed | None, list[tuple[str, str]]]:
    where = f"events[{i}]"
    if not isinstance(raw, dict):
        return None, [(where, "must be an object")]
    errors = []
    kind = raw.get("type")
    name = kind
    if kind == "CustomEvent":
        name = raw.get("name")
        if not isinstance(name, str) or not _CUSTOM_NAME.match(name) or name in STANDARD_EVENTS:
            errors.append(
                (
                    f"{where}.name",
                    "a custom event needs a name of 1-64 letters, "
                    "digits, _ or - (not PageView or Conversion)",
                )
            )
    elif kind not in STANDARD_EVENTS:
        errors.append((f"{where}.type", "must be PageView, Conversion or CustomEvent"))
    url = raw.get("url")
    if not isinstance(url, str) or len(url) > 2000:
        errors.append((f"{where}.url", "must be an http(s) URL of at most 2,000 characters"))
    else:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            errors.append((f"{where}.url", "must be an http(s) URL of at most 2,000 characters"))
    stamp = raw.get("timestamp")
    occurred = None
    if isinstance(stamp, bool) or not isinstance(stamp, int | float):
        errors.append((f"{where}.timestamp", "must be Unix time in seconds"))
    else:
        try:
            occurred = datetime.fromtimestamp(stamp, tz=UTC)
        except (OverflowError, OSError, ValueError):
            occurred = None
        if occurred is None or occurred > now + FUTURE_SKEW:
            errors.append((f"{where}.timestamp", "is in the future"))
        elif occurred < now - EVENT_RETENTION:
            errors.append((f"{where}.timestamp", "is older than 180 days"))
    user = raw.get("user")
    who = None
    if not isinstance(user, dict) or len(user) != 1:
        errors.append(
            (f"{where}.user", "must hold exactly one of lineUserId, phoneHash, emailHash")
        )
    else:
        ((key, value),) = user.items()
        if key == "lineUserId" and isinstance(value, str) and _USER_ID.match(value):
            who = ("user_id", value)
        elif (
            key in ("phoneHash", "emailHash")
            and isinstance(value, str)
            and pii.is_sha256_hex(value)
        ):
            who = ("phone_hash" if key == "phoneHash" else "email_hash", pii.keyed_hash(value))
        elif key == "lineUserId":
            errors.append((f"{where}.user.lineUserId", "must be U followed by 32 hex digits"))
        elif key in ("phoneHash", "emailHash"):
            errors.append(
                (f"{where}.user.{key}", "must be a lower-case hex SHA-256 of the normalised value")
            )
        else:
            errors.append(
                (f"{where}.user", "must hold exactly one of lineUserId, phoneHash, emailHash")
            )
    if errors:
        return None, errors
    if name == "PageView":
        name = TagEvent.PAGE_VIEW
    return Parsed(event=name, url=url, occurred_at=occurred, who=who), []


def parse(body: bytes, now: datetime | None = None) -> tuple[str, list[Parsed]]:
    """``(tag ID, events)`` from a request body; raise ``BadRequest`` naming every bad field."""
    now = now or timezone.now()
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest("The request body is too large.", status=413)
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("The request body is not JSON.") from exc
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.")
    tag_id = data.get("tagId")
    events = data.get("events")
    details = []
    if not isinstance(tag_id, str) or not _TAG_ID.match(tag_id):
        details.append(("tagId", "must be the tag ID shown in the LINE Tag's page"))
    if not isinstance(events, list) or not 1 <= len(events) <= MAX_EVENTS_PER_REQUEST:
        details.append(("events", f"must be a list of 1 to {MAX_EVENTS_PER_REQUEST} events"))
        events = []
    parsed = []
    for i, raw in enumerate(events):
        event, errors = _event(i, raw, now)
        details.extend(errors)
        if event is not None:
            parsed.append(event)
    if details:
        raise BadRequest("The request was refused; nothing was stored.", details)
    return tag_id, parsed


def token_hash(token: str) -> str:
    """Access tokens are 32 random bytes, so a plain SHA-256 keeps them safe at rest."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _rate_limited(tag: LineTag, count: int) -> bool:
    limit = int(settings.LBM_TAG_RATE_LIMIT)
    second = int(time.time())
    key = f"lbm:rl:tag:{tag.pk}:{second}"
    client = generations.redis_client()
    if client is not None:
        # INCRBY and EXPIRE NX in one round trip (a Lua script, cheaper than a pipeline).
        total = int(client.eval(_RATE_LUA, 1, generations.full_key(key), count))
    else:
        total = 0
        for _i in range(count):
            total = generations.add_one(key, 2)
    return total > limit


_RATE_LUA = """
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], 2, 'NX')
return n
"""

# The tag lookup (pk and token hash by tag ID) is kept per process, valid while the Redis
# stamp ``lbm:gen:linetag`` is unchanged; every save or delete of a LINE Tag gives the stamp a
# new random value (at once and again after commit), so a new token or a deleted tag is seen
# by the next request. Without Redis nothing is kept.
_TAG_STAMP = "lbm:gen:linetag"
_tags: dict[str, tuple[bytes, LineTag | None]] = {}


def tags_changed(**_kwargs) -> None:
    """``post_save`` / ``post_delete`` receiver of ``LineTag`` (audiences/receivers.py)."""
    client = generations.redis_client()
    if client is None:
        return
    name = generations.full_key(_TAG_STAMP)

    def bump():
        client.set(name, str(generations._new_stamp()))

    bump()
    transaction.on_commit(bump)


def _tag(tag_id: str) -> LineTag | None:
    client = generations.redis_client()
    if client is None:
        return LineTag.objects.filter(tag_id=tag_id).only("pk", "token_hash").first()
    name = generations.full_key(_TAG_STAMP)
    stamp = client.get(name)
    if stamp is None:
        client.set(name, str(generations._new_stamp()), nx=True)
        stamp = client.get(name)
    cached = _tags.get(tag_id)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    tag = LineTag.objects.filter(tag_id=tag_id).only("pk", "token_hash").first()
    if len(_tags) > 10000:
        _tags.clear()
    _tags[tag_id] = (stamp, tag)
    return tag


def _match_users(events: list[Parsed]) -> dict[tuple[str, str], int]:
    """One query per kind of identifier: ``(kind, value) → LineUser pk``."""
    found = {}
    for kind in ("user_id", "phone_hash", "email_hash"):
        values = {e.who[1] for e in events if e.who[0] == kind}
        if values:
            rows = LineUser.objects.filter(**{f"{kind}__in": values}).values_list(kind, "pk")
            found.update({(kind, value): pk for value, pk in rows})
    return found


# PostgreSQL: the events, their users matched and "last event" moved, in one statement (one
# round trip and one commit instead of five round trips).
_STORE_SQL = """
WITH v AS (
  SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::timestamptz[])
    AS v(kind, value, event, url, occurred_at)
), ins AS (
  INSERT INTO audiences_tagevent (tag_id, line_user_id, event, url, occurred_at, received_at)
  SELECT %s, CASE v.kind
      WHEN 'user_id' THEN (SELECT u.id FROM audiences_lineuser u WHERE u.user_id = v.value)
      WHEN 'phone_hash' THEN (SELECT u.id FROM audiences_lineuser u WHERE u.phone_hash = v.value)
      ELSE (SELECT u.id FROM audiences_lineuser u WHERE u.email_hash = v.value) END,
    v.event, v.url, v.occurred_at, %s
  FROM v RETURNING 1
), upd AS (
  UPDATE audiences_linetag SET last_event_at = %s
  WHERE id = %s AND (last_event_at IS NULL OR last_event_at < %s) RETURNING 1
)
SELECT count(*) FROM ins
"""
# The browser snippets' events are committed without waiting for the WAL flush (this
# statement's transaction only): the disk's rare fsync stalls (≈ 100–250 ms on the project's
# machine) otherwise reach every request at once and set the p99. A PostgreSQL crash may lose
# the last ≈ 0.6 s of acknowledged page events, never corrupt or half-store a batch; the
# server-to-server conversions stay durable (docs/audiences.md#how-a-request-is-stored-speed).
_STORE_SQL_ASYNC_COMMIT = _STORE_SQL.replace(
    "SELECT count(*) FROM ins",
    "SELECT (SELECT count(*) FROM ins), set_config('synchronous_commit', 'off', true)",
)


def store(tag: LineTag, events: list[Parsed], *, durable: bool = True) -> int:
    """Store a checked batch. ``durable=False`` (the browser snippets) commits without waiting
    for the WAL flush on PostgreSQL; the batch is still all or nothing."""
    latest = max(e.occurred_at for e in events)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                _STORE_SQL if durable else _STORE_SQL_ASYNC_COMMIT,
                [
                    [e.who[0] for e in events],
                    [e.who[1] for e in events],
                    [e.event for e in events],
                    [e.url for e in events],
                    [e.occurred_at for e in events],
                    tag.pk,
                    timezone.now(),
                    latest,
                    tag.pk,
                    latest - LAST_EVENT_STEP,
                ],
            )
            return cursor.fetchone()[0]
    users = _match_users(events)
    rows = [
        TagEvent(
            tag_id=tag.pk,
            line_user_id=users.get(e.who),
            event=e.event,
            url=e.url,
            occurred_at=e.occurred_at,
        )
        for e in events
    ]
    with transaction.atomic():
        TagEvent.objects.bulk_create(rows)
        # "Last event" moves in steps of LAST_EVENT_STEP: a busy tag's row is not written (and
        # locked) by every request.
        LineTag.objects.filter(
            Q(last_event_at__lt=latest - LAST_EVENT_STEP) | Q(last_event_at__isnull=True), pk=tag.pk
        ).update(last_event_at=latest)
    return len(rows)


def _error(exc: BadRequest) -> JsonResponse:
    body = {"message": exc.message}
    if exc.details:
        body["details"] = [{"property": p, "message": m} for p, m in exc.details]
    return JsonResponse(body, status=exc.status)


def _intake(request, *, with_token: bool) -> JsonResponse:
    try:
        tag_id, events = parse(request.body)
        tag = _tag(tag_id)
        if with_token:
            header = request.headers.get("Authorization", "")
            token = header[7:] if header.startswith("Bearer ") else ""
            if (
                tag is None
                or not tag.token_hash
                or not token
                or not hmac.compare_digest(tag.token_hash, token_hash(token))
            ):
                raise BadRequest("The access token is not valid for this LINE Tag.", status=401)
        elif tag is None:
            raise BadRequest("Unknown tag ID.", [("tagId", "no LINE Tag has this ID")])
        if _rate_limited(tag, len(events)):
            raise BadRequest(
                "Too many events for this LINE Tag; try again in a second.", status=429
            )
    except BadRequest as exc:
        return _error(exc)
    # The conversion endpoint's batches are durable before the 202; the snippets' are not
    # waited for (see _STORE_SQL_ASYNC_COMMIT).
    return JsonResponse({"accepted": store(tag, events, durable=with_token)}, status=202)


@csrf_exempt
@require_POST
def events_view(request):
    """The browser snippets' endpoint (base, conversion and custom-event code)."""
    response = _intake(request, with_token=False)
    response["Access-Control-Allow-Origin"] = "*"
    return response


@csrf_exempt
@require_POST
def conversions_view(request):
    """The server-to-server conversion endpoint (access token of the tag)."""
    return _intake(request, with_token=True)
