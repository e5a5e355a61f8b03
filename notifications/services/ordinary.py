"""Ordinary (non-LON) pushes: only friends who do not block the account may receive them
(docs/notifications.md#ordinary-pushes)."""

from collections.abc import Iterable

from ..selectors import push_check  # noqa: F401  (a read; importable from here as before)

# --- Ordinary pushes --------------------------------------------------------------------------


def push_refusals(*, account_id: int, user_ids: Iterable[str]) -> list[str]:
    """Of ``user_ids``, those an ordinary multicast must not reach (not friends, or blocking),
    in one query."""
    from audiences.models import Friendship

    ids = list(dict.fromkeys(user_ids))
    friends = set(
        Friendship.objects.filter(
            account_id=account_id, line_user__user_id__in=ids, state__in=Friendship.REACHABLE
        ).values_list("line_user__user_id", flat=True)
    )
    return [uid for uid in ids if uid not in friends]
