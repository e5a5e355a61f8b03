"""The admin site's 403, 404 and 500 pages (docs/language.md#error-pages): in the admin's look and
the visitor's language, with a way back to the list the visitor came from and to the admin index.
The LINE-compatible API answers its own JSON errors (api.errors); a path of the API that still
ends here gets LINE's JSON body, not a page."""

import logging

from django.contrib import admin
from django.http import HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext

from api.middleware import API_PREFIXES

logger = logging.getLogger(__name__)


def _is_api(request) -> bool:
    return request.path_info.startswith(API_PREFIXES)


def _came_from(request):
    """(url, label) of the admin list the refused or missing page belongs to, when the visitor may
    see that list; else ``None``."""
    path = request.path_info
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        try:
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        except NoReverseMatch:
            continue
        if path.startswith(url) and path != url:
            try:
                allowed = model_admin.has_view_or_change_permission(request)
            except Exception:  # noqa: BLE001 (an error page must not fail on a permission check)
                allowed = False
            return (url, opts.verbose_name_plural) if allowed else None
    return None


def _previous_page(request):
    referer = request.META.get("HTTP_REFERER", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        if not referer.endswith(request.get_full_path()):
            return referer
    return None


def _context(request, *, status, title, message):
    signed_in = hasattr(request, "user") and admin.site.has_permission(request)
    context = {
        "site_header": admin.site.site_header,
        "site_title": admin.site.site_title,
        "site_url": admin.site.site_url,
        "has_permission": signed_in,
        "is_nav_sidebar_enabled": False,
        "is_popup": False,
        "title": title,
        "message": message,
        "status": status,
        "index_url": reverse("admin:index"),
        "came_from": _came_from(request) if signed_in else None,
        "previous_page": _previous_page(request),
        # An error page never shows (and so never uses up) the messages meant for the next
        # page: a browser's own request for /favicon.ico would otherwise take them.
        "messages": (),
    }
    return context


def permission_denied(request, exception=None):
    if _is_api(request):
        return JsonResponse({"message": "Forbidden"}, status=403)
    return render(
        request,
        "403.html",
        _context(
            request,
            status=403,
            title=gettext("You may not open this page"),
            message=gettext(
                "Your role does not allow this. If you think it should, ask an Admin "
                "of your organization."
            ),
        ),
        status=403,
    )


def page_not_found(request, exception=None):
    if _is_api(request):
        return JsonResponse({"message": "Not found"}, status=404)
    return render(
        request,
        "404.html",
        _context(
            request,
            status=404,
            title=gettext("Page not found"),
            message=gettext("This page does not exist, or it is not yours to see."),
        ),
        status=404,
    )


def server_error(request):
    if _is_api(request):  # LINE's JSON, with the request id (docs/api.md#errors)
        from api.errors import server_error as api_server_error

        return api_server_error(request)
    try:
        # No database, session or user look-up here: the error may be the database itself.
        return render(
            request,
            "500.html",
            {
                "site_header": admin.site.site_header,
                "site_title": admin.site.site_title,
                "has_permission": False,
                "is_nav_sidebar_enabled": False,
                "messages": (),
                "title": gettext("Something went wrong"),
                "index_url": reverse("admin:index"),
                "message": gettext(
                    "The page could not be shown because of an error on our side. It "
                    "has been logged; try again in a moment."
                ),
            },
            status=500,
        )
    except Exception:  # noqa: BLE001 (the last resort must answer something)
        logger.exception("the 500 page itself failed")
        return HttpResponseServerError("Server Error (500)", content_type="text/plain")
