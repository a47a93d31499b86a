from django.db import migrations

APPEND_ONLY_SQL = """
CREATE OR REPLACE FUNCTION medgov_event_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the event log is append-only' USING ERRCODE = 'integrity_constraint_violation';
END $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS medgov_event_append_only ON governance_event;
CREATE TRIGGER medgov_event_append_only BEFORE UPDATE OR DELETE ON governance_event
    FOR EACH ROW EXECUTE FUNCTION medgov_event_log_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY_SQL, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP TRIGGER IF EXISTS medgov_event_append_only ON governance_event")
        schema_editor.execute("DROP FUNCTION IF EXISTS medgov_event_log_append_only()")


class Migration(migrations.Migration):
    dependencies = [("governance", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
