"""Sizes: the LINE users an audience's members identify, how many a message reaches on an
account, lookalike sources and sizes, and how insight may show a number (``INSIGHT_MINIMUM``)."""

from django.db.models import QuerySet

from ..models import Audience, AudienceMember, AudienceShare, Friendship, IdType, LineUser

# Which LineUser column a member identifier of each type matches.
DIRECTORY_FIELD = {
    IdType.USER_ID: "user_id",
    IdType.IFA: "ifa",
    IdType.PHONE: "phone_hash",
    IdType.EMAIL: "email_hash",
}


def matched_users(audience: Audience) -> QuerySet[LineUser]:
    """The LINE users the audience's members identify."""
    members = AudienceMember.objects.filter(audience_id=audience.pk).values("identifier")
    return LineUser.objects.filter(**{f"{DIRECTORY_FIELD[audience.id_type]}__in": members})


def reachable_count(*, audience: Audience, account_id: int) -> int:
    """Members who are friends of the account and have not blocked it (the intersection that a
    message sent with this audience reaches; docs/audiences.md). One query."""
    return Friendship.objects.filter(
        account_id=account_id,
        state__in=Friendship.REACHABLE,
        line_user__in=matched_users(audience),
    ).count()


def lookalike_source_available(audience: Audience) -> bool:
    """The source is the LAP account's own audience or shared to it, ready, in the same
    organization."""
    source = audience.lookalike_source
    if source is None or source.status != Audience.Status.READY:
        return False
    if source.organization_id is None or source.organization_id != audience.organization_id:
        return False
    return (
        source.source_account_id == audience.source_account_id
        or AudienceShare.objects.filter(
            audience=source, account_id=audience.source_account_id
        ).exists()
    )


def lookalike_target_size(*, account_id: int, percent: int) -> int:
    """``percent`` % of the account's reachable users (friends who have not blocked it),
    rounded down."""
    reachable = Friendship.objects.filter(
        account_id=account_id, state__in=Friendship.REACHABLE
    ).count()
    return reachable * percent // 100


# Insight never shows a number below this exactly, so that no figure singles out a person.
INSIGHT_MINIMUM = 50


def insight_number(count: int) -> int | None:
    """``count`` as insight may show it: ``None`` (shown as "under 50") below the minimum."""
    return count if count >= INSIGHT_MINIMUM else None
