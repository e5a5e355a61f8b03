"""Channels and channel access tokens of Official Accounts (LINE Messaging API credentials).

Tokens are random, shown once, and stored only as their SHA-256, so a copy of the database
cannot be replayed against the API. A channel secret must stay usable as an HMAC key (it signs
webhook bodies), so it is stored as issued and never shown in lists or history.
"""

import hashlib
import secrets
import time
from dataclasses import dataclass, replace

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import generations, permissions
from .audit import record_change
from .exceptions import DomainError
from .models import Account, Channel, ChannelAccessToken
from .permissions import Action

# Which account a token belongs to never changes, so workers remember it (bounded); whether
# the token is still live is part of the account's stamped channel entry (lbm.generations).
_token_accounts: dict[str, int] = {}
_TOKEN_MEMORY = 100_000
# A token's "last used" time is written at most this often per worker.
LAST_USED_EVERY = 60.0
_last_used_written: dict[str, float] = {}


@dataclass(frozen=True)
class ChannelEntry:
    channel: Channel  # with its account loaded
    live_tokens: frozenset[str]  # hashes of the channel's unrevoked tokens
    stamp: tuple[int, int]
    count: int | None = None  # see channel_entry_for_token


_channel_cache = generations.StampedCache("channels")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@transaction.atomic
def channel_ensure(*, account: Account, actor=None) -> Channel:
    """The account's channel, created with a fresh secret on first use (Official Accounts only)."""
    if account.kind != Account.Kind.OFFICIAL_ACCOUNT:
        raise DomainError(_("Only an Official Account has a Messaging API channel."))
    channel = Channel.objects.filter(account=account).first()
    if channel is not None:
        return channel
    while True:
        channel_id = str(1_000_000_000 + secrets.randbelow(9_000_000_000))
        if not Channel.objects.filter(channel_id=channel_id).exists():
            break
    channel = Channel(
        account=account,
        channel_id=channel_id,
        channel_secret=secrets.token_hex(16),
        bot_user_id="U" + secrets.token_hex(16),
    )
    record_change(channel, actor=actor, reason=_("Channel created"))
    channel.save()
    return channel


@transaction.atomic
def token_issue(*, account: Account, actor=None, label: str = "") -> tuple[ChannelAccessToken, str]:
    """Issue a channel access token; returns the row and the token, which is never shown again."""
    if actor is not None:
        permissions.require(actor, Action.MANAGE_ACCOUNTS)
    channel = channel_ensure(account=account, actor=actor)
    token = secrets.token_urlsafe(48)
    row = ChannelAccessToken(
        channel=channel,
        token_hash=_token_hash(token),
        prefix=token[:8],
        label=label,
        created_by=actor,
    )
    record_change(row, actor=actor, reason=_("Token issued"))
    row.save()
    return row, token


@transaction.atomic
def token_revoke(*, token_id: int, actor) -> ChannelAccessToken:
    permissions.require(actor, Action.MANAGE_ACCOUNTS)
    row = ChannelAccessToken.objects.select_for_update().get(pk=token_id)
    if row.revoked_at is not None:
        return row
    row.revoked_at = timezone.now()
    record_change(row, actor=actor, reason=_("Token revoked"))
    row.save(update_fields=["revoked_at"])  # the save bumps the account's stamp
    return row


def _load_channel(account_id: int, stamp: tuple[int, int]) -> ChannelEntry | None:
    channel = Channel.objects.select_related("account").filter(account_id=account_id).first()
    if channel is None:
        return None
    live = ChannelAccessToken.objects.filter(channel=channel, revoked_at__isnull=True)
    return ChannelEntry(channel, frozenset(live.values_list("token_hash", flat=True)), stamp)


def channel_entry_for_token(token: str, *, count=None) -> ChannelEntry | None:
    """The channel (with its account and generation stamp) an active token belongs to, or
    None (unknown or revoked). Costs one cache round trip when the worker knows the account.

    ``count``: a function of the account id giving ``(counter key, seconds)``; that counter is
    incremented in the same round trip and its value set on the entry (the API's rate limit)."""
    if not token:
        return None
    token_hash = _token_hash(token)
    account_id = _token_accounts.get(token_hash)
    if account_id is None:
        account_id = (
            ChannelAccessToken.objects.filter(token_hash=token_hash)
            .values_list("channel__account_id", flat=True)
            .first()
        )
        if account_id is None:
            return None
        if len(_token_accounts) >= _TOKEN_MEMORY:
            _token_accounts.clear()
        _token_accounts[token_hash] = account_id
    counted = None
    if count is None:
        stamp = generations.read(account_id)
    else:
        stamp, counted = generations.read(account_id, count=count(account_id))
    entry = _channel_cache.get(account_id, stamp, lambda pk: _load_channel(pk, stamp))
    if entry is None or token_hash not in entry.live_tokens:
        return None
    _note_use(token_hash)
    return entry if counted is None else replace(entry, count=counted)


def _note_use(token_hash: str) -> None:
    now = time.monotonic()
    if now - _last_used_written.get(token_hash, -LAST_USED_EVERY) < LAST_USED_EVERY:
        return
    _last_used_written[token_hash] = now
    # A plain UPDATE: the time of use is not a change anyone reviews (no history, no stamp).
    ChannelAccessToken.objects.filter(token_hash=token_hash).update(last_used_at=timezone.now())


def channel_for_token(token: str) -> Channel | None:
    """The channel an active token belongs to, or None (unknown or revoked)."""
    entry = channel_entry_for_token(token)
    return entry.channel if entry else None
