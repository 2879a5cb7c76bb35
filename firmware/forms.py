"""Admin forms: a firmware file, and the parameters of the station actions "Update firmware…" and
"Request diagnostics / logs…". The services check everything again; these only catch typing errors."""

from __future__ import annotations

from django import forms

from csms.errors import DomainError
from partners.models import Partner
from stations.models import FileTransferProtocol

from .services import files
from .models import Firmware, FirmwareRollout, LogType

DATETIME_HELP = "YYYY-MM-DD HH:MM (UTC)."


class FirmwareAdminForm(forms.ModelForm):
    class Meta:
        model = Firmware
        fields = ["name", "version", "vendor", "charge_point_model", "description", "file", "external_location",
                  "signing_certificate", "signature", "partner"]
        widgets = {"signing_certificate": forms.Textarea(attrs={"rows": 6, "cols": 80}),
                   "signature": forms.Textarea(attrs={"rows": 3, "cols": 80}),
                   "description": forms.Textarea(attrs={"rows": 3, "cols": 80})}

    def clean(self):
        cleaned = super().clean()
        try:
            files.firmware_validate(
                has_file=bool(cleaned.get("file")),  # False when "clear" is ticked, the stored file when untouched
                external_location=(cleaned.get("external_location") or "").strip(),
                signing_certificate=(cleaned.get("signing_certificate") or "").strip(),
                signature=(cleaned.get("signature") or "").strip(),
            )
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from None
        return cleaned


class UpdateFirmwareForm(forms.Form):
    firmware = forms.ModelChoiceField(queryset=Firmware.objects.order_by("-created_at"), required=False,
                                      help_text="A stored firmware file or location…")
    location = forms.CharField(required=False, max_length=2000, widget=forms.TextInput(attrs={"size": 80}),
                               help_text="…or the URL stations download it from (http, https, ftp, ftps, sftp).")
    retrieve_date = forms.DateTimeField(required=False, help_text=f"When stations may start downloading. {DATETIME_HELP} Empty: now.")
    retries = forms.IntegerField(required=False, min_value=0, help_text="Download retries; empty: the station decides.")
    retry_interval = forms.IntegerField(required=False, min_value=0, help_text="Seconds between retries; empty: the station decides.")
    mode = forms.ChoiceField(
        choices=[("auto", "Signed when a certificate and signature are known, else OCPP 1.6 UpdateFirmware"),
                 ("unsigned", "UpdateFirmware (OCPP 1.6)"),
                 ("signed", "SignedUpdateFirmware (Security Whitepaper)")],
        initial="auto", widget=forms.RadioSelect)
    install_date = forms.DateTimeField(required=False, help_text=f"Signed updates only: when to install. {DATETIME_HELP}")
    signing_certificate = forms.CharField(required=False, max_length=files.SIGNING_CERTIFICATE_MAX,
                                          widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
                                          help_text="PEM; empty: the stored firmware's.")
    signature = forms.CharField(required=False, max_length=files.SIGNATURE_MAX,
                                widget=forms.Textarea(attrs={"rows": 2, "cols": 80}),
                                help_text="Base64; empty: the stored firmware's.")

    def clean(self):
        cleaned = super().clean()
        if bool(cleaned.get("firmware")) == bool(cleaned.get("location")):
            raise forms.ValidationError("Choose a stored firmware or type a location (one of them).")
        return cleaned

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "firmware": data["firmware"],
            "location": data["location"],
            "retrieve_date": data["retrieve_date"],
            "retries": data["retries"],
            "retry_interval": data["retry_interval"],
            "signed": {"auto": None, "unsigned": False, "signed": True}[data["mode"]],
            "install_date": data["install_date"],
            "signing_certificate": data["signing_certificate"].strip(),
            "signature": data["signature"].strip(),
        }


