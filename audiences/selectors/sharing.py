"""Where an audience may be used and shared: its usages on an account kind, why a share is
refused, the accounts that share all, and what unsharing or unlinking stops (the confirmation
pages)."""

from django.utils.translation import gettext as _

from lbm.models import Account, AccountLink

from ..models import (
    MIN_SIZE_TO_SHARE_TO_OA,
    Audience,
    AudienceComponent,
    AudienceShare,
    LineTagShare,
    SharingMode,
    usages,
)
from .sizes import insight_number


def linked_account_ids(organization_id: int) -> list[int]:
    return list(
        AccountLink.objects.filter(
            organization_id=organization_id, status=AccountLink.Status.APPROVED
        ).values_list("account_id", flat=True)
    )


def audience_usages(audience: Audience, account_kind: str, _seen=None) -> tuple[str, ...]:
    """What ``audience`` may be used for on an account of ``account_kind``: its type's row of
    the usage table (docs/audiences.md#where-each-audience-may-be-used); for a combined audience,
    only what every audience it is built from allows (a combination never carries a LAP-only
    audience to an Official Account)."""
    allowed = usages(audience.type, account_kind)
    if audience.type != Audience.Type.COMBINED or not allowed:
        return allowed
    seen = (_seen or set()) | {audience.pk}
    components = Audience.objects.filter(
        pk__in=AudienceComponent.objects.filter(combined_id=audience.pk).values("component_id")
    ).exclude(pk__in=seen)
    for component in components:
        theirs = set(audience_usages(component, account_kind, seen))
        allowed = tuple(u for u in allowed if u in theirs)
    return allowed


def share_problems(audience: Audience, account: Account) -> list[str]:
    """Why ``audience`` may not be shared to ``account`` (empty when it may)."""
    problems = []
    if audience.via_cross_targeting:
        problems.append(_("Audiences received through Cross Targeting cannot be shared again."))
    if audience.from_data_provider:
        problems.append(_("Audiences supplied by a data provider cannot be shared."))
    if not audience_usages(audience, account.kind):
        problems.append(
            _("%(type)s audiences cannot be used on %(kind)s accounts (%(account)s).")
            % {
                "type": audience.get_type_display(),
                "kind": account.get_kind_display(),
                "account": account.name,
            }
            + " "
            + _usage_reason(audience, account)
        )
    if audience.status != Audience.Status.READY:
        problems.append(
            _("Only a ready audience can be shared (this one is %(status)s).")
            % {"status": audience.get_status_display()}
        )
    if account.kind == Account.Kind.OFFICIAL_ACCOUNT and audience.size < MIN_SIZE_TO_SHARE_TO_OA:
        problems.append(
            _(
                "An audience needs at least %(min)d members to be shared to an "
                "Official Account (%(account)s); this one has %(size)d."
            )
            % {"min": MIN_SIZE_TO_SHARE_TO_OA, "account": account.name, "size": audience.size}
        )
    return problems


def _usage_reason(audience: Audience, account: Account) -> str:
    """Why the usage table leaves ``audience`` no use on ``account`` (docs/audiences.md)."""
    if account.kind not in (Account.Kind.LAP, Account.Kind.OFFICIAL_ACCOUNT):
        return _("Shared audiences are used only on LAP ad accounts and Official Accounts.")
    if audience.type == Audience.Type.COMBINED:
        return _(
            "A combined audience may be used only where every audience it is built from "
            "may be used."
        )
    return _("%(type)s audiences are for LAP ad accounts only.") % {
        "type": audience.get_type_display()
    }


def share_all_account_ids(organization_id: int) -> list[int]:
    """Linked accounts of the organization set to share all (a link without its own setting
    yet follows the organization's default)."""
    from django.db.models import Q

    return list(
        AccountLink.objects.filter(
            organization_id=organization_id, status=AccountLink.Status.APPROVED
        )
        .filter(
            Q(sharing__mode=SharingMode.SHARE_ALL)
            | Q(sharing__isnull=True, organization__share_mode=SharingMode.SHARE_ALL)
        )
        .values_list("account_id", flat=True)
    )


def link_sharing_mode(link: AccountLink) -> str:
    try:
        return link.sharing.mode
    except AccountLink.sharing.RelatedObjectDoesNotExist:
        return link.organization.share_mode


# --- What will stop (the confirmation pages) ---------------------------------------------------


def unshare_consequences(audiences, account_ids) -> list[dict]:
    """What unsharing ``audiences`` from the accounts ``account_ids`` ends: for each existing
    share, the audience, the account (where it disappears), its reachable count as insight may
    show it, and the lookalike audiences made from it there, which stop being recomputed."""
    shares = (
        AudienceShare.objects.filter(audience__in=audiences, account_id__in=account_ids)
        .select_related("audience", "account")
        .order_by("audience__name", "account__name")
    )
    rows = []
    for share in shares:
        lookalikes = list(
            Audience.objects.filter(
                lookalike_source=share.audience, source_account_id=share.account_id
            ).values_list("name", flat=True)
        )
        rows.append(
            {
                "audience": share.audience,
                "account": share.account,
                "reachable": insight_number(share.reachable_size),
                "lookalikes": lookalikes,
            }
        )
    return rows


def unlink_consequences(link: AccountLink) -> dict:
    """What ending an approved link stops: the organization's audiences and LINE Tags shared
    to the account (they disappear from it), the account's own audiences (they leave the
    organization) and their shares to other accounts (they disappear from those)."""
    if link.status != AccountLink.Status.APPROVED:
        return {"shares": [], "tag_shares": [], "own_audiences": [], "own_shares": []}
    org, account = link.organization_id, link.account_id
    return {
        "shares": list(
            AudienceShare.objects.filter(account_id=account, audience__organization_id=org)
            .select_related("audience")
            .order_by("audience__name")
        ),
        "tag_shares": list(
            LineTagShare.objects.filter(account_id=account, tag__organization_id=org)
            .select_related("tag")
            .order_by("tag__name")
        ),
        "own_audiences": list(
            Audience.objects.filter(source_account_id=account, organization_id=org).order_by("name")
        ),
        "own_shares": list(
            AudienceShare.objects.filter(
                audience__source_account_id=account, audience__organization_id=org
            )
            .select_related("audience", "account")
            .order_by("audience__name", "account__name")
        ),
    }


def unlink_consequence_lines(links) -> list[str]:
    """``unlink_consequences`` of each link as sentences for the unlink confirmation page."""
    from django.utils.translation import gettext as _

    lines = []
    for link in links:
        found = unlink_consequences(link)
        name = link.account.name
        for share in found["shares"]:
            lines.append(
                _("The audience “%(audience)s” disappears from %(account)s.")
                % {"audience": share.audience.name, "account": name}
            )
        for share in found["tag_shares"]:
            lines.append(
                _("The LINE Tag “%(tag)s” is no longer shared with %(account)s.")
                % {"tag": share.tag.name, "account": name}
            )
        for audience in found["own_audiences"]:
            lines.append(
                _("%(account)s's audience “%(audience)s” leaves the organization.")
                % {"audience": audience.name, "account": name}
            )
        for share in found["own_shares"]:
            lines.append(
                _("The share of “%(audience)s” to %(other)s ends (it disappears from %(other)s).")
                % {"audience": share.audience.name, "other": share.account.name}
            )
    return lines
