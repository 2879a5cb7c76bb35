# The runtime's models lived in the stations app until the runtime got a home of its own. This
# migration takes them over in Django's state only: their tables stay as they are (0002 renames them).

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("stations", "0002_connector_availability"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    state_operations = [
        migrations.CreateModel(
            name="Call",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("action", models.CharField(max_length=50)),
                ("payload", models.JSONField(default=dict)),
                ("status", models.CharField(choices=[("pending", "Pending"), ("sent", "Sent"), ("completed", "Completed"), ("error", "Error"), ("timeout", "Timeout")], default="pending", max_length=10)),
                ("source", models.CharField(default="system", help_text="admin, api or system", max_length=20)),
                ("response", models.JSONField(blank=True, null=True)),
                ("error_code", models.CharField(blank=True, max_length=50)),
                ("error_description", models.TextField(blank=True)),
                ("error_details", models.JSONField(blank=True, null=True)),
                ("context", models.JSONField(blank=True, default=dict)),
                ("created_at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ("sent_at", models.DateTimeField(blank=True, null=True)),
                ("completed_at", models.DateTimeField(blank=True, null=True)),
                ("requested_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
                ("station", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="calls", to=settings.CSMS_STATION_MODEL)),
            ],
            options={
                "ordering": ["-created_at", "-id"],
                "indexes": [models.Index(fields=["station", "status"], name="stations_ca_station_fcee81_idx")],
                "db_table": "stations_call",
            },
        ),
        migrations.CreateModel(
            name="MessageLog",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("direction", models.CharField(choices=[("in", "station → CSMS"), ("out", "CSMS → station")], max_length=3)),
                ("message_type", models.PositiveSmallIntegerField(blank=True, null=True)),
                ("message_id", models.CharField(blank=True, max_length=72)),
                ("action", models.CharField(blank=True, max_length=50)),
                ("frame", models.TextField()),
                ("created_at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ("station", models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to=settings.CSMS_STATION_MODEL)),
            ],
            options={
                "ordering": ["-created_at", "-id"],
                "indexes": [models.Index(fields=["station", "-created_at"], name="stations_me_station_6f3a32_idx")],
                "db_table": "stations_messagelog",
            },
        ),
        migrations.CreateModel(
            name="ProcessedCall",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("message_id", models.CharField(max_length=36)),
                ("action", models.CharField(max_length=50)),
                ("payload_digest", models.CharField(max_length=64)),
                ("response", models.JSONField()),
                ("created_at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ("station", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.CSMS_STATION_MODEL)),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("station", "message_id"), name="uniq_processed_call")],
                "db_table": "stations_processedcall",
            },
        ),
    ]

    operations = [migrations.SeparateDatabaseAndState(state_operations=state_operations)]
