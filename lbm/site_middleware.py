"""The admin site's middleware, which requests to the LINE-compatible API pass untouched.

The API authenticates every request by its bearer token and answers JSON in English: sessions,
the session user, messages, the admin's language and the audit trail's request user mean
nothing to it, and running them cost about a tenth of a push's time. (CSRF and frame-options
middleware stay stock for every path: ``check --deploy`` looks for them by name, and the API's
views are CSRF-exempt anyway.)
Each class here is the stock middleware (a subclass, so Django's system checks still find it)
that steps aside when the path is the API's (``api.middleware.API_PREFIXES``). Django's
handler, the test client and the live server all build the same chain from
``settings.MIDDLEWARE``, so tests exercise what gunicorn serves.
"""

from django.contrib.auth.middleware import AuthenticationMiddleware as _Authentication
from django.contrib.messages.middleware import MessageMiddleware as _Messages
from django.contrib.sessions.middleware import SessionMiddleware as _Sessions
from django.middleware.locale import LocaleMiddleware as _Locale
from simple_history.middleware import HistoryRequestMiddleware as _history

from api.middleware import API_PREFIXES

# The health and metrics endpoints (lbm.health, lbm.metrics) are polled every second or so and
# need no session either.
_BYPASS = (*API_PREFIXES, "/-/")


def _is_api(request) -> bool:
    return request.path_info.startswith(_BYPASS)


def site_only(base: type) -> type:
    """``base``, a ``MiddlewareMixin`` middleware, stepping aside for API requests. Only
    ``__call__`` can step aside: a middleware with view or exception hooks (Django's handler
    calls those itself) is refused rather than half-skipped."""
    for hook in ("process_view", "process_exception", "process_template_response"):
        if hasattr(base, hook):
            raise TypeError(f"{base.__name__}.{hook} would still run for API requests")

    class SiteOnly(base):
        sync_capable, async_capable = True, False  # served by WSGI only

        def __call__(self, request):
            if _is_api(request):
                return self.get_response(request)
            return super().__call__(request)

    SiteOnly.__name__ = SiteOnly.__qualname__ = base.__name__
    SiteOnly.__doc__ = f"{base.__module__}.{base.__name__}, for the admin site only."
    return SiteOnly


SessionMiddleware = site_only(_Sessions)
LocaleMiddleware = site_only(_Locale)
AuthenticationMiddleware = site_only(_Authentication)
MessageMiddleware = site_only(_Messages)


def HistoryRequestMiddleware(get_response):  # noqa: N802 (a middleware factory, named as one)
    """simple_history's request middleware (the signed-in user on audit rows), for the admin
    site only: an API request is made by a channel, not a person, so its audit rows name no
    user unless a service passes one (``lbm.audit``)."""
    site = _history(get_response)

    def middleware(request):
        if _is_api(request):
            return get_response(request)
        return site(request)

    return middleware
