"""Periodic tasks, the one way the project schedules them: a data migration puts them in
django-celery-beat's tables (editable in the admin afterwards) with ``interval_tasks`` or
``crontab_tasks``. Nothing is scheduled from ``app.conf.beat_schedule``. docs/operations.md
lists the schedules."""

from django.db import migrations

# Every schedule operation made here, as migration modules are imported: the test suite puts
# them back after a transactional test's flush (tests/conftest.py), and the beat test checks
# each against the registered tasks.
OPERATIONS: list[tuple[list, migrations.RunPython]] = []


def _operation(schedule, make_schedule) -> migrations.RunPython:
    def create(apps, schema_editor):
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
        for name, task, *when in schedule:
            field, value = make_schedule(apps, *when)
            PeriodicTask.objects.update_or_create(
                name=name, defaults={"task": task, field: value, "enabled": True}
            )

    def remove(apps, schema_editor):
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
        PeriodicTask.objects.filter(name__in=[name for name, *_ in schedule]).delete()

    operation = migrations.RunPython(create, remove)
    OPERATIONS.append((schedule, operation))
    return operation


def interval_tasks(schedule: list[tuple[str, str, int, str]]) -> migrations.RunPython:
    """A migration operation that creates (or re-enables) ``schedule``'s tasks, each
    ``(name, task, every, period)`` on an interval, and deletes them when reversed. Idempotent:
    a task of the same name is updated, an interval of the same length reused."""

    def interval(apps, every, period):
        IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
        return "interval", IntervalSchedule.objects.get_or_create(every=every, period=period)[0]

    return _operation(schedule, interval)


def crontab_tasks(schedule: list[tuple[str, str, dict]]) -> migrations.RunPython:
    """The same for tasks at fixed times: ``(name, task, fields)``, ``fields`` the crontab's
    (``minute``, ``hour``, ``day_of_month``, ``month_of_year``, ``day_of_week``, ``timezone``;
    ``*`` and UTC where not given)."""

    def crontab(apps, fields):
        CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
        values = {
            "minute": "*",
            "hour": "*",
            "day_of_month": "*",
            "month_of_year": "*",
            "day_of_week": "*",
            "timezone": "UTC",
            **fields,
        }
        return "crontab", CrontabSchedule.objects.get_or_create(**values)[0]

    return _operation(schedule, crontab)
