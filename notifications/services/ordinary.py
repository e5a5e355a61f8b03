"""Ordinary (non-LON) pushes: only friends who do not block the account may receive them
(docs/notifications.md#ordinary-pushes)."""

from collections.abc import Iterable

from django.utils.translation import gettext as _

from lbm.models import Account

from ..exceptions import NotAFriend

# --- Ordinary pushes --------------------------------------------------------------------------


def push_check(*, account: Account, user_id: str) -> None:
    """Before an ordinary (non-LON) message to one user: only friends who have not blocked the
    account may receive it (docs/notifications.md#ordinary-pushes). Raises ``NotAFriend``."""
    from audiences.models import Friendship

    state = (Friendship.objects.filter(account_id=account.pk, line_user__user_id=user_id)
             .values_list("state", flat=True).first())
    if state in Friendship.REACHABLE:
        return
    if state in Friendship.BLOCKING:
        raise NotAFriend(_("The user %(user)s blocks this Official Account; only friends may "
                           "receive messages other than notification messages.")
                         % {"user": user_id})
    raise NotAFriend(_("The user %(user)s is not a friend of this Official Account; messages "
                       "other than notification messages may be sent only to friends.")
                     % {"user": user_id})


def push_refusals(*, account_id: int, user_ids: Iterable[str]) -> list[str]:
    """Of ``user_ids``, those an ordinary multicast must not reach (not friends, or blocking),
    in one query."""
    from audiences.models import Friendship

    ids = list(dict.fromkeys(user_ids))
    friends = set(Friendship.objects.filter(account_id=account_id, line_user__user_id__in=ids,
                                            state__in=Friendship.REACHABLE)
                  .values_list("line_user__user_id", flat=True))
    return [uid for uid in ids if uid not in friends]
