"""The GIN index of the posts' search lexemes, on PostgreSQL only (SQLite, the embedded default,
has no tsvector: it searches by substring). docs/BENCHMARKS.md shows why full-text lexemes beat
a pg_trgm index here: a two-character Chinese query gives a trigram index nothing to look up."""

from django.db import migrations

INDEX = "plansquare_post_search"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON plansquare_post USING gin (search_vector) WHERE NOT hidden"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("plansquare", "0001_initial")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
