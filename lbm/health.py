"""Health endpoints for a load balancer (docs/operations.md).

- ``/-/live``: the process answers (no I/O at all).
- ``/-/ready``: PostgreSQL (or SQLite) answers, Redis answers (when configured), and every
  migration the code knows is applied. 200 with ``{"status": "ready"}``, or 503 naming what
  failed. Cheap enough to poll every second: one ``SELECT 1``, one ``PING``, and the migration
  plan only until it has once been found empty in this process (migrations are not unapplied
  under a running release).
"""

import logging

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, Error, connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)
_migrations_applied = False


@never_cache
@require_GET
def live(request):
    return JsonResponse({"status": "live"})


def _database() -> str | None:
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Error as exc:  # reported as "not ready", not raised
        logger.warning("readiness: database unreachable: %s", type(exc).__name__)
        return "database unreachable"
    return None


def _redis() -> str | None:
    if not settings.REDIS_URL:
        return None
    import redis

    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1
        )
        try:
            client.ping()
        finally:
            client.close()
    except redis.RedisError as exc:
        logger.warning("readiness: Redis unreachable: %s", type(exc).__name__)
        return "redis unreachable"
    return None


def _migrations() -> str | None:
    global _migrations_applied
    if _migrations_applied:
        return None
    from django.db.migrations.executor import MigrationExecutor

    try:
        connection = connections[DEFAULT_DB_ALIAS]
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Error as exc:
        logger.warning("readiness: migrations not readable: %s", type(exc).__name__)
        return "migrations not readable"
    if plan:
        return f"{len(plan)} migrations not applied"
    _migrations_applied = True
    return None


@never_cache
@require_GET
def ready(request):
    problems = [p for p in (_database(), _redis()) if p]
    if not problems:
        problems = [p for p in (_migrations(),) if p]
    if problems:
        return JsonResponse({"status": "not ready", "problems": problems}, status=503)
    return JsonResponse({"status": "ready"})
