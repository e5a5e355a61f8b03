"""What the audiences admin modules share: the per-request answer to "may this user do
``action`` anywhere?"."""

from lbm import permissions
from lbm.permissions import Action


def _can(request, action: Action) -> bool:
    """``permissions.can(user, action)`` ("anywhere?") once per request: the admin asks it for
    every action, button and link on a page."""
    cache = request.__dict__.setdefault("_audiences_can", {})
    if action not in cache:
        cache[action] = permissions.can(request.user, action)
    return cache[action]
