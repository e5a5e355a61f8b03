"""Paths of the LINE-compatible API and of the LINE Tag intake (``/tag/``). Their
``X-Line-Request-Id`` is set, with the request log line and metrics, by
``lbm.observability.RequestObserverMiddleware``."""

API_PREFIXES = ("/v2/bot/", "/bot/", "/tag/")


class LineErrorMiddleware:
    """Second in the chain, right inside the request observer (which then logs and counts the
    final status): on an API path, a failure Django answered with its own page (an exception
    in a later middleware, a suspicious request, ``DEBUG``'s technical page) answers LINE's JSON
    body instead, 503 with ``Retry-After`` when a dependency is out of reach
    (docs/api.md#errors). Other paths pass untouched."""

    def __init__(self, get_response):
        from django.core.signals import got_request_exception

        from . import errors

        got_request_exception.connect(
            errors.remember_exception, dispatch_uid="api.errors.remember_exception"
        )
        self.errors = errors
        self.get_response = get_response

    def __call__(self, request):
        if not request.path_info.startswith(API_PREFIXES):
            return self.get_response(request)
        response = self.get_response(request)
        if response.status_code >= 400 and not self.errors.is_line_json(response):
            exc = getattr(request, "lbm_exception", None)
            replacement = self.errors.line_response_for(response.status_code, exc)
            for name in ("Retry-After", "WWW-Authenticate", "Allow"):
                if name in response and name not in replacement:
                    replacement[name] = response[name]
            return replacement
        return response
