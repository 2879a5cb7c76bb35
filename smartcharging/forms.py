"""Admin forms: the parameters of the smart charging actions (smartcharging/admin.py). The services
check everything again; these only catch typing errors."""

from __future__ import annotations

from django import forms

from stations.models import ChargeStation

from .models import ChargingProfilePurpose, ChargingRateUnit


class AssignForm(forms.Form):
    station = forms.ModelChoiceField(queryset=ChargeStation.objects.order_by("id"))
    connector_id = forms.IntegerField(min_value=0, help_text="0: the whole station (ChargePointMaxProfile, shared TxDefaultProfile).")
    transaction_id = forms.IntegerField(required=False, help_text="TxProfile only; empty: the connector's running transaction.")


class RemoteStartForm(forms.Form):
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
