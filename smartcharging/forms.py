"""Admin forms: the parameters of the smart charging actions (smartcharging/admin.py). The services
check everything again; these only catch typing errors."""

from __future__ import annotations

from django import forms

from csms.errors import Invalid
from stations.models import ChargeStation
from stations.rules import connector_validate

from .models import ChargingProfilePurpose, ChargingRateUnit


class StationConnectorForm(forms.Form):
    """A station and one of its connectors, checked as every Call to it is (stations.rules)."""

    def clean(self):
        cleaned = super().clean()
        station, connector_id = cleaned.get("station"), cleaned.get("connector_id")
        if station is not None and connector_id is not None:
            try:
                connector_validate(station_id=station.pk, connector_id=connector_id,
                                   allow_zero=self.fields["connector_id"].min_value == 0, field="connector")
            except Invalid as exc:
                self.add_error("connector_id", exc.message)
        return cleaned


class AssignForm(StationConnectorForm):
    station = forms.ModelChoiceField(queryset=ChargeStation.objects.order_by("id"))
    connector_id = forms.IntegerField(min_value=0, help_text="0: the whole station (ChargePointMaxProfile, shared TxDefaultProfile).")
    transaction_id = forms.IntegerField(required=False, help_text="TxProfile only; empty: the connector's running transaction.")


class RemoteStartForm(StationConnectorForm):
    station = forms.ModelChoiceField(queryset=ChargeStation.objects.order_by("id"))
    id_tag = forms.CharField(max_length=20)
    connector_id = forms.IntegerField(min_value=1, required=False, help_text="Empty: the station chooses.")


class ClearForm(forms.Form):
    id = forms.IntegerField(required=False, label="chargingProfileId")
    connector_id = forms.IntegerField(required=False, min_value=0)
    purpose = forms.ChoiceField(required=False, choices=[("", "any")] + list(ChargingProfilePurpose.choices))
    stack_level = forms.IntegerField(required=False, min_value=0)


class CompositeRequestForm(forms.Form):
    connector_id = forms.IntegerField(min_value=0, initial=0)
    duration = forms.IntegerField(min_value=1, initial=86400, help_text="seconds")
    charging_rate_unit = forms.ChoiceField(required=False, choices=[("", "station's choice")] + list(ChargingRateUnit.choices))
