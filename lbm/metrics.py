"""Prometheus metrics (the official ``prometheus-client``), served at ``/-/metrics``.

Two kinds:
- per process, counted as requests pass (``observe_request``): requests and their latency per
  API endpoint and admin page kind. Under gunicorn set ``PROMETHEUS_MULTIPROC_DIR`` to an empty
  directory so that every worker's counts are added up (``lbm.gunicorn_conf`` clears a dead
  worker's files);
- read from the system when scraped (``StateCollector``): Celery queue lengths, stalled jobs,
  the review backlog and its overdue part, uploads in progress, notices waiting for their
  charge, webhook deliveries by state and the last five minutes' attempts by outcome. Each is
  one indexed count or a Redis ``LLEN``, so a scrape every few seconds costs little.

Not public: see ``metrics_view``. docs/operations.md lists every metric.
"""

import hmac
import os
from datetime import timedelta

from django.conf import settings
from django.http import Http404, HttpResponse
from django.utils import timezone
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

REQUESTS = Counter(
    "lbm_http_requests", "HTTP requests answered", ["kind", "endpoint", "method", "status"]
)
LATENCY = Histogram(
    "lbm_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["kind", "endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def observe_request(kind: str, endpoint: str, method: str, status: int, seconds: float) -> None:
    REQUESTS.labels(kind, endpoint, method, str(status)).inc()
    LATENCY.labels(kind, endpoint).observe(seconds)


def queue_lengths() -> dict[str, int]:
    """Messages waiting in each named Celery queue (Redis lists named after the queues);
    empty when there is no broker (eager tasks)."""
    if not settings.REDIS_URL:
        return {}
    from lbm.celery import app

    with app.connection_for_read() as connection:
        client = connection.default_channel.client
        pipe = client.pipeline()
        for queue in settings.TASK_QUEUES:
            pipe.llen(queue)
        return dict(zip(settings.TASK_QUEUES, pipe.execute(), strict=True))


class StateCollector:
    """Gauges read from PostgreSQL (or SQLite) and Redis at scrape time."""

    def collect(self):
        from audiences.models import AudienceUpload
        from lbm.selectors import review_backlog
        from notifications.models import Notice, WebhookAttempt, WebhookDelivery

        now = timezone.now()
        stalled_before = now - settings.STALLED_AFTER

        queues = GaugeMetricFamily(
            "lbm_queue_length", "Tasks waiting in a Celery queue", labels=["queue"]
        )
        for queue, length in queue_lengths().items():
            queues.add_metric([queue], length)
        yield queues

        backlog = review_backlog()
        pending = GaugeMetricFamily(
            "lbm_review_pending", "Items waiting for review", labels=["queue"]
        )
        overdue = GaugeMetricFamily(
            "lbm_review_overdue", "Items waiting for review past their due date", labels=["queue"]
        )
        for queue in backlog.queues:  # organizations, account_links, lon_applications, …
            pending.add_metric([queue.key], queue.pending)
            overdue.add_metric([queue.key], queue.overdue)
        yield pending
        yield overdue

        unfinished = AudienceUpload.objects.exclude(status__in=AudienceUpload.FINISHED)
        yield GaugeMetricFamily(
            "lbm_uploads_in_progress", "Audience uploads not finished", value=unfinished.count()
        )
        stalled = GaugeMetricFamily(
            "lbm_stalled_jobs",
            "Unfinished jobs whose state has not moved for STALLED_AFTER",
            labels=["kind"],
        )
        stalled.add_metric(["upload"], unfinished.filter(created_at__lt=stalled_before).count())
        open_webhooks = WebhookDelivery.objects.filter(
            state__in=(WebhookDelivery.State.QUEUED, WebhookDelivery.State.RETRYING)
        )
        stalled.add_metric(["webhook"], open_webhooks.filter(created_at__lt=stalled_before).count())
        yield stalled

        yield GaugeMetricFamily(
            "lbm_notices_awaiting_charge",
            "Delivered notices not charged yet",
            value=Notice.objects.filter(state="delivered", charged_at__isnull=True).count(),
        )

        states = GaugeMetricFamily(
            "lbm_webhook_deliveries_open",
            "Delivery webhooks not sent yet, by state",
            labels=["state"],
        )
        counts = dict(open_webhooks.values_list("state").annotate(n=_count()).order_by())
        for state in (WebhookDelivery.State.QUEUED, WebhookDelivery.State.RETRYING):
            states.add_metric([state], counts.get(state, 0))
        yield states

        recent = WebhookAttempt.objects.filter(attempted_at__gte=now - timedelta(minutes=5))
        outcomes = GaugeMetricFamily(
            "lbm_webhook_attempts_5m",
            "Webhook attempts in the last five minutes, by outcome",
            labels=["outcome"],
        )
        ok = recent.filter(status_code__gte=200, status_code__lt=300).count()
        total = recent.count()
        errors = recent.filter(status_code__isnull=True).count()
        outcomes.add_metric(["success"], ok)
        outcomes.add_metric(["error_status"], total - ok - errors)
        outcomes.add_metric(["no_answer"], errors)
        yield outcomes


def _count():
    from django.db.models import Count

    return Count("pk")


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REQUESTS)
        registry.register(LATENCY)
    registry.register(StateCollector())
    return registry


def _authorised(request) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return settings.DEBUG
    scheme, _sep, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


def metrics_view(request):
    """Prometheus text format, for a scraper that sends ``Authorization: Bearer
    METRICS_TOKEN``; anyone else gets a plain 404, as for a page that does not exist."""
    if not _authorised(request):
        raise Http404
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
