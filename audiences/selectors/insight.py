"""Insight (docs/audiences.md): how two audiences overlap, an audience's recorded sizes, and its
reachable part on each linked account, every number shown as ``insight_number`` allows."""

from lbm import permissions
from lbm.models import Account
from lbm.permissions import Action

from ..models import (
    MIN_REACHABLE_TO_SEND,
    MIN_SIZE_TO_SHARE_TO_OA,
    Audience,
    AudienceMember,
    AudienceShare,
    AudienceSizeSnapshot,
)
from .sharing import audience_usages, linked_account_ids
from .sizes import insight_number, matched_users, reachable_count


def audience_overlap(user, first: Audience, second: Audience) -> dict[str, int | None]:
    """How two audiences of the same organization overlap: members in both, in the first only
    and in the second only, counted in the database (three COUNTs over the member index).
    Audiences of the same ID type are compared by identifier, others through the LINE users
    they identify. Admins and Operators only (``SHARE_AUDIENCES``); counts under 50 are
    ``None``."""
    for audience in (first, second):
        permissions.require(user, Action.SHARE_AUDIENCES, audience)
    if first.organization_id != second.organization_id:
        raise permissions.NotAllowed("Both audiences must belong to the same organization.")
    if first.id_type == second.id_type:
        a = AudienceMember.objects.filter(audience_id=first.pk).values("identifier")
        b = AudienceMember.objects.filter(audience_id=second.pk).values("identifier")
        a_total, b_total = a.count(), b.count()
        both = a.filter(identifier__in=b).count()
    else:
        a, b = matched_users(first), matched_users(second)
        a_total, b_total = a.count(), b.count()
        both = a.filter(pk__in=b.values("pk")).count()
    return {
        "both": insight_number(both),
        "first_only": insight_number(a_total - both),
        "second_only": insight_number(b_total - both),
    }


def size_history(audience: Audience) -> list[dict]:
    """The audience's recorded sizes, oldest first, each as insight may show it (``None``
    under 50)."""
    return [
        {"at": at, "size": insight_number(size)}
        for at, size in AudienceSizeSnapshot.objects.filter(audience_id=audience.pk)
        .order_by("recorded_at", "pk")
        .values_list("recorded_at", "size")
    ]


def reachable_by_account(user, audience: Audience) -> list[dict]:
    """For each account linked to the audience's organization (other than its own), the
    audience's reachable part there (friends who have not blocked the account), counted now
    in the database, as insight may show it, with the thresholds it meets: 50 to send a
    message, 100 (of the audience's size) to be shared to an Official Account. Admins and
    Operators only."""

    permissions.require(user, Action.SHARE_AUDIENCES, audience)
    if audience.organization_id is None:
        return []
    shared = set(
        AudienceShare.objects.filter(audience=audience).values_list("account_id", flat=True)
    )
    rows = []
    for account in (
        Account.objects.filter(pk__in=linked_account_ids(audience.organization_id))
        .exclude(pk=audience.source_account_id)
        .order_by("name")
    ):
        count = reachable_count(audience=audience, account_id=account.pk)
        rows.append(
            {
                "account": account,
                "reachable": insight_number(count),
                "shared": account.pk in shared,
                "can_send": count >= MIN_REACHABLE_TO_SEND,
                "meets_100": count >= MIN_SIZE_TO_SHARE_TO_OA,
                "usages": audience_usages(audience, account.kind),
            }
        )
    return rows
