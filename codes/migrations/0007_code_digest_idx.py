"""An index on Code.digest alone, to find the same code held by another seller (issue 12).

codes_code is the biggest table and imports write to it all day: a plain CREATE INDEX
would block every insert (and so every import) for as long as the build takes, so on
PostgreSQL the index is built CONCURRENTLY, which needs a migration outside a
transaction (atomic = False) and nothing else in it. SQLite has no such thing and
the suite runs there too: it gets a plain CREATE INDEX.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models
from django.db.migrations.operations import AddIndex

INDEX_NAME = "code_digest_idx"


class AddIndexConcurrentlyOnPostgres(AddIndexConcurrently):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)
            return
        # A CREATE INDEX CONCURRENTLY that fails (or is interrupted) leaves an INVALID
        # index of the same name behind and this migration unapplied; drop it so that
        # running the migration again just works.
        with schema_editor.connection.cursor() as c:
            c.execute(
                "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE c.relname = %s AND NOT i.indisvalid",
                [INDEX_NAME],
            )
            if c.fetchone():
                c.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX_NAME}")
        super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)
            return
        super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ("codes", "0006_codebatch_foreign_duplicates"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="code",
            index=models.Index(fields=["digest"], name=INDEX_NAME),
        ),
    ]
