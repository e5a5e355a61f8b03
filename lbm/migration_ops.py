"""Migration operations shared by the apps.

``AddIndexConcurrently``: on PostgreSQL, ``CREATE INDEX CONCURRENTLY``, so adding an index to a
table of millions of rows (notices, usage) does not hold back the pushes writing to it while it
builds; elsewhere (SQLite) a plain ``CREATE INDEX``. A migration using it sets
``atomic = False`` (docs/operations.md#admin-at-scale).
"""

from django.contrib.postgres.operations import AddIndexConcurrently as PostgresConcurrently
from django.db.migrations.operations import AddIndex


class AddIndexConcurrently(PostgresConcurrently):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)
