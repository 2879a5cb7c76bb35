# The Call model moved to the OCPP runtime (csms.ocpp): only Django's state changes, the foreign
# keys keep pointing at the same table.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('reservations', '0001_initial'),
        ('ocpp', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='reservation',
                    name='cancel_call',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='ocpp.call'),
                ),
                migrations.AlterField(
                    model_name='reservation',
                    name='reserve_call',
                    field=models.ForeignKey(blank=True, help_text='The ReserveNow whose answer decides the status (the latest, after a replacement).', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='ocpp.call'),
                ),
            ]
        )
    ]
