"""Per-channel rate limits kept in the cache (Redis in production): a fixed one-second or
one-minute window counted with an atomic increment. The count travels in the same Redis round
trip as the token check (``ChannelTokenAuthentication`` asks for it, see ``window``); a view
without a scope, or a request the authenticator did not count, is counted here. DRF's stock
throttles keep a list of every request time instead."""

import time

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from lbm import generations

PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60}


def parse_rate(rate: str) -> tuple[int, int]:
    count, _sep, period = rate.partition("/")
    return int(count), PERIODS[period]


def window(scope: str, account_id: int, now: float | None = None) -> tuple[str, int]:
    """``(counter key, seconds to keep it)`` of the current window of ``scope`` for a channel
    (one channel per account, so the account id names it)."""
    _limit, period = parse_rate(settings.LBM_API_RATE_LIMITS[scope])
    current = int((time.time() if now is None else now) // period)
    return f"lbm:rl:{scope}:{account_id}:{period}:{current}", period * 2


class ChannelRateThrottle(BaseThrottle):
    """Limits requests per channel and scope; the view sets ``throttle_scope``."""

    def allow_request(self, request, view) -> bool:
        scope = getattr(view, "throttle_scope", None)
        channel = getattr(request, "auth", None)
        if scope is None or channel is None:
            return True
        limit, period = parse_rate(settings.LBM_API_RATE_LIMITS[scope])
        now = time.time()
        counted = getattr(request.user, "counted", None)
        if counted is not None and counted[0] == scope:
            count = counted[1]
        else:
            count = generations.add_one(*window(scope, channel.account_id, now))
        self._retry_after = period - (now % period)
        return count <= limit

    def wait(self):
        return getattr(self, "_retry_after", None)
