"""gunicorn settings for serving the back office and its LINE-compatible API:

    gunicorn -c python:lbm.gunicorn_conf lbm.wsgi

Workers are sync workers (one request at a time each; the API's requests are short), about two
per core; set ``WEB_CONCURRENCY`` to change. There is no access log: the proxy in front keeps it.
"""

import gc
import multiprocessing
import os

workers = int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count()))
accesslog = None


def post_worker_init(worker):
    """Load what the first request would (the URLconf and every view module it imports),
    then move the worker's start-up heap out of the garbage collector's sight
    (``gc.freeze``). Django's heap is some 140,000 objects that live as long as the process;
    without this every full collection walks them all: ≈ 85 ms on the project's machine, a
    few times a minute per worker under load, which set the API's p99 latency."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (imports every view module)
    gc.collect()
    gc.freeze()


def child_exit(server, worker):
    """With ``PROMETHEUS_MULTIPROC_DIR`` set, a dead worker's live gauges are dropped (its
    counters stay, as Prometheus expects)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
