"""Audiences and accounts: an account's audiences brought into its organization when it is
linked and detached when the link ends, the periodic refresh (expiry, sizes, reachable counts),
and audiences that exist in an account (tracking audiences made through its channel, audiences
synced from LINE)."""

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from lbm.models import Account, AccountLink

from .. import importers, selectors
from ..exceptions import AudienceError
from ..models import (
    Audience,
    AudienceMember,
    AudienceShare,
    IdType,
    LineTagShare,
    LinkSharing,
    SharingMode,
)
from ._base import _check_type, _new_audience, _record, _refresh_reachable, size_snapshot
from .computed import audience_rebuild
from .sharing import _share_everything


@transaction.atomic
def account_sync(*, link_id: int) -> int:
    """Bring every audience of a newly linked account into its organization, then apply the
    share-all setting to the account. Idempotent; return how many audiences were brought in."""
    link = AccountLink.objects.select_related("organization", "account").get(pk=link_id)
    if link.status != AccountLink.Status.APPROVED:
        return 0
    organization, account = link.organization, link.account
    brought = 0
    for audience in (
        Audience.objects.select_for_update()
        .filter(source_account=account)
        .exclude(organization=organization)
    ):
        audience.organization = organization
        _record(audience, actor=None, reason=_("Synced into %(org)s") % {"org": organization.name})
        audience.save(update_fields=["organization", "updated_at"])
        brought += 1
    # The account's own setting, from the organization's default the first time.
    sharing, _created = LinkSharing.objects.get_or_create(
        link=link, defaults={"mode": organization.share_mode}
    )
    if sharing.mode == SharingMode.SHARE_ALL:
        _share_everything(organization, account, None)
    return brought


def audience_refresh(*, audience_id: int) -> Audience:
    """Bring one audience's status, size and reachable counts up to date (idempotent)."""
    with transaction.atomic():
        audience = Audience.objects.select_for_update().get(pk=audience_id)
        now = timezone.now()
        if audience.status != Audience.Status.EXPIRED and audience.expires_at <= now:
            audience.status = Audience.Status.EXPIRED
            _record(audience, actor=None, reason=_("Expired (180 days)"))
            audience.save(update_fields=["status", "updated_at"])
            return audience
        if audience.status == Audience.Status.EXPIRED:
            return audience
    if audience.type in (
        Audience.Type.COMBINED,
        Audience.Type.WEB_TRAFFIC,
        Audience.Type.LOOKALIKE,
    ):
        audience = audience_rebuild(audience_id=audience.pk)
    else:
        size = AudienceMember.objects.filter(audience_id=audience.pk).count()
        if size != audience.size:
            Audience.objects.filter(pk=audience.pk).update(size=size, version=F("version") + 1)
            audience.size = size
            size_snapshot(audience)
    _refresh_reachable(audience.pk)
    return audience


def audiences_reconcile_links() -> None:
    """Accounts unlinked since: their audiences leave the organization and shares to them end."""
    approved = AccountLink.objects.filter(status=AccountLink.Status.APPROVED)
    pairs = set(approved.values_list("organization_id", "account_id"))
    for audience in Audience.objects.filter(
        source_account__isnull=False, organization__isnull=False
    ):
        if (audience.organization_id, audience.source_account_id) not in pairs:
            _record(audience, actor=None, reason=_("Account unlinked"))
            audience.organization = None
            audience.save(update_fields=["organization", "updated_at"])
    for share in AudienceShare.objects.select_related("audience"):
        if (share.audience.organization_id, share.account_id) not in pairs:
            _record(share, actor=None, reason=_("Account unlinked"))
            share.delete()


