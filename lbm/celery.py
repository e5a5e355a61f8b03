"""The Celery application. Tasks live in each app's ``tasks.py`` and only call services."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lbm.settings")

app = Celery("lbm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Log records made while a task runs carry its task id (docs/operations.md).
from lbm.observability import connect_task_signals  # noqa: E402

connect_task_signals()
