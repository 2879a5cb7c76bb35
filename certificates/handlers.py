"""OCPP handlers and result handlers of this app (imported by AppConfig.ready).

SignCertificate is answered here; the answers to CertificateSigned, ExtendedTriggerMessage,
InstallCertificate, DeleteCertificate and GetInstalledCertificateIds are persisted whoever sent the
call (this app's API and admin, or by hand through POST /api/v1/stations/{id}/calls/).
"""

from csms.ocpp.router import CallContext, handles, on_failure, on_result

from . import pki
from .services import installed, signing
from .models import RequestStatus


@handles("SignCertificate")
def sign_certificate(ctx: CallContext, payload: dict) -> dict:
    request = signing.certificate_request_receive(station_id=ctx.station_id, csr=payload["csr"])
    return {"status": "Rejected" if request.status == RequestStatus.REJECTED else "Accepted"}


@on_result("CertificateSigned")
def certificate_signed_result(call, response: dict) -> None:
    signing.certificate_signed_answered(call=call, status=response["status"])


@on_failure("CertificateSigned")
def certificate_signed_failed(call) -> None:
    signing.certificate_signed_answered(call=call, status=None)


@on_result("ExtendedTriggerMessage")
def extended_trigger_message_result(call, response: dict) -> None:
    signing.signing_trigger_answered(call=call, status=response["status"])


@on_failure("ExtendedTriggerMessage")
def extended_trigger_message_failed(call) -> None:
    signing.signing_trigger_answered(call=call, status=None)


@on_result("InstallCertificate")
def install_certificate_result(call, response: dict) -> None:
    installed.certificate_install_answered(call=call, status=response["status"])


@on_result("DeleteCertificate")
def delete_certificate_result(call, response: dict) -> None:
    installed.certificate_delete_answered(call=call, status=response["status"])


@on_result("GetInstalledCertificateIds")
def get_installed_certificate_ids_result(call, response: dict) -> None:
    reported = [pki.HashData.from_ocpp(item) for item in response.get("certificateHashData", [])]
    installed.installed_certificates_reported(call=call, status=response["status"], reported=reported)


@on_failure("InstallCertificate")
@on_failure("DeleteCertificate")
@on_failure("GetInstalledCertificateIds")
def certificate_call_failed(call) -> None:
    installed.certificate_call_failed(call=call)
