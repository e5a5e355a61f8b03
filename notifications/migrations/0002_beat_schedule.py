"""Beat schedule: settle pending notices every 5 minutes, purge expired personal data hourly.

Both tasks are idempotent, so a late, early or doubled run changes nothing."""

from django.db import migrations

from lbm.beat import interval_tasks

SCHEDULE = [
    ("notifications: settle pending notices", "notifications.settle_notices", 5, "minutes"),
    ("notifications: purge personal data", "notifications.purge_personal_data", 1, "hours"),
]

schedule_tasks = interval_tasks(SCHEDULE)


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [schedule_tasks]
