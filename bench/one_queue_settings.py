"""Settings for the "before" layout of ``bench/webhook_latency.py``: the project's settings with
every task on one queue (no ``CELERY_TASK_ROUTES``), as before the named queues
(docs/operations.md#why-the-queues-are-separate). Never used outside the benchmark."""

from kombu import Queue

from lbm.settings import *  # noqa: F403

CELERY_TASK_ROUTES = {}
CELERY_TASK_QUEUES = [Queue("default")]