@transaction.atomic
def account_detach(*, link_id: int) -> int:
    """An account's link ended: its audiences leave the organization and the organization's
    shares to it end. Returns how many rows changed; a second run (or a link that is approved
    again) changes nothing."""
    link = AccountLink.objects.get(pk=link_id)
    if AccountLink.objects.filter(
        account_id=link.account_id,
        organization_id=link.organization_id,
        status=AccountLink.Status.APPROVED,
    ).exists():
        return 0
    changed = 0
    # The account's own audiences leave the organization: their shares to other accounts end.
    for share in AudienceShare.objects.filter(
        audience__source_account_id=link.account_id, audience__organization_id=link.organization_id
    ):
        _record(share, actor=None, reason=_("Account unlinked"))
        share.delete()
        changed += 1
    for audience in Audience.objects.select_for_update().filter(
        source_account_id=link.account_id, organization_id=link.organization_id
    ):
        _record(audience, actor=None, reason=_("Account unlinked"))
        audience.organization = None
        audience.save(update_fields=["organization", "updated_at"])
        changed += 1
    for share in AudienceShare.objects.filter(
        account_id=link.account_id, audience__organization_id=link.organization_id
    ):
        _record(share, actor=None, reason=_("Account unlinked"))
        share.delete()
        changed += 1
    for share in LineTagShare.objects.filter(
        account_id=link.account_id, tag__organization_id=link.organization_id
    ):
        _record(share, actor=None, reason=_("Account unlinked"))
        share.delete()
        changed += 1
    return changed


def audiences_refresh_all() -> int:
    """The periodic job: reconcile links, then refresh every audience that is not expired."""
    audiences_reconcile_links()
    count = 0
    for pk in (
        Audience.objects.exclude(status=Audience.Status.EXPIRED)
        .values_list("pk", flat=True)
        .iterator()
    ):
        audience_refresh(audience_id=pk)
        count += 1
    return count


@transaction.atomic
def audience_create_tracking(
    *, account_id: int, name: str, kind: str, request_id: str, click_url: str = ""
) -> Audience:
    """A click or impression retargeting audience of the users who opened (or clicked
    ``click_url`` in) the messages sent with ``request_id``, created through the account's
    channel. This back office keeps no message-open events, so it starts empty and ready; the
    request it follows is kept with it."""
    account = Account.objects.get(pk=account_id)
    audience_type = {"click": Audience.Type.CLICK, "imp": Audience.Type.IMPRESSION}[kind]
    _check_type(audience_type, account)
    link = AccountLink.objects.filter(account=account, status=AccountLink.Status.APPROVED).first()
    organization = link.organization if link else None
    name = selectors.audience_check_name(
        name=name, organization_id=organization and organization.pk, account_id=account.pk
    )
    if not (request_id or "").strip():
        raise AudienceError(_("The request ID of the message is required."))
    audience = _new_audience(
        organization=organization,
        account=account,
        name=name,
        audience_type=audience_type,
        id_type=IdType.USER_ID,
        actor=None,
        route=Audience.Route.MESSAGING_API,
        description=f"requestId={request_id.strip()}"
        + (f"\nclickUrl={click_url.strip()}" if click_url else ""),
    )
    audience.status = Audience.Status.READY
    audience.save(update_fields=["status", "updated_at"])
    return audience


def account_audience_upsert(
    *,
    account_id: int,
    external_id: int,
    name: str,
    audience_type: str,
    ids,
    id_type: str = "user_id",
    route: str = Audience.Route.OA_MANAGER,
    via_cross_targeting: bool = False,
    from_data_provider: bool = False,
) -> Audience:
    """Record an audience as the account holds it in LINE (``external_id`` is its
    audienceGroupId), replacing its members. Idempotent. The account's organization, if it is
    linked, receives it at once."""
    account = Account.objects.get(pk=account_id)
    _check_type(audience_type, account)
    link = AccountLink.objects.filter(account=account, status=AccountLink.Status.APPROVED).first()
    with transaction.atomic():
        audience = (
            Audience.objects.select_for_update()
            .filter(source_account=account, external_id=external_id)
            .first()
        )
        if audience is None:
            audience = _new_audience(
                organization=link.organization if link else None,
                account=account,
                name=name,
                audience_type=audience_type,
                id_type=id_type,
                actor=None,
                route=route,
                external_id=external_id,
                via_cross_targeting=via_cross_targeting,
                from_data_provider=from_data_provider,
            )
        else:
            AudienceMember.objects.filter(audience_id=audience.pk).delete()
        loaded = importers.load_ids(
            ids, id_type=id_type, audience_id=audience.pk, new_audience=True
        )
        audience.size = loaded.added
        audience.status = Audience.Status.READY
        audience.version += 1
        _record(
            audience,
            actor=None,
            reason=_("Synced from the account (%(count)d members)") % {"count": loaded.count},
        )
        audience.save(update_fields=["size", "status", "version", "updated_at"])
    return audience
