"""Narrowcasts to an audience (``POST /v2/bot/message/narrowcast``, docs/api.md#narrowcast):
the recipient, the audience's checks, the 50-recipient minimum, ``limit.max`` and the quota.
The API's view parses the body and the headers, calls ``narrowcast_send`` and shapes LINE's
answer from it or from its ``NarrowcastRefused``."""

import uuid

from django.utils import timezone

from notifications import retry_keys
from notifications.exceptions import NarrowcastRefused
from notifications.models import RetryKey

MIN_NARROWCAST_RECIPIENTS = 50  # usable for sending with at least 50 (docs/api.md#narrowcast)
INT64_MAX = 2**63 - 1  # the widest id or count the database holds (docs/api.md#errors)
MAX_BUBBLES_COUNTED = 3  # per recipient, up to 3 bubbles count as one message


def _audience_id(recipient: dict) -> int:
    audience_id = recipient.get("audienceGroupId")
    if recipient.get("type") != "audience" or not (
        type(audience_id) is int and 0 < audience_id <= INT64_MAX
    ):
        raise NarrowcastRefused(
            "The request has 1 error(s)",
            problems=[
                ("only an audience recipient with its audienceGroupId is supported", "recipient")
            ],
        )
    return audience_id


def _cap(limit: dict | None) -> int | None:
    cap = (limit or {}).get("max")
    if cap is not None and (type(cap) is not int or not 1 <= cap <= INT64_MAX):
        raise NarrowcastRefused(
            "The request has 1 error(s)",
            problems=[("must be greater than or equal to 1", "limit.max")],
        )
    return cap


def narrowcast_send(
    *,
    account_id: int,
    channel_id: int,
    recipient: dict,
    messages: list,
    limit: dict | None = None,
    retry_key: uuid.UUID | None = None,
    request_id: str = "",
):
    """Send ``messages`` to the audience ``recipient`` names, for the channel ``channel_id`` of
    ``account_id``: the audience must be the account's own or shared with it
    (``audiences.selectors.audience_usable_by_channel``) and ready, and reach at least
    ``MIN_NARROWCAST_RECIPIENTS`` friends who have not blocked the account; ``limit.max`` caps
    the recipients. The quota check and the usage record are one locked step per account, run
    once per ``retry_key`` (``notifications.retry_keys.claimed``). Returns the ``UsageRecord``.

    Raises ``NarrowcastRefused`` (nothing recorded) for a rule it breaks, checked in this order;
    ``retry_keys.RetryKeyAccepted`` when the key was accepted before; a ``BillingError`` when
    the account has no plan."""
    from audiences import selectors as audience_selectors
    from audiences.models import Audience
    from billing import services as billing
    from billing.exceptions import QuotaExceeded
    from billing.models import UsageRecord

    audience_id = _audience_id(recipient)
    audience = audience_selectors.audience_by_id(audience_id)
    if audience is None:
        raise NarrowcastRefused(
            "audience group not found",
            problems=[("AUDIENCE_GROUP_NOT_FOUND", "recipient.audienceGroupId")],
        )
    if not audience_selectors.audience_usable_by_channel(account_id=account_id, audience=audience):
        raise NarrowcastRefused("This audience group is not available to this channel.", status=403)
    if audience.status != Audience.Status.READY:
        raise NarrowcastRefused(
            "The audience group is not ready.",
            problems=[(audience.status.upper(), "recipient.audienceGroupId")],
        )
    reachable = audience_selectors.reachable_count(audience=audience, account_id=account_id)
    if reachable < MIN_NARROWCAST_RECIPIENTS:
        raise NarrowcastRefused(
            f"The audience is too small to send to: at least {MIN_NARROWCAST_RECIPIENTS} "
            f"members must be friends of this account who have not blocked it (it has "
            f"{reachable}).",
            problems=[("AUDIENCE_GROUP_AUDIENCE_INSUFFICIENT", "recipient.audienceGroupId")],
        )
    cap = _cap(limit)
    try:
        with retry_keys.claimed(
            channel_id=channel_id,
            key=retry_key,
            endpoint=RetryKey.Endpoint.NARROWCAST,
            request_id=request_id,
        ):
            return billing.usage_send(
                account_id=account_id,
                kind=UsageRecord.Kind.NARROWCAST,
                recipients=reachable,
                cap=cap,
                sent_at=timezone.now(),
                bubbles=min(len(messages), MAX_BUBBLES_COUNTED),
            )
    except QuotaExceeded as exc:
        raise NarrowcastRefused(
            "You have reached your monthly limit.", status=429, problems=[(exc.message, None)]
        ) from exc
