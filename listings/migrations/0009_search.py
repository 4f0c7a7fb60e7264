"""Search (issue 14): PostgreSQL full-text search over an expression index.

The search document is an *expression* over the listing's own columns, indexed with
GIN, rather than a stored SearchVectorField: a stored vector would have to be
rewritten by every code path that writes a title or description (services, admin,
revisions going live) and, for the seller's name, by the accounts app whenever a
seller renames themselves. An expression index is always consistent with the row
and needs no writer to cooperate. The seller's name (weight C) lives in another
table, so it is matched at query time (sellers are few) and only the listing's own
text (title A, description B) is indexed.

unaccent() is STABLE (its dictionary could change), so an index expression cannot
call it directly: `listings_unaccent` pins the dictionary and is declared IMMUTABLE,
the usual wrapper. Functions are schema-qualified (`public.`): index expressions
must not depend on the caller's search_path.

SQLite has none of this: the extension operations no-op there and the SQL runs only
on PostgreSQL. Search on SQLite is plain `icontains` (listings/search.py).
"""

from django.contrib.postgres.operations import TrigramExtension, UnaccentExtension
from django.db import migrations

FORWARD = [
    """
    CREATE OR REPLACE FUNCTION public.listings_unaccent(text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
        AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$
    """,
    """
    CREATE OR REPLACE FUNCTION public.listings_search_document(title text, description text)
        RETURNS tsvector
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$
            SELECT setweight(to_tsvector('simple'::regconfig, public.listings_unaccent(coalesce(title, ''))), 'A')
                || setweight(to_tsvector('simple'::regconfig, public.listings_unaccent(coalesce(description, ''))), 'B')
        $$
    """,
    """
    CREATE OR REPLACE FUNCTION public.listings_search_seller(name text) RETURNS tsvector
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$ SELECT setweight(to_tsvector('simple'::regconfig, public.listings_unaccent(coalesce(name, ''))), 'C') $$
    """,
    """
    CREATE INDEX listing_search_idx ON listings_listing
        USING gin (public.listings_search_document(title, description))
    """,
]

BACKWARD = [
    "DROP INDEX IF EXISTS listing_search_idx",
    "DROP FUNCTION IF EXISTS public.listings_search_seller(text)",
    "DROP FUNCTION IF EXISTS public.listings_search_document(text, text)",
    "DROP FUNCTION IF EXISTS public.listings_unaccent(text)",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("listings", "0008_found"),
    ]

    operations = [
        TrigramExtension(),
        UnaccentExtension(),
        migrations.RunPython(_run(FORWARD), _run(BACKWARD), elidable=False),
    ]
