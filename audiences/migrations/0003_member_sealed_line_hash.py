"""Members of phone and e-mail audiences get a sealed (encrypted) copy of their LINE-style hash,
for the Admins' export (``audiences.hashing`` documents the construction).

No data migration: existing rows only hold the keyed hash, which cannot be reversed, so their
``sealed`` stays NULL. The export leaves such members out and reports how many; uploading the
same file again as an addition to the audience fills their sealed copies in
(``audiences.importers._backfill_sealed``). Adding a nullable column is instant on PostgreSQL.
"""


import django.db.models.functions.text
import django.db.models.lookups
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('audiences', '0002_member_identifier_c_collation'),
    ]

    operations = [
        migrations.AddField(
            model_name='audiencemember',
            name='sealed',
            field=models.BinaryField(blank=True, max_length=32, null=True, verbose_name='sealed LINE-style hash'),
        ),
        migrations.AddConstraint(
            model_name='audiencemember',
            constraint=models.CheckConstraint(condition=models.Q(('sealed__isnull', True), django.db.models.lookups.Exact(django.db.models.functions.text.Length('sealed'), 32), _connector='OR'), name='audiencemember_sealed_32_bytes'),
        ),
    ]
