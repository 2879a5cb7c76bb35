"""Admin forms: the station form (with its Basic-auth password) and one form per parameterised Call
sent to stations (csms/admin/forms.py says how Call forms work)."""

from __future__ import annotations

from django import forms

from csms.admin.forms import CallForm, connector_field, without_empty
from csms.errors import Invalid

from . import services
from .models import ChargeStation

# --- The station ----------------------------------------------------------------------------------


class ChargeStationAdminForm(forms.ModelForm):
    """The fields an operator sets; the rules are the services' (stations.services.station_validate),
    and ChargeStationAdmin.save_model writes through station_create / station_update."""

    password = forms.CharField(
        label="Basic-auth password",
        required=False,
        max_length=64,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="The password the station presents (security profiles 1 and 2). Stored only as a salted "
        "hash; leave empty to keep the current one. The Security Whitepaper asks for 16 to 40 random characters.",
    )
    clear_password = forms.BooleanField(
        label="Remove the password", required=False, help_text="Only for stations on security profile 0 or 3."
    )

    class Meta:
        model = ChargeStation
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A form posted without it (a script written before the field existed) keeps the station's.
        if "file_transfer_protocol" in self.fields:
            self.fields["file_transfer_protocol"].required = False

    def clean_file_transfer_protocol(self):
        return self.cleaned_data.get("file_transfer_protocol") or self.instance.file_transfer_protocol

    def clean_id(self):
        value = self.cleaned_data["id"]
        if not services.charge_box_id_valid(value):
            raise forms.ValidationError(services.CHARGE_BOX_ID_RULE)
        return value

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password") and cleaned.get("clear_password"):
            raise forms.ValidationError("Either set a new password or remove it, not both.")
        # Until _post_clean copies the form onto it, the instance is the station as stored.
        try:
            services.station_validate(station=self.instance,
                                      security_profile=cleaned.get("security_profile", self.instance.security_profile),
                                      password=self.password_change())
        except Invalid as exc:
            self.add_error(exc.details.get("field"), exc.message)
        return cleaned

    def password_change(self) -> str | None:
        """As station_update takes it: None keeps the password, "" removes it."""
        if self.cleaned_data.get("clear_password"):
            return ""
        return self.cleaned_data.get("password") or None


# --- Parameters of the Calls an operator sends ----------------------------------------------------


class ResetForm(CallForm):
    type = forms.ChoiceField(
        choices=[("Soft", "Soft: stop transactions gracefully, restart the software"),
                 ("Hard", "Hard: restart the hardware")],
        initial="Soft",
        widget=forms.RadioSelect,
    )

    def payload(self) -> dict:
        return {"type": self.cleaned_data["type"]}


class UnlockConnectorForm(CallForm):
    connector_id = connector_field(minimum=1)

    def payload(self) -> dict:
        return {"connectorId": self.cleaned_data["connector_id"]}


class ChangeAvailabilityForm(CallForm):
    connector_id = connector_field(minimum=0, help_text="0 is the whole station and all its connectors.")
    type = forms.ChoiceField(choices=[("Operative", "Operative"), ("Inoperative", "Inoperative")])

    def payload(self) -> dict:
        return {"connectorId": self.cleaned_data["connector_id"], "type": self.cleaned_data["type"]}


class ChangeConfigurationForm(CallForm):
    key = forms.CharField(max_length=50)
    value = forms.CharField(max_length=500, required=False, strip=False,
                            help_text="Sent as typed; an empty value is a valid value for some keys.")

    def payload(self) -> dict:
        return {"key": self.cleaned_data["key"], "value": self.cleaned_data["value"]}


class GetConfigurationForm(CallForm):
    keys = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One key per line (or separated by commas). Empty: every key the station has.",
    )

    def clean_keys(self) -> list[str]:
        raw = self.cleaned_data["keys"].replace(",", "\n")
        keys = list(dict.fromkeys(line.strip() for line in raw.splitlines() if line.strip()))
        too_long = [key for key in keys if len(key) > 50]
        if too_long:
            raise forms.ValidationError(f"Configuration keys have at most 50 characters: {', '.join(too_long)}")
        return keys

    def payload(self) -> dict:
        keys = self.cleaned_data["keys"]
        return {"key": keys} if keys else {}


class RemoteStartTransactionForm(CallForm):
    id_tag = forms.CharField(label="idTag", max_length=20)
    connector_id = connector_field(minimum=1, required=False,
                                   help_text="Empty: the station chooses the connector.")

    def payload(self) -> dict:
        return without_empty({"idTag": self.cleaned_data["id_tag"], "connectorId": self.cleaned_data["connector_id"]})


# TriggerMessage's own enumeration in OCPP 1.6 (the Security Whitepaper's extra messages need
# ExtendedTriggerMessage).
TRIGGERABLE_MESSAGES = [
    "BootNotification",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "StatusNotification",
]


class TriggerMessageForm(CallForm):
    requested_message = forms.ChoiceField(label="Requested message", choices=[(m, m) for m in TRIGGERABLE_MESSAGES])
    connector_id = connector_field(minimum=1, required=False,
                                   help_text="Only for messages about one connector; empty: the whole station.")

    def payload(self) -> dict:
        return without_empty({"requestedMessage": self.cleaned_data["requested_message"],
                              "connectorId": self.cleaned_data["connector_id"]})


class DataTransferForm(CallForm):
    vendor_id = forms.CharField(label="vendorId", max_length=255)
    message_id = forms.CharField(label="messageId", max_length=50, required=False)
    data = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}), strip=False,
                           help_text="Sent as a string, exactly as typed.")

    def payload(self) -> dict:
        return without_empty({"vendorId": self.cleaned_data["vendor_id"],
                              "messageId": self.cleaned_data["message_id"],
                              "data": self.cleaned_data["data"]})
