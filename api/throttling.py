"""Per-channel rate limits kept in the cache (Redis in production): a fixed one-second or
one-minute window counted with an atomic increment, so the check costs two cache round trips
whatever the rate (DRF's stock throttles keep a list of every request time instead)."""

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60}


def parse_rate(rate: str) -> tuple[int, int]:
    count, _sep, period = rate.partition("/")
    return int(count), PERIODS[period]


class ChannelRateThrottle(BaseThrottle):
    """Limits requests per channel and scope; the view sets ``throttle_scope``."""

    def allow_request(self, request, view) -> bool:
        scope = getattr(view, "throttle_scope", None)
        channel = getattr(request, "auth", None)
        if scope is None or channel is None:
            return True
        limit, period = parse_rate(settings.LBM_API_RATE_LIMITS[scope])
        window = int(time.time() // period)
        key = f"lbm:rl:{scope}:{channel.pk}:{period}:{window}"
        cache.add(key, 0, timeout=period * 2)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=period * 2)
            count = 1
        self._retry_after = period - (time.time() % period)
        return count <= limit

    def wait(self):
        return getattr(self, "_retry_after", None)
