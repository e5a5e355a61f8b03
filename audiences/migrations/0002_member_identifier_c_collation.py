"""On PostgreSQL, member identifiers use the "C" collation: they are ASCII (hex, user IDs,
UUIDs), and byte order makes sorting and the unique index's comparisons much cheaper than a
linguistic collation. SQLite compares bytes already."""

from django.db import migrations


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute('ALTER TABLE audiences_audiencemember ALTER COLUMN identifier '
                          'TYPE varchar(64) COLLATE "C"')


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("ALTER TABLE audiences_audiencemember ALTER COLUMN identifier "
                          'TYPE varchar(64) COLLATE "default"')


class Migration(migrations.Migration):
    dependencies = [("audiences", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
