"""Sharing organization audiences and LINE Tags to linked accounts, by hand or by each link's
share-all setting (docs/audiences.md). Which rules stop a share is a read:
``selectors.share_problems``."""

from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from lbm import permissions
from lbm.models import Account, AccountLink, Organization
from lbm.permissions import Action

from .. import selectors
from ..exceptions import SharingRefused
from ..models import Audience, AudienceShare, LineTag, LineTagShare, LinkSharing, SharingMode
from ._base import _record


@dataclass
class ShareResult:
    shared: list[AudienceShare] = field(default_factory=list)
    skipped: list[tuple[Account, str]] = field(default_factory=list)


def _share(audience: Audience, account: Account, actor) -> AudienceShare:
    share = AudienceShare.objects.filter(audience=audience, account=account).first()
    if share is not None:
        return share
    share = AudienceShare(audience=audience, account=account, shared_by=actor)
    _record(share, actor=actor, reason=_("Shared"))
    share.reachable_size = selectors.reachable_count(audience=audience, account_id=account.pk)
    share.reachable_computed_at = timezone.now()
    share.save()
    return share


@transaction.atomic
def audience_share(
    *, actor, audience_id: int, account_ids: list[int] | None = None, check_rights: bool = True
) -> ShareResult:
    """Share to the chosen linked accounts (every rule must pass for each, or nothing is
    shared), or with ``account_ids=None`` to every linked account that the rules allow (the
    others are returned as skipped). Sharing an already shared audience changes nothing."""
    audience = (
        Audience.objects.select_for_update(of=("self",))
        .select_related("organization")
        .get(pk=audience_id)
    )
    if check_rights:
        permissions.require(actor, Action.SHARE_AUDIENCES, audience)
    if audience.organization_id is None:
        raise SharingRefused(_("This audience does not belong to an organization."))
    if not audience.shareable:
        raise SharingRefused(
            _("This audience cannot be shared."),
            details=selectors.share_problems(audience, Account(kind="lap")),
        )
    linked = set(selectors.linked_account_ids(audience.organization_id))
    linked.discard(audience.source_account_id)  # it is that account's own audience already
    result = ShareResult()
    if account_ids is None:
        for account in Account.objects.filter(pk__in=linked).order_by("pk"):
            problems = selectors.share_problems(audience, account)
            if problems:
                result.skipped.append((account, " ".join(problems)))
            else:
                result.shared.append(_share(audience, account, actor))
        return result
    accounts = list(Account.objects.filter(pk__in=account_ids).order_by("pk"))
    problems = []
    for account in accounts:
        if account.pk == audience.source_account_id:
            problems.append(
                _("%(account)s: the audience comes from this account.") % {"account": account.name}
            )
        elif account.pk not in linked:
            problems.append(
                _("%(account)s is not linked to the organization.") % {"account": account.name}
            )
        else:
            problems.extend(selectors.share_problems(audience, account))
    if not accounts:
        problems.append(_("Choose at least one linked account."))
    if problems:
        raise SharingRefused(_("The audience was not shared."), details=problems)
    result.shared = [_share(audience, account, actor) for account in accounts]
    return result


@transaction.atomic
def audience_unshare(*, actor, audience_id: int, account_id: int) -> None:
    audience = Audience.objects.select_for_update().get(pk=audience_id)
    permissions.require(actor, Action.SHARE_AUDIENCES, audience)
    share = AudienceShare.objects.filter(audience=audience, account_id=account_id).first()
    if share is None:
        return
    _record(share, actor=actor, reason=_("Unshared"))
    share.delete()


def resource_share_to_share_all_accounts(resource: Audience | LineTag) -> None:
    """Share a new organization audience or LINE Tag to each linked account set to share all;
    an account a sharing rule excludes is skipped (the share page names the rule)."""
    account_ids = selectors.share_all_account_ids(resource.organization_id)
    if isinstance(resource, LineTag):
        for account_id in account_ids:
            _tag_share(resource, account_id, resource.created_by)
        return
    if not resource.shareable:
        return
    for account in Account.objects.filter(pk__in=account_ids).order_by("pk"):
        if account.pk != resource.source_account_id and not selectors.share_problems(
            resource, account
        ):
            _share(resource, account, resource.created_by)


def _share_everything(organization: Organization, account: Account, actor) -> None:
    """Every organization audience the rules allow and every LINE Tag, to ``account``."""
    for audience in Audience.objects.filter(
        organization=organization,
        source_account__isnull=True,
        status=Audience.Status.READY,
        via_cross_targeting=False,
        from_data_provider=False,
    ):
        if not selectors.share_problems(audience, account):
            _share(audience, account, actor)
    for tag in LineTag.objects.filter(organization=organization):
        _tag_share(tag, account.pk, actor)


@transaction.atomic
def link_sharing_set(*, actor, link_id: int, mode: str, reason: str = "") -> LinkSharing:
    """Set how one linked account receives the organization's resources (Admins and
    Operators). ``share_all`` shares everything the rules allow now and every resource created
    later; ``share_selected`` stops that (shares already made stay; unshare them one by one).
    Recorded in the setting's history; setting the current mode changes nothing."""
    link = AccountLink.objects.select_related("organization", "account").get(pk=link_id)
    permissions.require(actor, Action.SHARE_AUDIENCES, link.organization)
    if link.status != AccountLink.Status.APPROVED:
        raise SharingRefused(_("Only a linked account has a sharing setting."))
    if mode not in SharingMode.values:
        raise SharingRefused(_("Choose share all or share selected."))
    sharing = LinkSharing.objects.select_for_update().filter(link=link).first() or LinkSharing(
        link=link
    )
    if sharing.pk and sharing.mode == mode:
        return sharing
    sharing.mode = mode
    sharing.changed_by = actor
    sharing.changed_at = timezone.now()
    _record(
        sharing,
        actor=actor,
        reason=reason or _("Sharing set to: %(mode)s") % {"mode": sharing.get_mode_display()},
    )
    sharing.save()
    if mode == SharingMode.SHARE_ALL:
        _share_everything(link.organization, link.account, actor)
    return sharing


def _tag_share(tag: LineTag, account_id: int, actor) -> None:
    if LineTagShare.objects.filter(tag=tag, account_id=account_id).exists():
        return
    share = LineTagShare(tag=tag, account_id=account_id, shared_by=actor)
    _record(share, actor=actor, reason=_("Shared"))
    share.save()
