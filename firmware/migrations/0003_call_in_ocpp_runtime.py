# The Call model moved to the OCPP runtime (csms.ocpp): only Django's state changes, the foreign
# keys keep pointing at the same table.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('firmware', '0002_updates_and_diagnostics'),
        ('ocpp', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='diagnosticsrequest',
                    name='call',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='ocpp.call'),
                ),
                migrations.AlterField(
                    model_name='firmwareupdatetarget',
                    name='call',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='ocpp.call'),
                ),
            ]
        )
    ]
