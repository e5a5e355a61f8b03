"""Test tiers.

* Unit tier: SQLite in memory, Celery eager (``make test`` runs it first).
* Integration tier (``@pytest.mark.integration``): real PostgreSQL and Redis, and a real Celery
  worker process started against the test database. It runs when ``DATABASE_URL`` points at a
  reachable PostgreSQL and ``REDIS_URL`` at a reachable Redis; otherwise its tests are skipped
  with the reason printed, or fail when ``LBM_REQUIRE_INTEGRATION=1`` (as ``.ci/run`` sets).
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

pytest_plugins = ["tests.log_guard"]  # no phone number or e-mail address in any log record

ROOT = Path(__file__).resolve().parent.parent
REQUIRE_INTEGRATION = os.environ.get("LBM_REQUIRE_INTEGRATION") == "1"


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2
        ):
            return True
    except OSError:
        return False


def integration_unavailable_reason() -> str | None:
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")):
        return "DATABASE_URL does not point at PostgreSQL (make test sets it for this tier)"
    if not redis_url:
        return "REDIS_URL is not set (make test sets it for this tier)"
    if not _reachable(database_url, 5432):
        return f"PostgreSQL at {urlparse(database_url).netloc} is not reachable"
    if not _reachable(redis_url, 6379):
        return f"Redis at {urlparse(redis_url).netloc} is not reachable"
    return None


def pytest_collection_modifyitems(config, items):
    reason = integration_unavailable_reason()
    if reason is None:
        return
    for item in items:
        if item.get_closest_marker("integration"):
            if REQUIRE_INTEGRATION:
                item.add_marker(pytest.mark.integration_required_but_unavailable(reason))
            else:
                item.add_marker(pytest.mark.skip(reason=f"integration tier skipped: {reason}"))


def pytest_configure(config):
    config.addinivalue_line("markers", "integration_required_but_unavailable(reason): internal")


def pytest_runtest_setup(item):
    marker = item.get_closest_marker("integration_required_but_unavailable")
    if marker:
        pytest.fail(
            f"LBM_REQUIRE_INTEGRATION=1 but the integration tier cannot run: {marker.args[0]}",
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def _celery_mode(request, settings):
    """Unit tests run tasks eagerly; integration tests send them to the real broker."""
    from lbm.celery import app

    eager = request.node.get_closest_marker("integration") is None
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = eager
    settings.CELERY_TASK_ALWAYS_EAGER = eager
    yield
    app.conf.task_always_eager = previous


# Rows that data migrations write. A transactional test ends with a flush that empties every
# table; post_migrate then recreates content types, permissions and the staff groups, and this
# puts back the rest, as a freshly migrated database has it.
MIGRATION_SEEDS = [
    ("billing.migrations.0002_seed_price_sheet", ("seed",)),
    ("billing.migrations.0004_seed_add_on_prices", ("seed",)),
]  # and every beat schedule (lbm.beat.OPERATIONS)


def _is_transactional(request) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return bool(marker and marker.kwargs.get("transaction")) or (
        "live_server" in request.fixturenames or "transactional_db" in request.fixturenames
    )


@pytest.fixture(autouse=True)
def _migration_data(request):
    if _is_transactional(request):
        import importlib

        from django.apps import apps

        from billing.models import Plan

        request.getfixturevalue("transactional_db")
        if not Plan.objects.exists():
            for module_name, functions in MIGRATION_SEEDS:
                module = importlib.import_module(module_name)
                for name in functions:
                    seed = getattr(module, name)
                    getattr(seed, "code", seed)(apps, None)  # a function or a RunPython
            from django.db.migrations.loader import MigrationLoader

            from lbm import beat

            MigrationLoader(None, load=True)  # imports every migration module
            for _schedule, operation in beat.OPERATIONS:
                operation.code(apps, None)
    yield


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Rate-limit counters are keyed by channel id, and ids come round again after a rollback.
    Only their keys are removed: the Redis database also carries the worker's queue."""
    from django.core.cache import cache

    get_client = getattr(getattr(cache, "_cache", None), "get_client", None)
    if get_client is None:
        cache.clear()
    else:
        client = get_client(write=True)
        for key in client.scan_iter(match="*lbm:rl:*"):
            client.delete(key)
    yield


