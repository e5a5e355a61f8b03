"""Periodic tasks that migrations put in django-celery-beat's tables (editable in the admin
afterwards)."""

from django.db import migrations


def interval_tasks(schedule: list[tuple[str, str, int, str]]) -> migrations.RunPython:
    """A migration operation that creates (or re-enables) ``schedule``'s tasks, each
    ``(name, task, every, period)`` on an interval, and deletes them when reversed. Idempotent:
    a task of the same name is updated, an interval of the same length reused."""

    def create(apps, schema_editor):
        IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
        for name, task, every, period in schedule:
            interval, _ = IntervalSchedule.objects.get_or_create(every=every, period=period)
            PeriodicTask.objects.update_or_create(
                name=name, defaults={"task": task, "interval": interval, "enabled": True})

    def remove(apps, schema_editor):
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
        PeriodicTask.objects.filter(name__in=[name for name, *_ in schedule]).delete()

    return migrations.RunPython(create, remove)
