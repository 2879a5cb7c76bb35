"""Admin forms: the parameters of certificate Calls and of the steps on a certificate request."""

from __future__ import annotations

from django import forms

from csms.admin.forms import CallForm

from . import pki
from .models import CertificateUse

BOTH = "both"


def pem_field(label: str, max_length: int, help_text: str) -> forms.CharField:
    return forms.CharField(label=label, max_length=max_length, strip=False, help_text=help_text,
                           widget=forms.Textarea(attrs={"rows": 14, "cols": 70, "style": "font-family:monospace"}))


class TriggerSigningForm(CallForm):
    """ExtendedTriggerMessage(SignChargePointCertificate): nothing to ask."""

    def payload(self) -> dict:
        return {"requestedMessage": "SignChargePointCertificate"}


class InstallCertificateForm(CallForm):
    certificate_type = forms.ChoiceField(choices=CertificateUse.choices)
    certificate = pem_field("Certificate (PEM)", 5500, "One X.509 root certificate, PEM encoded.")

    def clean_certificate(self):
        try:
            return pki.to_pem(pki.load_certificate(self.cleaned_data["certificate"]))
        except pki.PKIError as exc:
            raise forms.ValidationError(str(exc)) from None

    def payload(self) -> dict:
        return {"certificateType": self.cleaned_data["certificate_type"], "certificate": self.cleaned_data["certificate"]}


class RefreshCertificatesForm(CallForm):
    certificate_type = forms.ChoiceField(choices=[(BOTH, "both types"), *CertificateUse.choices], initial=BOTH)

    def payload(self) -> dict:
        choice = self.cleaned_data["certificate_type"]
        return {} if choice == BOTH else {"certificateType": choice}


class UploadChainForm(forms.Form):
    certificate_chain = pem_field("Signed certificate chain (PEM)", 10000,
                                  "The station's certificate first, then the sub-CA certificates it needs.")


class DeleteCertificatesForm(forms.Form):
    force = forms.BooleanField(required=False, label="Even the last CentralSystemRootCertificate",
                               help_text="Without it the station cannot verify the CSMS and will not reconnect over TLS.")
