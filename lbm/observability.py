"""What a request or a task leaves for operators: its id, one JSON log line, request metrics.

- Every request gets an id: the API's own ``X-Line-Request-Id`` (LINE's header, on every API
  answer), or for the admin the proxy's ``X-Request-Id`` when it sends one. Celery tasks use their
  task id. Every log record made while it runs carries it (``LogContextFilter``).
- Every request is logged once, by the ``lbm.request`` logger: method, path without the query
  string, route, status, duration, and who — the user's id or the channel's id, never a name,
  phone number or e-mail address.
- Phone numbers and e-mail addresses are masked in every log line on the way out (a second line
  of defence: the code logs ids, and the suite fails when a raw one reaches a log record).
- Request counts and latency per API endpoint and admin page kind go to Prometheus
  (``lbm.metrics``).

Nothing here imports models: the logging configuration loads this module before the apps.
See docs/operations.md.
"""

import contextvars
import logging
import re
import time
import uuid

from django.conf import settings

from api.middleware import API_PREFIXES

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
OPS_PREFIX = "/-/"

# Taiwan mobile numbers as people write them (0912-345-678, 0912 345 678, +886 912 345 678),
# any E.164 number, and e-mail addresses.
PII_PATTERNS = re.compile(
    r"(?<![\w.-])(?:\+?886[\s-]?|0)9\d{2}[\s-]?\d{3}[\s-]?\d{3}(?![\w-])"
    r"|(?<![\w+])\+[1-9]\d{7,14}(?!\d)"
    r"|[\w.%+-]+@[\w-]+(?:\.[\w-]+)+"
)
MASK = "[redacted]"


def find_pii(text: str) -> list[str]:
    """Phone numbers and e-mail addresses in ``text`` (what the masking filter removes)."""
    return [match.group(0) for match in PII_PATTERNS.finditer(text)]


def mask_pii(text: str) -> str:
    return PII_PATTERNS.sub(MASK, text)


class LogContextFilter(logging.Filter):
    """Adds the current request id to each record and masks personal data in its message."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        message = record.getMessage()
        masked = mask_pii(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def json_formatter():
    """One JSON object a line (python-json-logger): the time in UTC (ISO 8601), Chinese kept
    readable."""
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(
        "{levelname}{name}{message}{request_id}",
        style="{",
        timestamp="time",
        rename_fields={"levelname": "level", "name": "logger"},
        json_ensure_ascii=False,
    )


request_log = logging.getLogger("lbm.request")


def route_of(request) -> tuple[str, str]:
    """(kind, endpoint) of a request for metrics: the API's URL name, the admin page's kind
    (changelist, change, add, delete, history, import, export, an app index …), or ops."""
    path = request.path_info
    match = getattr(request, "resolver_match", None)
    name = (match.url_name or "") if match else ""
    if path.startswith(API_PREFIXES):
        return "api", name or "unknown"
    if path.startswith(OPS_PREFIX):
        return "ops", name or "unknown"
    if path.startswith("/admin/"):
        if not match:
            return "admin", "unknown"
        for kind in (
            "changelist",
            "change",
            "add",
            "delete",
            "history",
            "import",
            "export",
            "autocomplete",
            "app_list",
            "index",
            "login",
            "logout",
        ):
            if name == kind or name.endswith("_" + kind):
                return "admin", kind
        return "admin", "other"
    return "other", "other"


def _caller(request) -> dict:
    user = getattr(request, "user", None)
    channel = getattr(user, "channel", None)
    if channel is not None:
        return {"channel_id": channel.channel_id}
    if user is not None and getattr(user, "is_authenticated", False) and user.pk is not None:
        return {"user_id": user.pk}
    return {}


class RequestObserverMiddleware:
    """First in the chain: the request id, the request's log line and its metrics."""

    def __init__(self, get_response):
        from . import metrics

        self.get_response = get_response
        self.observe = metrics.observe_request

    def __call__(self, request):
        started = time.perf_counter()
        is_api = request.path_info.startswith(API_PREFIXES)
        if is_api:
            request_id = str(uuid.uuid4())
        else:
            request_id = request.META.get("HTTP_X_REQUEST_ID", "")[:64] or uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        if is_api:
            response["X-Line-Request-Id"] = request_id
        duration = time.perf_counter() - started
        kind, endpoint = route_of(request)
        self.observe(kind, endpoint, request.method, response.status_code, duration)
        if settings.LOG_REQUESTS and kind != "ops":
            request_log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": request.method,
                    "path": request.path_info,
                    "route": f"{kind}:{endpoint}",
                    "status": response.status_code,
                    "duration_ms": round(duration * 1000, 2),
                    **_caller(request),
                },
            )
        return response


def _task_started(task_id=None, **_):
    request_id_var.set(task_id or "-")


def _task_finished(**_):
    request_id_var.set("-")


def connect_task_signals() -> None:
    """Log records made while a Celery task runs carry its task id as the request id."""
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(_task_started, weak=False, dispatch_uid="lbm.observability.prerun")
    task_postrun.connect(_task_finished, weak=False, dispatch_uid="lbm.observability.postrun")
