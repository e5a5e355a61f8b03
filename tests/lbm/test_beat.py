"""Periodic tasks that migrations create (lbm.beat.interval_tasks)."""

import pytest
from django.apps import apps
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from lbm.beat import interval_tasks

pytestmark = pytest.mark.django_db

SCHEDULE = [
    ("test: sweep", "notifications.finish_notices", 7, "minutes"),
    ("test: purge", "notifications.purge_personal_data", 7, "minutes"),
]


def test_created_once_reenabled_and_removed_on_reverse():
    operation = interval_tasks(SCHEDULE)
    operation.code(apps, None)
    PeriodicTask.objects.filter(name="test: sweep").update(enabled=False)
    operation.code(apps, None)  # a second run updates, never duplicates
    tasks = PeriodicTask.objects.filter(name__startswith="test: ")
    assert sorted(tasks.values_list("name", "task", "enabled")) == [
        ("test: purge", "notifications.purge_personal_data", True),
        ("test: sweep", "notifications.finish_notices", True),
    ]
    assert IntervalSchedule.objects.filter(every=7, period="minutes").count() == 1
    assert {t.interval_id for t in tasks} == {IntervalSchedule.objects.get(every=7).pk}
    operation.reverse_code(apps, None)
    assert not PeriodicTask.objects.filter(name__startswith="test: ").exists()


def test_the_migrations_schedule_the_notification_sweeps():
    names = set(PeriodicTask.objects.values_list("task", flat=True))
    assert {
        "notifications.settle_notices",
        "notifications.purge_personal_data",
        "notifications.finish_notices",
    } <= names


def test_every_schedule_is_installed_and_names_a_registered_task():
    """Each schedule of every migration is in the table after migrating, and each periodic
    task names a task that the worker knows; nothing is scheduled outside the migrations."""
    from django.db.migrations.loader import MigrationLoader

    from lbm import beat
    from lbm.celery import app

    MigrationLoader(None, load=True)
    declared = {
        name: task
        for schedule, _op in beat.OPERATIONS
        for name, task, *_ in schedule
        if not name.startswith("test: ")
    }  # the schedule of the test above
    installed = dict(
        PeriodicTask.objects.exclude(name__startswith="test: ").values_list("name", "task")
    )
    assert installed == declared
    app.loader.import_default_modules()
    assert set(installed.values()) <= set(app.tasks), set(installed.values()) - set(app.tasks)
    assert not app.conf.beat_schedule
    assert {
        "audiences.refresh_all",
        "billing.bill_month",
        "notifications.settle_notices",
        "audiences.sweep_uploads",
        "audiences.purge_tag_events",
    } <= set(installed.values())
