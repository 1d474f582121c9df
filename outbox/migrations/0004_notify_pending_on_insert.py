"""Wake waiting relays when enqueued rows commit (PostgreSQL only; SQLite relays poll).

FOR EACH STATEMENT with an empty payload: one notification per INSERT statement, folded
by PostgreSQL into one per transaction, and no work per row. NOTIFY inside the enqueuing
transaction is delivered on commit and dropped on rollback.
"""

from django.db import migrations

CHANNEL = "outbox_pending"  # outbox.models.PENDING_CHANNEL, frozen here as migrations are

CREATE = f"""
CREATE OR REPLACE FUNCTION outbox_notify_pending() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER outbox_notify_pending AFTER INSERT ON outbox_outboxevent
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify_pending();
"""
DROP = """
DROP TRIGGER IF EXISTS outbox_notify_pending ON outbox_outboxevent;
DROP FUNCTION IF EXISTS outbox_notify_pending();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("outbox", "0003_max_retry_from_settings")]

    operations = [migrations.RunPython(create, drop)]
