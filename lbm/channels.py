"""Channels and channel access tokens of Official Accounts (LINE Messaging API credentials).

Tokens are random, shown once, and stored only as their SHA-256, so a copy of the database
cannot be replayed against the API. A channel secret must stay usable as an HMAC key (it signs
webhook bodies), so it is stored as issued and never shown in lists or history.
"""

import hashlib
import secrets

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import permissions
from .audit import record_change
from .exceptions import DomainError
from .models import Account, Channel, ChannelAccessToken
from .permissions import Action


# A channel found by its token is cached this long; revoking a token drops its entry at once.
TOKEN_CACHE_SECONDS = 60


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _cache_key(token_hash: str) -> str:
    return f"lbm:token:{token_hash}"


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
    channel = Channel(account=account, channel_id=channel_id,
                      channel_secret=secrets.token_hex(16),
                      bot_user_id="U" + secrets.token_hex(16))
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
    row = ChannelAccessToken(channel=channel, token_hash=_token_hash(token), prefix=token[:8],
                             label=label, created_by=actor)
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
    row.save(update_fields=["revoked_at"])
    transaction.on_commit(lambda: cache.delete(_cache_key(row.token_hash)))
    cache.delete(_cache_key(row.token_hash))
    return row


def channel_for_token(token: str) -> Channel | None:
    """The channel an active token belongs to, or None (unknown or revoked)."""
    if not token:
        return None
    token_hash = _token_hash(token)
    channel = cache.get(_cache_key(token_hash))
    if channel is not None:
        return channel
    row = (ChannelAccessToken.objects.select_related("channel__account")
           .filter(token_hash=token_hash, revoked_at__isnull=True).first())
    if row is None:
        return None
    cache.set(_cache_key(token_hash), row.channel, TOKEN_CACHE_SECONDS)
    return row.channel
