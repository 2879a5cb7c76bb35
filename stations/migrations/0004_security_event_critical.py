from django.db import migrations, models

# The Security Whitepaper's critical events (edition 3, section 8), as stations.models has them today.
CRITICAL = ["FirmwareUpdated", "SettingSystemTime", "StartupOfTheDevice", "ResetOrReboot", "SecurityLogWasCleared",
            "MemoryExhaustion", "TamperDetectionActivated"]


def mark_stored_events(apps, schema_editor):
    apps.get_model("stations", "SecurityEvent").objects.filter(type__in=CRITICAL).update(critical=True)


class Migration(migrations.Migration):

    dependencies = [
        ('stations', '0003_runtime_moves_to_ocpp'),
    ]

    operations = [
        migrations.AddField(
            model_name='securityevent',
            name='critical',
            field=models.BooleanField(default=False, help_text="Critical in the Security Whitepaper's table of events."),
        ),
        migrations.RunPython(mark_stored_events, migrations.RunPython.noop),
    ]
