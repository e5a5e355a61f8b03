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
from django.db import transaction
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
            errors.append((f"{where}.name", "a custom event needs a name of 1-64 letters, "
                                            "digits, _ or - (not PageView or Conversion)"))
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
        errors.append((f"{where}.user", "must hold exactly one of lineUserId, phoneHash, "
                                        "emailHash"))
    else:
        (key, value), = user.items()
        if key == "lineUserId" and isinstance(value, str) and _USER_ID.match(value):
            who = ("user_id", value)
        elif key in ("phoneHash", "emailHash") and isinstance(value, str) \
                and pii.is_sha256_hex(value):
            who = ("phone_hash" if key == "phoneHash" else "email_hash", pii.keyed_hash(value))
        elif key == "lineUserId":
            errors.append((f"{where}.user.lineUserId", "must be U followed by 32 hex digits"))
        elif key in ("phoneHash", "emailHash"):
            errors.append((f"{where}.user.{key}", "must be a lower-case hex SHA-256 of the "
                                                  "normalised value"))
        else:
            errors.append((f"{where}.user", "must hold exactly one of lineUserId, phoneHash, "
                                            "emailHash"))
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
        name = generations.full_key(key)
        pipe = client.pipeline(transaction=False)
        pipe.incrby(name, count)
        pipe.expire(name, 2, nx=True)
        total = int(pipe.execute()[0])
    else:
        total = 0
        for _i in range(count):
            total = generations.add_one(key, 2)
    return total > limit


def _match_users(events: list[Parsed]) -> dict[tuple[str, str], int]:
    """One query per kind of identifier: ``(kind, value) → LineUser pk``."""
    found = {}
    for kind in ("user_id", "phone_hash", "email_hash"):
        values = {e.who[1] for e in events if e.who[0] == kind}
        if values:
            rows = LineUser.objects.filter(**{f"{kind}__in": values}).values_list(kind, "pk")
            found.update({(kind, value): pk for value, pk in rows})
    return found


def store(tag: LineTag, events: list[Parsed]) -> int:
    users = _match_users(events)
    rows = [TagEvent(tag_id=tag.pk, line_user_id=users.get(e.who), event=e.event, url=e.url,
                     occurred_at=e.occurred_at) for e in events]
    latest = max(e.occurred_at for e in events)
    with transaction.atomic():
        TagEvent.objects.bulk_create(rows)
        # "Last event" moves in steps of LAST_EVENT_STEP: a busy tag's row is not written (and
        # locked) by every request.
        LineTag.objects.filter(Q(last_event_at__lt=latest - LAST_EVENT_STEP)
                               | Q(last_event_at__isnull=True),
                               pk=tag.pk).update(last_event_at=latest)
    return len(rows)


def _error(exc: BadRequest) -> JsonResponse:
    body = {"message": exc.message}
    if exc.details:
        body["details"] = [{"property": p, "message": m} for p, m in exc.details]
    return JsonResponse(body, status=exc.status)


def _intake(request, *, with_token: bool) -> JsonResponse:
    try:
        tag_id, events = parse(request.body)
        tag = LineTag.objects.filter(tag_id=tag_id).only("pk", "token_hash").first()
        if with_token:
            header = request.headers.get("Authorization", "")
            token = header[7:] if header.startswith("Bearer ") else ""
            if tag is None or not tag.token_hash or not token or not hmac.compare_digest(
                    tag.token_hash, token_hash(token)):
                raise BadRequest("The access token is not valid for this LINE Tag.",
                                 status=401)
        elif tag is None:
            raise BadRequest("Unknown tag ID.", [("tagId", "no LINE Tag has this ID")])
        if _rate_limited(tag, len(events)):
            raise BadRequest("Too many events for this LINE Tag; try again in a second.",
                             status=429)
    except BadRequest as exc:
        return _error(exc)
    return JsonResponse({"accepted": store(tag, events)}, status=202)


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
