"""Admin forms: the station form (with its Basic-auth password) and one form per parameterised Call
sent to stations (csms/admin/forms.py says how Call forms work)."""

from __future__ import annotations

from django import forms
from django.utils.html import format_html, format_html_join

from csms.admin.forms import CallForm, connector_field, without_empty
from csms.errors import Invalid
from transactions.selectors import id_tag_warnings

from . import services
from .configuration import STANDARD_KEYS
from .location import (
    CAPABILITIES,
    CONNECTOR_SPEC_FIELDS,
    FACILITIES,
    STATION_LOCATION_FIELDS,
    connector_spec_clean,
    station_location_clean,
)
from .models import ChargeStation, Connector
from .rules import configuration_change_validate, connector_validate, connectors_described
from .selectors import station_configuration_keys, station_connector_ids

# The parameters page checks at most this many selected stations itself; the rest are checked as
# each Call is made (stations.rules), and refused one by one.
FORM_CHECKED_STATIONS = 50

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
        help_text=f"The password the station presents (security profiles 1 and 2). {services.PASSWORD_RULE} Stored "
        "only as a salted hash; leave empty to keep the current one.",
    )
    generate_password = forms.BooleanField(
        label="Generate a strong password", required=False,
        help_text="The CSMS makes one (40 random hexadecimal digits) and shows it once, after saving.",
    )
    clear_password = forms.BooleanField(
        label="Remove the password", required=False, help_text="Only for stations on security profile 0 or 3."
    )
    facilities = forms.MultipleChoiceField(
        required=False, choices=[(value, value.replace("_", " ").lower()) for value in FACILITIES],
        widget=forms.CheckboxSelectMultiple, help_text="What the location is at or next to (OCPI Facility).")
    capabilities = forms.MultipleChoiceField(
        required=False, choices=[(value, value.replace("_", " ").lower()) for value in CAPABILITIES],
        widget=forms.CheckboxSelectMultiple, help_text="What its EVSEs can do (OCPI Capability).")

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
        if sum(bool(cleaned.get(name)) for name in ("password", "clear_password", "generate_password")) > 1:
            raise forms.ValidationError("Either set a new password, generate one or remove it: one of them.")
        if cleaned.get("generate_password"):
            self.generated_password = services.station_password_generate()
        # Until _post_clean copies the form onto it, the instance is the station as stored.
        try:
            services.station_validate(station=self.instance,
                                      security_profile=cleaned.get("security_profile", self.instance.security_profile),
                                      password=self.password_change())
        except Invalid as exc:
            self.add_error(exc.details.get("field"), exc.message)
        self._location_check(cleaned)
        return cleaned

    def _location_check(self, cleaned: dict) -> None:
        """The services' location rules (stations.location), each refusal on its field."""
        values = {name: cleaned[name] for name in STATION_LOCATION_FIELDS if name in cleaned}
        current = {name: getattr(self.instance, name) for name in STATION_LOCATION_FIELDS}
        coordinates = {name: values.pop(name) for name in ("latitude", "longitude") if name in values}
        for given in [*({name: value} for name, value in values.items()), coordinates]:
            try:
                station_location_clean(given, current=current)
            except Invalid as exc:
                field = exc.details.get("field")
                self.add_error(field if field in self.fields else None, exc.message)

    def location_values(self) -> dict:
        """The location fields as station_create / station_update take them."""
        return {name: self.cleaned_data.get(name) for name in STATION_LOCATION_FIELDS if name in self.cleaned_data}

    generated_password: str | None = None

    def password_change(self) -> str | None:
        """As station_update takes it: None keeps the password, "" removes it."""
        if self.cleaned_data.get("clear_password"):
            return ""
        return self.generated_password or self.cleaned_data.get("password") or None


class ConnectorAdminForm(forms.ModelForm):
    """What a connector is, on the station's page; ChargeStationAdmin.save_formset writes it through
    stations.services.connector_specs_set. Reported connectors keep their number."""

    class Meta:
        model = Connector
        fields = ["connector_id", *CONNECTOR_SPEC_FIELDS]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["connector_id"].disabled = True
        self.fields["connector_id"].min_value = 1

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("connector_id") == 0:
            self.add_error("connector_id", "Connector 0 is the whole station: connectors are numbered from 1.")
        try:
            connector_spec_clean({name: cleaned.get(name) for name in CONNECTOR_SPEC_FIELDS})
        except Invalid as exc:
            self.add_error(exc.details.get("field"), exc.message)
        return cleaned


class ConnectorFormSet(forms.BaseInlineFormSet):
    """A station form posted without the connectors (a script written before they were on the page)
    changes none of them."""

    def __init__(self, data=None, *args, prefix=None, **kwargs):
        name = prefix or self.get_default_prefix()
        if data is not None and f"{name}-TOTAL_FORMS" not in data:
            data = data.copy()
            data.update({f"{name}-TOTAL_FORMS": "0", f"{name}-INITIAL_FORMS": "0"})
        super().__init__(data, *args, prefix=prefix, **kwargs)


# --- Parameters of the Calls an operator sends ----------------------------------------------------


