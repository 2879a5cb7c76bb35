"""Admin forms: a firmware file, and the parameters of the station actions "Update firmware…" and
"Request diagnostics / logs…". The services check everything again; these only catch typing errors."""

from __future__ import annotations

from django import forms

from csms.errors import DomainError

from .services import files
from .models import Firmware, LogType

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
    location = forms.CharField(required=False, max_length=2000, widget=forms.TextInput(attrs={"size": 80}),
                               help_text="Empty: the station uploads to the CSMS (HTTP). Give an FTP URL for stations "
                                         "that upload only over FTP; the file then does not reach the CSMS.")

    def clean(self):
        cleaned = super().clean()
        start, stop = cleaned.get("start_time"), cleaned.get("stop_time")
        if start and stop and stop < start:
            raise forms.ValidationError("The stop time is before the start time.")
        return cleaned

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {name: data[name] for name in ("log_type", "start_time", "stop_time", "retries", "retry_interval", "location")}
