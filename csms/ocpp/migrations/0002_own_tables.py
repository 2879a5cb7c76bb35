# Now that no app's state points at stations.Call any more, the runtime's tables take its name, and
# the content types follow so that permissions already granted (Can add call: sending Calls) stay.

from django.db import migrations

MOVED = ("call", "messagelog", "processedcall")


def content_types_to_ocpp(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    if ContentType.objects.filter(app_label="ocpp", model__in=MOVED).exists():
        return
    ContentType.objects.filter(app_label="stations", model__in=MOVED).update(app_label="ocpp")


def content_types_to_stations(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="ocpp", model__in=MOVED).update(app_label="stations")


class Migration(migrations.Migration):

    dependencies = [
        ("ocpp", "0001_initial"),
        ("stations", "0003_runtime_moves_to_ocpp"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AlterModelTable(name="call", table=None),
        migrations.AlterModelTable(name="messagelog", table=None),
        migrations.AlterModelTable(name="processedcall", table=None),
        migrations.RenameIndex(model_name="call", new_name="ocpp_call_station_status_idx",
                               old_name="stations_ca_station_fcee81_idx"),
        migrations.RenameIndex(model_name="messagelog", new_name="ocpp_msglog_station_idx",
                               old_name="stations_me_station_6f3a32_idx"),
        migrations.AlterModelOptions(
            name="messagelog",
            options={"ordering": ["-created_at", "-id"], "verbose_name": "message log entry",
                     "verbose_name_plural": "message log"},
        ),
        migrations.RunPython(content_types_to_ocpp, content_types_to_stations),
    ]
