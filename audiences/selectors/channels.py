"""The Messaging API's reads (api/views_audiences.py, notifications.services.narrowcast): an
audience by id, whether a channel may use it (its own or shared with it), and the audiences
shared with a channel."""

from django.db.models import QuerySet

from ..models import Audience, AudienceShare

# How a channel may use an audience (``audience_usable_by_channel``): its account's own
# audience (made through the API or OA Manager: the source account) or one its organization
# shared with the account (Business Manager, an ``AudienceShare``).
OWN = "own"
SHARED = "shared"


def audience_by_id(audience_id: int, *, with_organization: bool = False) -> Audience | None:
    """The audience with that id, or None."""
    queryset = Audience.objects.filter(pk=audience_id)
    if with_organization:
        queryset = queryset.select_related("organization")
    return queryset.first()


def audience_usable_by_channel(
    *, account_id: int, audience: Audience, via: tuple[str, ...] = (OWN, SHARED)
) -> bool:
    """May the channel of ``account_id`` use ``audience`` in one of the ways ``via`` lists
    (``OWN``, ``SHARED``)? The one rule the API's audience endpoints (own: ``OWN``; shared:
    ``SHARED``) and the narrowcast (either) apply; at most one query
    (docs/api.md#audiences-a-channel-may-use)."""
    if OWN in via and audience.source_account_id == account_id:
        return True
    return (
        SHARED in via
        and AudienceShare.objects.filter(audience_id=audience.pk, account_id=account_id).exists()
    )


def audiences_shared_with(account_id: int, *, include_own: bool = False) -> QuerySet[Audience]:
    """Audiences the account's organization shares with it (Business Manager), and with
    ``include_own`` the account's own audiences as well."""
    shared = AudienceShare.objects.filter(account_id=account_id).values("audience_id")
    if not include_own:
        return Audience.objects.filter(pk__in=shared)
    from django.db.models import Q

    return Audience.objects.filter(Q(pk__in=shared) | Q(source_account_id=account_id))
