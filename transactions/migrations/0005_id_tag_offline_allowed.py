from django.db import migrations, models

HELP = "Off: checked online at every use, never cached by the station nor put in local lists."


def add_column(apps, schema_editor):
    """SQLite adds a NOT NULL column by rebuilding the table with every constraint of the model's state,
    the case-insensitive unique one included, which a database still holding case-only duplicate
    tags (0004 reports them instead of failing) cannot take: there, a plain ADD COLUMN with a default."""
    model = apps.get_model("transactions", "IdTag")
    field = model._meta.get_field("offline_allowed")
    if schema_editor.connection.vendor == "sqlite":
        table = schema_editor.quote_name(model._meta.db_table)
        schema_editor.execute(f"ALTER TABLE {table} ADD COLUMN {schema_editor.quote_name(field.column)} "
                              "bool NOT NULL DEFAULT 1")
    else:
        schema_editor.add_field(model, field)


def drop_column(apps, schema_editor):
    model = apps.get_model("transactions", "IdTag")
    schema_editor.remove_field(model, model._meta.get_field("offline_allowed"))


class Migration(migrations.Migration):

    dependencies = [
        ('transactions', '0004_case_insensitive_id_tags'),
    ]

    operations = [
        # The field in the state first, then the column (the function reads the field from the state).
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(
                    model_name='idtag',
                    name='offline_allowed',
                    field=models.BooleanField(default=True, help_text=HELP),
                ),
            ],
        ),
        migrations.RunPython(add_column, drop_column),
    ]
