from django.db import migrations

from benchmark.taxonomy import DEFAULT_DIMENSIONS


def seed_dimensions(apps, schema_editor):
    Dimension = apps.get_model("benchmark", "Dimension")
    for order, (code, name_en, name_zh, description_en, description_zh) in enumerate(DEFAULT_DIMENSIONS):
        Dimension.objects.update_or_create(
            code=code,
            defaults={
                "category": code.split(".")[0],
                "name_en": name_en,
                "name_zh": name_zh,
                "description_en": description_en,
                "description_zh": description_zh,
                "sort_order": order,
            },
        )


# Published content never changes: the database refuses it, whatever code path tries.
FREEZE_SQL = """
CREATE OR REPLACE FUNCTION medgov_refuse_frozen_{table}() RETURNS trigger AS $$
DECLARE version_status text;
BEGIN
    SELECT status INTO version_status FROM {version_table}
     WHERE id = COALESCE(NEW.version_id, OLD.version_id);
    IF version_status IS NOT NULL AND version_status <> 'draft' THEN
        RAISE EXCEPTION 'version % is published: its content is immutable', COALESCE(NEW.version_id, OLD.version_id)
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN COALESCE(NEW, OLD);
END $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS medgov_frozen_{table} ON {table};
CREATE TRIGGER medgov_frozen_{table} BEFORE INSERT OR UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION medgov_refuse_frozen_{table}();
"""


def freeze_published(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FREEZE_SQL.format(table="benchmark_item", version_table="benchmark_benchmarkversion"), params=None)
    schema_editor.execute(FREEZE_SQL.format(table="benchmark_scenario", version_table="benchmark_scenarioversion"), params=None)


def unfreeze(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in ("benchmark_item", "benchmark_scenario"):
        schema_editor.execute(f"DROP TRIGGER IF EXISTS medgov_frozen_{table} ON {table}")
        schema_editor.execute(f"DROP FUNCTION IF EXISTS medgov_refuse_frozen_{table}()")


class Migration(migrations.Migration):
    dependencies = [("benchmark", "0001_initial")]

    operations = [
        migrations.RunPython(seed_dimensions, migrations.RunPython.noop),
        migrations.RunPython(freeze_published, unfreeze),
    ]
