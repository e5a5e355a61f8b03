"""LINE Tags: creating one, its server-to-server token, sharing it, and the upkeep of its events
and of the web-traffic audiences built from them (docs/audiences.md#line-tag)."""

import uuid

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from lbm import permissions
from lbm.models import Organization
from lbm.permissions import Action

from .. import selectors
from ..exceptions import AudienceError, SharingRefused
from ..models import Audience, LineTag, LineTagShare, TagEvent
from ..signals import resource_created
from ._base import _record, _refresh_reachable
from .computed import audience_rebuild
from .sharing import _tag_share


@transaction.atomic
def line_tag_create(*, actor, organization_id: int, name: str, tag_id: str = "") -> LineTag:
    organization = Organization.objects.get(pk=organization_id)
    permissions.require(actor, Action.CREATE_AUDIENCES, organization)
    name = (name or "").strip()
    if not name:
        raise AudienceError(_("A LINE Tag needs a name."))
    if LineTag.objects.filter(organization=organization, name__iexact=name).exists():
        raise AudienceError(_("A LINE Tag named “%(name)s” already exists.") % {"name": name})
    tag = LineTag(
        organization=organization, name=name, tag_id=tag_id or uuid.uuid4().hex, created_by=actor
    )
    _record(tag, actor=actor, reason=_("Created"))
    tag.save()
    resource_created.send(sender=LineTag, instance=tag)
    return tag


@transaction.atomic
def line_tag_issue_token(*, actor, tag_id: int) -> str:
    """A new server-to-server access token for the tag, returned once; only its SHA-256 is
    kept, and the previous token stops working."""
    import secrets

    from ..intake import token_hash

    tag = LineTag.objects.select_for_update().get(pk=tag_id)
    permissions.require(actor, Action.CREATE_AUDIENCES, tag)
    token = secrets.token_urlsafe(32)
    tag.token_hash = token_hash(token)
    tag.token_issued_at = timezone.now()
    _record(tag, actor=actor, reason=_("Access token issued"))
    tag.save(update_fields=["token_hash", "token_issued_at"])
    return token


def tag_events_purge(now=None) -> int:
    """Delete LINE Tag events older than the retention (180 days); one DELETE."""
    from ..models import EVENT_RETENTION

    cutoff = (now or timezone.now()) - EVENT_RETENTION
    deleted, _by_model = TagEvent.objects.filter(occurred_at__lt=cutoff).delete()
    return deleted


def web_traffic_recompute_all() -> int:
    """Recompute every live web-traffic audience from the events (each in the database)."""
    ids = list(
        Audience.objects.filter(type=Audience.Type.WEB_TRAFFIC, line_tag__isnull=False)
        .exclude(status=Audience.Status.EXPIRED)
        .values_list("pk", flat=True)
    )
    for pk in ids:
        audience_rebuild(audience_id=pk)
        _refresh_reachable(pk)
    return len(ids)


@transaction.atomic
def line_tag_share(*, actor, tag_id: int, account_ids: list[int] | None = None) -> int:
    """Share a LINE Tag to the chosen linked accounts (or all); return how many shares exist."""
    tag = LineTag.objects.select_for_update().get(pk=tag_id)
    permissions.require(actor, Action.SHARE_AUDIENCES, tag)
    linked = set(selectors.linked_account_ids(tag.organization_id))
    chosen = linked if account_ids is None else set(account_ids)
    if not chosen <= linked:
        raise SharingRefused(
            _("A LINE Tag can be shared only to accounts linked to the organization.")
        )
    for account_id in sorted(chosen):
        _tag_share(tag, account_id, actor)
    return LineTagShare.objects.filter(tag=tag).count()


@transaction.atomic
def line_tag_unshare(*, actor, tag_id: int, account_id: int) -> None:
    tag = LineTag.objects.select_for_update().get(pk=tag_id)
    permissions.require(actor, Action.SHARE_AUDIENCES, tag)
    share = LineTagShare.objects.filter(tag=tag, account_id=account_id).first()
    if share is not None:
        _record(share, actor=actor, reason=_("Unshared"))
        share.delete()