class DiagnosticsForm(forms.Form):
    log_type = forms.ChoiceField(
        required=False,
        choices=[("", "Diagnostics (OCPP 1.6 GetDiagnostics)"),
                 (LogType.DIAGNOSTICS_LOG, "Diagnostics log (GetLog, Security Whitepaper)"),
                 (LogType.SECURITY_LOG, "Security log (GetLog, Security Whitepaper)")],
        widget=forms.RadioSelect)
    start_time = forms.DateTimeField(required=False, help_text=f"Oldest information to include. {DATETIME_HELP}")
    stop_time = forms.DateTimeField(required=False, help_text=f"Latest information to include. {DATETIME_HELP}")
    retries = forms.IntegerField(required=False, min_value=0)
    retry_interval = forms.IntegerField(required=False, min_value=0, help_text="seconds")
    protocol = forms.ChoiceField(
        required=False, choices=[("", "The station's own setting (file transfer protocol)"),
                                 *FileTransferProtocol.choices],
        help_text="How the station uploads to the CSMS: HTTP(S), or FTP with one-time credentials in the location.")
    location = forms.CharField(required=False, max_length=2000, widget=forms.TextInput(attrs={"size": 80}),
                               help_text="Only to send the file elsewhere: a location of your own (the file then "
                                         "does not reach the CSMS).")

    def clean(self):
        cleaned = super().clean()
        start, stop = cleaned.get("start_time"), cleaned.get("stop_time")
        if start and stop and stop < start:
            raise forms.ValidationError("The stop time is before the start time.")
        return cleaned

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        names = ("log_type", "start_time", "stop_time", "retries", "retry_interval", "location", "protocol")
        return {name: data[name] for name in names}


class FileTransferProtocolForm(forms.Form):
    protocol = forms.ChoiceField(choices=FileTransferProtocol.choices, widget=forms.RadioSelect,
                                 help_text="How these stations upload diagnostics and logs and download firmware "
                                           "served by the CSMS (filter the list by model to set it per model).")


def _items(text: str) -> list[str]:
    """One per line or comma separated, without repeats."""
    return list(dict.fromkeys(item.strip() for item in text.replace(",", "\n").splitlines() if item.strip()))


class RolloutAdminForm(forms.ModelForm):
    """A new rollout: which stations (every criterion given must match), its waves and when to halt."""

    stations = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
                               help_text="chargeBoxIds, one per line or comma separated; the first ones make the canary.")
    vendor = forms.CharField(required=False, max_length=20)
    model = forms.CharField(required=False, max_length=20)
    firmware_versions = forms.CharField(required=False, max_length=500,
                                        help_text="Only stations running one of these versions (comma separated).")
    partner = forms.ModelChoiceField(queryset=Partner.objects.order_by("name"), required=False,
                                     help_text="Only this partner's stations.")
    canary = forms.IntegerField(required=False, min_value=1, help_text="Stations in the first wave (default 1)…")
    canary_percent = forms.FloatField(required=False, min_value=0.01, max_value=100,
                                      help_text="…or this share of the stations, rounded up.")
    growth_factor = forms.FloatField(required=False, min_value=1,
                                     help_text="Each next wave this many times the last (default 2)…")
    wave_sizes = forms.CharField(required=False, max_length=500,
                                 help_text="…or these sizes after the canary, comma separated (the last one repeated).")

    class Meta:
        model = FirmwareRollout
        fields = ["name", "firmware", "failure_threshold_percent", "wave_timeout_minutes", "retries", "retry_interval"]

    def __init__(self, *args, candidates=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.candidates = candidates

    def clean_wave_sizes(self) -> list[int] | None:
        items = _items(self.cleaned_data["wave_sizes"])
        if not items:
            return None
        if not all(item.isdigit() and int(item) > 0 for item in items):
            raise forms.ValidationError("Whole numbers of stations, at least 1 each.")
        return [int(item) for item in items]

    def clean(self):
        from .services.rollouts import firmware_rollout_plan

        cleaned = super().clean()
        if self.errors:
            return cleaned
        arguments = self.selection_arguments()
        if not any(arguments[name] for name in ("station_ids", "vendor", "model", "firmware_versions", "partner")):
            raise forms.ValidationError("Choose the stations: a list, a vendor, a model, current versions or a partner.")
        try:
            firmware_rollout_plan(candidates=self.candidates, **arguments)
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from None
        return cleaned

    def selection_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "firmware": data["firmware"], "station_ids": _items(data["stations"]) or None, "vendor": data["vendor"],
            "model": data["model"], "firmware_versions": _items(data["firmware_versions"]) or None,
            "partner": data["partner"], "canary": data["canary"], "canary_percent": data["canary_percent"],
            "growth_factor": data["growth_factor"], "wave_sizes": data["wave_sizes"],
            "failure_threshold_percent": data["failure_threshold_percent"],
            "wave_timeout_minutes": data["wave_timeout_minutes"], "retries": data["retries"],
            "retry_interval": data["retry_interval"],
        }