@pytest.fixture(autouse=True)
def _fresh_worker_memory():
    """What the API keeps per process (lbm.generations) must not outlive a test's rows."""
    from lbm import generations
    from notifications.services import charging

    generations.forget_all()
    charging._finish_sent_at = -charging.FINISH_DELAY  # no task "already on its way"
    yield


@pytest.fixture(autouse=True)
def _fresh_content_type_cache():
    """A flush between transactional tests recreates content types under new ids; a cached old
    id would make permission look-ups find nothing."""
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()
    yield


@pytest.fixture(autouse=True)
def _plain_settings(settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.AXES_ENABLED = False  # the sign-in throttling test turns it back on
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.LANGUAGE_CODE = "en"
    # Fast hashing for the many users tests create (sign-in tests still go through it).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def start_worker(tmp_path, settings, *, name: str = "lbm-test", queues=None, pool: str = ""):
    """Start a real ``celery worker`` process on the test database and the configured Redis
    (as the README's ``make worker`` starts it: the default prefork pool, unless ``pool`` names
    another, e.g. ``"threads"``) and wait until it answers a ping. Returns the process, with
    ``mail_dir``, ``log_path`` and ``stop()``."""
    from django.db import connection

    from lbm.celery import app

    mail_dir = tmp_path / f"{name}-mail"
    mail_dir.mkdir()
    settings_dict = connection.settings_dict
    db_url = "postgres://{user}@{host}:{port}/{name}".format(
        user=settings_dict["USER"] or "postgres",
        host=settings_dict["HOST"] or "127.0.0.1",
        port=settings_dict["PORT"] or 5432,
        name=settings_dict["NAME"],
    )
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mail_dir),
        "PYTHONUNBUFFERED": "1",
        # The worker reads the uploads the test saved and hashes with the same key.
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PII_HASH_KEY": settings.PII_HASH_KEY,
    }
    hostname = f"{name}-{os.getpid()}@%h"
    log_path = tmp_path / f"{name}.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(
        # As the README's ``make worker`` starts it: the default prefork pool, every queue.
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "lbm",
            "worker",
            "-Q",
            ",".join(queues or settings.TASK_QUEUES),
            "--concurrency=2",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "-n",
            hostname,
            *([f"--pool={pool}"] if pool else []),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def stop():
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()

    proc.mail_dir, proc.log_path, proc.stop = mail_dir, log_path, stop
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("celery worker exited: " + log_path.read_text()[-3000:])
            replies = app.control.ping(timeout=1.0)
            if any(hostname.split("@")[0] in name for reply in replies for name in reply):
                break
        else:
            raise RuntimeError("celery worker did not answer within 60 s")
    except BaseException:
        stop()
        raise
    return proc


@pytest.fixture
def celery_worker(django_db_setup, django_db_blocker, tmp_path, settings):
    """A real ``celery worker`` process on the test database and the configured Redis.

    Its e-mail goes to files in ``mail_dir`` so tests can read what it sent.
    """
    proc = start_worker(tmp_path, settings, name="lbm-test")
    try:
        yield proc
    finally:
        proc.stop()


CLOSED_BROKER = "redis://127.0.0.1:9/0"  # a port nothing listens on: connections are refused


@pytest.fixture
def broker(settings):
    """Tasks published to a real broker address instead of run eagerly: ``broker.down()`` points
    Celery at a closed port (connections refused, as a broker outage), ``broker.up(url)`` at a
    reachable one (``memory://`` in the unit tier), ``broker.eager()`` back to eager tasks."""
    from lbm.celery import app

    previous = (app.conf.broker_url, app.conf.task_always_eager)

    class Broker:
        def _point(self, url, eager=False):
            app._pool = None  # the next publish connects to ``url``
            app.amqp._producer_pool = None
            app.conf.broker_url = url
            app.conf.task_always_eager = eager
            settings.CELERY_TASK_ALWAYS_EAGER = eager

        def down(self):
            self._point(CLOSED_BROKER)

        def up(self, url="memory://"):
            self._point(url)

        def eager(self):
            self._point(previous[0], eager=True)

    yield Broker()
    Broker()._point(*previous)
