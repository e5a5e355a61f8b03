"""Paths of the LINE-compatible API and of the LINE Tag intake (``/tag/``). Their
``X-Line-Request-Id`` is set, with the request log line and metrics, by
``lbm.observability.RequestObserverMiddleware``."""

API_PREFIXES = ("/v2/bot/", "/bot/", "/tag/")
