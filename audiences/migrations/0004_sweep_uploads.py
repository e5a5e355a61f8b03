from django.db import migrations

from lbm.beat import interval_tasks

# Every 10 minutes: uploads stuck unfinished end FAILED (docs/reliability.md).
SCHEDULE = [("audiences: fail stuck uploads", "audiences.sweep_uploads", 10, "minutes")]


class Migration(migrations.Migration):

    dependencies = [
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        ("audiences", "0003_member_sealed_line_hash"),
    ]

    operations = [interval_tasks(SCHEDULE)]
