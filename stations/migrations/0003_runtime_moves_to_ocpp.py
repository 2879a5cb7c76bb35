# Call, ProcessedCall and MessageLog now belong to the OCPP runtime (csms.ocpp, label "ocpp"): they
# leave this app's state; their tables are kept and renamed by ocpp 0002.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("stations", "0002_connector_availability"),
        ("ocpp", "0001_initial"),
        ("transactions", "0002_call_in_ocpp_runtime"),
        ("reservations", "0002_call_in_ocpp_runtime"),
        ("smartcharging", "0002_call_in_ocpp_runtime"),
        ("locallists", "0002_call_in_ocpp_runtime"),
        ("firmware", "0003_call_in_ocpp_runtime"),
        ("certificates", "0002_call_in_ocpp_runtime"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="Call"),
                migrations.DeleteModel(name="MessageLog"),
                migrations.DeleteModel(name="ProcessedCall"),
            ]
        )
    ]