class StationCallForm(CallForm):
    """A Call form that knows the selected stations: a `connector_id` field offers the connectors they
    reported and refuses others on the form, with the rules every Call to a station passes
    (stations.rules)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stations = [station for station in self.targets[:FORM_CHECKED_STATIONS] if isinstance(station, ChargeStation)]
        if "connector_id" in self.fields:
            self._offer_connectors()

    def _offer_connectors(self) -> None:
        field = self.fields["connector_id"]
        allow_zero = field.min_value == 0
        known = {station.pk: station_connector_ids(station.pk) for station in self.stations}
        if len(known) == 1 and all(known.values()):
            (connectors,) = known.values()
            choices = [("", field.help_text or "—")] if not field.required else []
            choices += [(0, "0: the whole station")] if allow_zero else []
            choices += [(number, str(number)) for number in connectors]
            self.fields["connector_id"] = forms.TypedChoiceField(
                label=field.label, choices=choices, coerce=int, required=field.required, empty_value=None,
                help_text=f"The connectors {self.stations[0].pk} reported (NumberOfConnectors, StatusNotifications).")
        elif known:
            reported = "; ".join(f"{pk}: {connectors_described(numbers) if numbers else 'none reported yet'}"
                                 for pk, numbers in known.items())
            field.help_text = f"{field.help_text} Connectors: {reported}.".strip()

    def clean_connector_id(self):
        value = self.cleaned_data.get("connector_id")
        if value is None:
            return value
        allow_zero = 0 in [choice[0] for choice in getattr(self.fields["connector_id"], "choices", [])] or \
            getattr(self.fields["connector_id"], "min_value", None) == 0
        problems = []
        for station in self.stations:
            try:
                connector_validate(station_id=station.pk, connector_id=value, allow_zero=allow_zero, field="connector")
            except Invalid as exc:
                problems.append(exc.message)
        if problems:
            raise forms.ValidationError(problems)
        return value


class ResetForm(CallForm):
    type = forms.ChoiceField(
        choices=[("Soft", "Soft: stop transactions gracefully, restart the software"),
                 ("Hard", "Hard: restart the hardware")],
        initial="Soft",
        widget=forms.RadioSelect,
    )

    def payload(self) -> dict:
        return {"type": self.cleaned_data["type"]}


class UnlockConnectorForm(StationCallForm):
    connector_id = connector_field(minimum=1)

    def payload(self) -> dict:
        return {"connectorId": self.cleaned_data["connector_id"]}


class ChangeAvailabilityForm(StationCallForm):
    connector_id = connector_field(minimum=0, help_text="0 is the whole station and all its connectors.")
    type = forms.ChoiceField(choices=[("Operative", "Operative"), ("Inoperative", "Inoperative")])

    def payload(self) -> dict:
        return {"connectorId": self.cleaned_data["connector_id"], "type": self.cleaned_data["type"]}


class KeyInput(forms.TextInput):
    """A text box offering the keys the station reported (and OCPP's writable ones) as suggestions."""

    def __init__(self, *args, suggestions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.suggestions = list(suggestions)

    def render(self, name, value, attrs=None, renderer=None):
        list_id = f"{(attrs or {}).get('id', name)}-keys"
        box = super().render(name, value, {**(attrs or {}), "list": list_id, "autocomplete": "off"}, renderer)
        options = format_html_join("", '<option value="{}" label="{}">{}</option>',
                                   ((key, label, label) for key, label in self.suggestions))
        return format_html('{}<datalist id="{}">{}</datalist>', box, list_id, options)


class ChangeConfigurationForm(StationCallForm):
    key = forms.CharField(max_length=50)
    value = forms.CharField(max_length=500, required=False, strip=False,
                            help_text="Sent as typed; an empty value is a valid value for some keys. Values of OCPP's "
                                      "own keys are checked against their type.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        reported = {}
        for station in self.stations[:1] if len(self.stations) == 1 else []:
            reported = {item.key: item for item in station_configuration_keys(station.pk) if item.known}
        suggestions = [(key, f"{'read-only · ' if item.readonly else ''}now {item.value!s:.60}")
                       for key, item in sorted(reported.items())]
        suggestions += [(key, f"OCPP {spec.type}{' in ' + spec.unit if spec.unit else ''}")
                        for key, spec in sorted(STANDARD_KEYS.items()) if spec.writable and key not in reported]
        self.fields["key"].widget = KeyInput(suggestions=suggestions)
        if reported:
            self.reported_keys = sorted(reported.values(), key=lambda item: item.key)
            self.fields["key"].help_text = (f"{len(reported)} keys as {self.stations[0].pk} last reported them "
                                            "(GetConfiguration); read-only ones cannot be changed.")

    def clean(self):
        cleaned = super().clean()
        if "key" in cleaned and "value" in cleaned:
            problems = []
            for station in self.stations:
                try:
                    configuration_change_validate(station_id=station.pk, key=cleaned["key"], value=cleaned["value"])
                except Invalid as exc:
                    problems.append(exc.message)
            for problem in dict.fromkeys(problems):
                self.add_error(None, problem)
        return cleaned

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


class RemoteStartTransactionForm(StationCallForm):
    id_tag = forms.CharField(label="idTag", max_length=20)
    connector_id = connector_field(minimum=1, required=False,
                                   help_text="Empty: the station chooses the connector.")
    send_anyway = forms.BooleanField(required=False, label="Send even so",
                                     help_text="The tag has warnings (above): send the request all the same.")

    def clean(self):
        cleaned = super().clean()
        warnings = id_tag_warnings(cleaned["id_tag"]) if cleaned.get("id_tag") else []
        if warnings and not cleaned.get("send_anyway"):
            for warning in warnings:
                self.add_error(None, warning)
            self.add_error("send_anyway", "Tick to send the request with this tag all the same.")
        return cleaned

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


class TriggerMessageForm(StationCallForm):
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
