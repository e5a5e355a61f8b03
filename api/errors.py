"""Errors as LINE's Messaging API sends them:
``{"message": "...", "details": [{"message": "...", "property": "..."}]}``."""

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from lbm.exceptions import DomainError, NotAllowed

AUTH_REQUIRED = (
    "Authorization header required. Must follow the scheme, 'Authorization: Bearer <ACCESS TOKEN>'"
)
AUTH_FAILED = (
    "Authentication failed. Confirm that the access token in the authorization header is valid."
)
RATE_LIMITED = "The API rate limit has been exceeded. Try again later."
BAD_REQUEST = "The request could not be understood."
TOO_LARGE = "The request body is too large."


class LineAPIError(exceptions.APIException):
    """An error with LINE's body; ``details`` is a list of (message, property) pairs."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 400,
        details: list[tuple[str, str | None]] | None = None,
        headers: dict[str, str] | None = None,
    ):
        self.status_code = status_code
        self.message = message
        self.details = details or []
        self.headers = headers or {}
        super().__init__(message)


def body(message: str, details: list[tuple[str, str | None]] | None = None) -> dict:
    data: dict = {"message": message}
    if details:
        data["details"] = [{"message": m, **({"property": p} if p else {})} for m, p in details]
    return data


def _flatten(errors, prefix: str = "") -> list[tuple[str, str | None]]:
    """DRF's nested validation errors → LINE's flat (message, property) list."""
    out: list[tuple[str, str | None]] = []
    if isinstance(errors, dict):
        for key, value in errors.items():
            name = (
                prefix if key == "non_field_errors" else (f"{prefix}.{key}" if prefix else str(key))
            )
            out.extend(_flatten(value, name))
    elif isinstance(errors, list):
        for index, value in enumerate(errors):
            if isinstance(value, (dict, list)):
                out.extend(_flatten(value, f"{prefix}[{index}]"))
            else:
                out.append((str(value), prefix or None))
    else:
        out.append((str(errors), prefix or None))
    return out


def line_exception_handler(exc, context):
    """DRF exception handler that answers every error in LINE's shape."""
    if isinstance(exc, LineAPIError):
        return Response(
            body(exc.message, exc.details), status=exc.status_code, headers=exc.headers or None
        )
    if isinstance(exc, NotAllowed):
        return Response(body(exc.message), status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, DomainError):
        details = [(d, None) for d in exc.details]
        return Response(body(exc.message, details), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, exceptions.ValidationError):
        details = _flatten(exc.detail)
        return Response(
            body(f"The request body has {len(details)} error(s)", details),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, exceptions.NotAuthenticated):
        return Response(
            body(AUTH_REQUIRED),
            status=status.HTTP_401_UNAUTHORIZED,
            headers={"WWW-Authenticate": 'Bearer realm="LINE"'},
        )
    if isinstance(exc, exceptions.AuthenticationFailed):
        return Response(
            body(AUTH_FAILED),
            status=status.HTTP_401_UNAUTHORIZED,
            headers={"WWW-Authenticate": 'Bearer realm="LINE"'},
        )
    if isinstance(exc, exceptions.Throttled):
        return Response(body(RATE_LIMITED), status=status.HTTP_429_TOO_MANY_REQUESTS)
    if isinstance(exc, (Http404, exceptions.NotFound)):
        return Response(body("Not found"), status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, (PermissionDenied, exceptions.PermissionDenied)):
        return Response(body("Forbidden"), status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return Response(body("Unsupported Media Type"), status=415)
    if isinstance(exc, exceptions.MethodNotAllowed):
        return Response(body("Method Not Allowed"), status=405)
    if isinstance(exc, exceptions.ParseError):
        return Response(body("The request body could not be parsed as JSON"), status=400)
    if isinstance(exc, RequestDataTooBig):
        return Response(body(TOO_LARGE), status=413)
    if isinstance(exc, SuspiciousOperation):  # too many fields, a bad multipart boundary…
        return Response(body(BAD_REQUEST), status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is not None:
        detail = getattr(exc, "detail", "")
        response.data = body(str(detail) or "Error")
        return response
    return _unexpected(exc)


UNAVAILABLE = "The service is temporarily unavailable. Try again later."
INTERNAL = "An internal error occurred. Try again later."
RETRY_AFTER_SECONDS = 5


def _unavailable_errors() -> tuple[type[BaseException], ...]:
    """A dependency out of reach: the database, Redis (cache, rate limits) or the broker."""
    import kombu.exceptions
    import psycopg
    import redis.exceptions
    from django.db import InterfaceError, OperationalError

    return (
        OperationalError,
        InterfaceError,
        psycopg.OperationalError,
        psycopg.InterfaceError,
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
        kombu.exceptions.OperationalError,
        ConnectionError,
    )


def _unexpected(exc) -> Response:
    """Never Django's HTML page: a dependency out of reach answers 503 with ``Retry-After``,
    anything else 500, both in LINE's shape (docs/reliability.md)."""
    import logging

    logging.getLogger("api").error("API request failed", exc_info=exc)
    if isinstance(exc, _unavailable_errors()):
        return Response(
            body(UNAVAILABLE),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return Response(body(INTERNAL), status=status.HTTP_500_INTERNAL_SERVER_ERROR)


# --- Failures outside the views ----------------------------------------------------------------
# An exception raised in a middleware (or anywhere Django, not DRF, catches it) becomes Django's
# own response: an HTML page. ``LineErrorMiddleware`` replaces such a page on an API path with
# LINE's body of the same status; an uncaught exception, remembered through Django's
# ``got_request_exception`` signal, decides between 500 and 503 (a dependency out of reach).

_STATUS_MESSAGES = {
    400: BAD_REQUEST,
    401: AUTH_FAILED,
    403: "Forbidden",
    404: "Not found",
    405: "Method Not Allowed",
    413: TOO_LARGE,
    415: "Unsupported Media Type",
    429: RATE_LIMITED,
    500: INTERNAL,
    503: UNAVAILABLE,
}


def remember_exception(sender, request=None, **kwargs) -> None:
    """``got_request_exception`` receiver: keep the uncaught exception on the request."""
    import sys

    if request is not None:
        request.lbm_exception = sys.exc_info()[1]


def line_response_for(status_code: int, exc: BaseException | None = None) -> JsonResponse:
    """LINE's body for a response Django made itself (``status_code``), or for ``exc``."""
    headers = {}
    if status_code >= 500 and exc is not None and isinstance(exc, _unavailable_errors()):
        status_code = 503
    if status_code == 503:
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    message = _STATUS_MESSAGES.get(status_code) or (INTERNAL if status_code >= 500 else BAD_REQUEST)
    return JsonResponse(body(message), status=status_code, headers=headers)


def server_error(request, *args, **kwargs):
    """``handler500``: what Django answers for an exception outside every middleware's reach
    (the request observer's own). LINE's JSON on an API path, Django's page elsewhere."""
    import sys

    from django.views import defaults

    from .middleware import API_PREFIXES

    if request.path_info.startswith(API_PREFIXES):
        response = line_response_for(500, sys.exc_info()[1])
        if getattr(request, "request_id", None):
            response["X-Line-Request-Id"] = request.request_id
        return response
    return defaults.server_error(request, *args, **kwargs)


def is_line_json(response) -> bool:
    return str(response.get("Content-Type", "")).startswith("application/json")


@csrf_exempt
def not_found(request, exception=None):
    """404 for unknown API paths, in LINE's shape (any method: the API uses no cookies)."""
    return JsonResponse(body("Not found"), status=404)
