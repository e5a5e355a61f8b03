"""Sealed copies are now AES-SIV (48 bytes, ``audiences.hashing``); the check constraint takes
48 bytes as well as the 32 of the copies written before.

No data migration: the existing 32-byte copies stay as they are and are still opened (told apart
by their length), so the export of an old audience is unchanged. Re-sealing them would rewrite
every phone/e-mail member row with PII_HASH_KEY in hand, for no change in what the export gives.
On PostgreSQL the column type (bytea) does not change; adding the constraint reads the member
table once under its lock.
"""

import django.db.models.functions.text
import django.db.models.lookups
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('audiences', '0009_upload_confirmation'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='audiencemember',
            name='audiencemember_sealed_32_bytes',
        ),
        migrations.AlterField(
            model_name='audiencemember',
            name='sealed',
            field=models.BinaryField(blank=True, max_length=48, null=True, verbose_name='sealed LINE-style hash'),
        ),
        migrations.AddConstraint(
            model_name='audiencemember',
            constraint=models.CheckConstraint(condition=models.Q(('sealed__isnull', True), django.db.models.lookups.Exact(django.db.models.functions.text.Length('sealed'), 48), django.db.models.lookups.Exact(django.db.models.functions.text.Length('sealed'), 32), _connector='OR'), name='audiencemember_sealed_length'),
        ),
    ]
