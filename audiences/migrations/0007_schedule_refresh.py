from django.db import migrations

from lbm.beat import crontab_tasks

# Hourly, at a minute of its own; the job works out what is due by itself. (It was scheduled
# from app.conf.beat_schedule before; every schedule now lives in a migration, lbm.beat.)
SCHEDULE = [("audiences: refresh sizes and statuses", "audiences.refresh_all",
             {"minute": "17"})]

schedule_tasks = crontab_tasks(SCHEDULE)


class Migration(migrations.Migration):

    dependencies = [
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        ("audiences", "0006_lookalike_snapshots_link_sharing"),
    ]

    operations = [schedule_tasks]
