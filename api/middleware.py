"""Paths of the LINE-compatible API. Their ``X-Line-Request-Id`` is set, with the request log
line and metrics, by ``lbm.observability.RequestObserverMiddleware``."""

API_PREFIXES = ("/v2/bot/", "/bot/")
