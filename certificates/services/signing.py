"""Certificate requests, from ExtendedTriggerMessage or a station's CSR (SignCertificate) to the
CertificateSigned it accepts (A02/A03; docs/adr/0060, 0062, 0063)."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from csms.errors import DomainError, Invalid, NotFound
from csms.ocpp.calls import StationOffline, call_enqueue
from csms.ocpp.models import Call, CallStatus
from stations.models import ChargeStation

from .. import pki, selectors, signers
from ..models import (
    CANCELLABLE_STATUSES,
    DELIVERABLE_STATUSES,
    OPEN_STATUSES,
    SIGNABLE_STATUSES,
    CertificateRequest,
    RequestStatus,
)

logger = logging.getLogger(__name__)

SIGN_CHARGE_POINT_CERTIFICATE = "SignChargePointCertificate"
# A CSR arriving this long after an accepted ExtendedTriggerMessage answers it (A02); later, it is A03.
TRIGGER_WINDOW = timedelta(hours=1)
# Statuses after which an operator may send a different chain for the same CSR.
UPLOADABLE_STATUSES = (*SIGNABLE_STATUSES, *DELIVERABLE_STATUSES, RequestStatus.STATION_REJECTED)


class CertificateRefused(Invalid):
    """Nothing was done: the request is in the wrong state, the material is wrong (400)."""


def certificate_request_receive(*, station_id: str, csr: str) -> CertificateRequest:
    """Store a CSR, decide whether the CSMS will process it, and hand an accepted one to the signer
    after commit. Returns the request; `status` is `rejected` or `pending` (ADR 0060, 0062)."""
    now = timezone.now()
    request = _request_for_csr(station_id=station_id, now=now)
    request.csr = csr
    request.received_at = now
    problems = _inspect_into(request, csr)
    has_signer = _signer_available()
    auto_sign = has_signer and settings.CSMS_CERT_AUTO_SIGN
    if problems:
        request.status = RequestStatus.REJECTED
        request.detail = "; ".join(problems)
        logger.warning("CSR from %s rejected: %s", station_id, request.detail)
    else:
        request.status = RequestStatus.PENDING
        if auto_sign:
            request.detail = "accepted; being signed by the CA"
        elif has_signer:
            request.detail = "accepted; automatic signing is off (CSMS_CERT_AUTO_SIGN=0): an operator signs it"
        else:
            request.detail = "accepted; no CA is configured: an operator must upload the signed certificate chain"
    request = _save_linked(request)
    if request.status == RequestStatus.PENDING:
        _supersede_others(request)
        if auto_sign:
            transaction.on_commit(lambda: _schedule_signing(request.pk), robust=True)
        else:
            logger.warning("CSR #%s from %s waits for an operator: %s", request.pk, station_id, request.detail)
    return request


def _inspect_into(request: CertificateRequest, csr: str) -> list[str]:
    """Fill in what the CSR says and list what is wrong with it."""
    try:
        info = pki.inspect_csr(csr)
    except pki.PKIError as exc:
        return [str(exc)]
    request.subject = info.subject[:500]
    request.common_name = (info.common_names[0] if info.common_names else "")[:255]
    request.organization = (info.organizations[0] if info.organizations else "")[:255]
    request.key_type = info.key_type
    request.public_key_sha256 = info.fingerprint
    return csr_problems(info, station_id=request.station_id)


def csr_problems(info: pki.CsrInfo, *, station_id: str) -> list[str]:
    """What the CSMS enforces before accepting a CSR (ADR 0060)."""
    problems = []
    if not info.signature_valid:
        problems.append("the CSR's signature does not verify with the key it carries")
    if info.key_weakness:
        problems.append(info.key_weakness)
    if len(info.common_names) != 1:
        problems.append(f"the subject must have exactly one CN (the chargeBoxId), it has {len(info.common_names)}")
    elif info.common_names[0] != station_id:
        problems.append(f"the subject CN is {info.common_names[0]!r}, not the chargeBoxId {station_id!r}")
    if len(info.organizations) != 1:
        problems.append(f"the subject must have exactly one O (the station's CpoName), it has {len(info.organizations)}")
    else:
        for source, expected in selectors.expected_organizations(station_id):
            if info.organizations[0] != expected:
                problems.append(f"the subject O is {info.organizations[0]!r}, {source} is {expected!r}")
    return problems


def _signer_available() -> bool:
    try:
        return signers.configured_signer() is not None
    except Exception:  # a broken CSMS_CERT_SIGNER: the signing attempt records why
        logger.exception("the configured certificate signer cannot be loaded")
        return True


def _request_for_csr(*, station_id: str, now) -> CertificateRequest:
    """The request a new CSR belongs to: the one waiting after an accepted trigger, a new one tied
    to a trigger still in flight (its answer may come after the CSR), or a new A03 request."""
    waiting = (CertificateRequest.objects.select_for_update()
               .filter(station_id=station_id, status=RequestStatus.AWAITING_CSR, created_at__gte=now - TRIGGER_WINDOW)
               .order_by("-created_at", "-id").first())
    if waiting is not None:
        return waiting
    linked = CertificateRequest.objects.filter(station_id=station_id, trigger_call__isnull=False).values("trigger_call_id")
    triggers = (Call.objects.filter(station_id=station_id, action="ExtendedTriggerMessage",
                                    created_at__gte=now - TRIGGER_WINDOW, status__in=[CallStatus.SENT, CallStatus.COMPLETED])
                .exclude(pk__in=linked).order_by("-created_at", "-id"))
    for call in triggers:
        if call.payload.get("requestedMessage") != SIGN_CHARGE_POINT_CERTIFICATE:
            continue
        if call.status == CallStatus.SENT or (call.response or {}).get("status") == "Accepted":
            return CertificateRequest(station_id=station_id, trigger_call=call, created_at=call.created_at)
    return CertificateRequest(station_id=station_id)


def _save_linked(request: CertificateRequest) -> CertificateRequest:
    """Save; when the trigger's answer created its row meanwhile (another database thread), fill that one."""
    if request.pk is not None or request.trigger_call_id is None:
        request.save()
        return request
    try:
        with transaction.atomic():
            request.save()
        return request
    except IntegrityError:
        existing = CertificateRequest.objects.select_for_update().get(trigger_call_id=request.trigger_call_id)
        for field in ("status", "detail", "csr", "received_at", "subject", "common_name", "organization",
                      "key_type", "public_key_sha256"):
            setattr(existing, field, getattr(request, field))
        existing.save()
        return existing


def _supersede_others(request: CertificateRequest) -> None:
    """The station made a new key pair: earlier open requests of it are moot."""
    CertificateRequest.objects.filter(station_id=request.station_id, status__in=OPEN_STATUSES).exclude(pk=request.pk).update(
        status=RequestStatus.SUPERSEDED, detail=f"superseded by request #{request.pk} (a newer CSR)",
        updated_at=timezone.now(),
    )


def _schedule_signing(request_id: int) -> None:
    from ..tasks import sign_certificate_request

    sign_certificate_request.delay(request_id)


def certificate_request_sign_automatically(*, request_id: int) -> CertificateRequest:
    """The path after SignCertificate: sign with the configured CA and deliver; every failure is
    recorded on the request for an operator (A02/A03 error handling), nothing is raised."""
    try:
        return certificate_request_sign(request_id=request_id, require_online=False)
    except DomainError as exc:
        logger.warning("certificate request #%s not signed: %s", request_id, exc.message)
        return CertificateRequest.objects.get(pk=request_id)


def certificate_request_sign(*, request_id: int, requested_by=None, source: str = "system",
                             require_online: bool = True) -> CertificateRequest:
    """Have the CA sign a pending request and send the chain to the station.

    Refusals (wrong state, no CA, station offline when `require_online`) change nothing. A CA that
    fails leaves the request `signing_failed` with its reason."""
    with transaction.atomic():
        request = _locked(request_id)
        if request.status not in SIGNABLE_STATUSES:
            raise CertificateRefused(f"request #{request.pk} is {request.status}: only a pending request is signed")
        try:
            signer = signers.configured_signer()
        except Exception as exc:
            return _signing_failed(request, f"the configured signer cannot be loaded: {exc}")
        if signer is None:
            raise CertificateRefused("no CA is configured (CSMS_CA_CERT_FILE/CSMS_CA_KEY_FILE or CSMS_CERT_SIGNER): "
                                     "upload a chain signed by your CA instead")
        if require_online:
            _require_online(request.station_id)
        try:
            chain = signer.sign(csr=pki.load_csr(request.csr), station_id=request.station_id)
        except (signers.SigningError, pki.PKIError) as exc:
            return _signing_failed(request, f"{signer.name}: {exc}")
        if chain is None:  # a CA that answers later; its chain comes through certificate_request_upload
            request.detail = f"submitted to {signer.name}; waiting for its certificate"
            request.save(update_fields=["detail", "updated_at"])
            return request
        try:
            _store_chain(request, chain, signed_by=signer.name)
        except CertificateRefused as exc:
            return _signing_failed(request, f"{signer.name} returned an unusable certificate: {exc.message}")
        return _deliver_or_note(request, requested_by=requested_by, source=source, require_online=require_online)


def certificate_request_upload(*, request_id: int, certificate_chain: str, requested_by=None,
                               source: str = "api") -> CertificateRequest:
    """An operator brings the chain their CA signed; it is checked against the CSR and sent."""
    with transaction.atomic():
        request = _locked(request_id)
        if request.status not in UPLOADABLE_STATUSES:
            raise CertificateRefused(f"request #{request.pk} is {request.status}: no signed chain can be attached")
        _require_online(request.station_id)
        who = getattr(requested_by, "username", "") or source
        _store_chain(request, certificate_chain, signed_by=f"uploaded by {who}")
        return _deliver_or_note(request, requested_by=requested_by, source=source, require_online=True)


def certificate_request_deliver(*, request_id: int, requested_by=None, source: str = "api") -> CertificateRequest:
    """Send the stored chain again (after the station was offline or the call failed)."""
    with transaction.atomic():
        request = _locked(request_id)
        if request.status not in DELIVERABLE_STATUSES:
            raise CertificateRefused(f"request #{request.pk} is {request.status}: there is no undelivered certificate")
        return _deliver_or_note(request, requested_by=requested_by, source=source, require_online=True)


def certificate_request_cancel(*, request_id: int, requested_by=None) -> CertificateRequest:
    with transaction.atomic():
        request = _locked(request_id)
        if request.status not in CANCELLABLE_STATUSES:
            raise CertificateRefused(f"request #{request.pk} is {request.status}: it cannot be cancelled")
        who = getattr(requested_by, "username", "") or "an operator"
        request.status = RequestStatus.CANCELLED
        request.detail = f"cancelled by {who}; the station keeps its current certificate"
        request.save(update_fields=["status", "detail", "updated_at"])
        return request


def _locked(request_id: int) -> CertificateRequest:
    try:
        return CertificateRequest.objects.select_for_update().get(pk=request_id)
    except CertificateRequest.DoesNotExist:
        raise NotFound(f"no certificate request #{request_id}") from None


def _require_online(station_id: str) -> None:
    if not ChargeStation.objects.filter(pk=station_id, online=True).exists():
        raise StationOffline(station_id)


def _signing_failed(request: CertificateRequest, reason: str) -> CertificateRequest:
    logger.error("certificate request #%s of %s: signing failed: %s", request.pk, request.station_id, reason)
    request.status = RequestStatus.SIGNING_FAILED
    request.detail = reason
    request.save(update_fields=["status", "detail", "updated_at"])
    return request


def _store_chain(request: CertificateRequest, chain_pem: str, *, signed_by: str) -> None:
    """Keep a chain whose first certificate certifies the CSR's key and is still valid."""
    try:
        certificates = pki.load_certificates(chain_pem)
    except pki.PKIError as exc:
        raise CertificateRefused(str(exc)) from None
    leaf = certificates[0]
    if pki.public_key_fingerprint(leaf.public_key()) != request.public_key_sha256:
        raise CertificateRefused("the first certificate of the chain does not certify the CSR's public key")
    now = timezone.now()
    if pki.not_after(leaf) <= now:
        raise CertificateRefused(f"the certificate expired on {pki.not_after(leaf):%Y-%m-%d %H:%M} UTC")
    for child, parent in zip(certificates, certificates[1:]):
        if not pki.issued_by(child, parent):
            raise CertificateRefused(f"the chain is out of order: {child.subject.rfc4514_string()} is not issued by "
                                     f"{parent.subject.rfc4514_string()}")
    request.certificate_chain = "".join(pki.to_pem(certificate) for certificate in certificates)
    request.certificate_serial = pki.serial_hex(leaf.serial_number)[:40]
    request.certificate_not_before = pki.not_before(leaf)
    request.certificate_not_after = pki.not_after(leaf)
    request.signed_by = signed_by[:300]
    request.signed_at = now
    request.status = RequestStatus.SIGNED
    request.detail = ""
    request.save()


def _deliver_or_note(request: CertificateRequest, *, requested_by, source: str, require_online: bool) -> CertificateRequest:
    """Send CertificateSigned; when that is impossible, the request says why (or, for an operator
    asking, nothing changes and the refusal is raised)."""
    try:
        _check_chain_size(request)
        call = call_enqueue(station=request.station_id, action="CertificateSigned",
                            payload={"certificateChain": request.certificate_chain}, requested_by=requested_by,
                            source=source, context={"certificate_request": request.pk})
    except DomainError as exc:
        if require_online:
            raise
        request.status = RequestStatus.UNDELIVERED
        request.detail = f"signed, not sent: {exc.message}"
        request.save(update_fields=["status", "detail", "updated_at"])
        return request
    request.status = RequestStatus.SENT
    request.delivery_call = call
    request.detail = ""
    request.save(update_fields=["status", "delivery_call", "detail", "updated_at"])
    return request


def _check_chain_size(request: CertificateRequest) -> None:
    limit = selectors.certificate_signed_max_chain_size(request.station_id)
    if limit is not None and len(request.certificate_chain) > limit:
        raise CertificateRefused(f"the chain has {len(request.certificate_chain)} characters, more than the station's "
                                 f"CertificateSignedMaxChainSize {limit}")


def certificate_signed_answered(*, call: Call, status: str | None) -> None:
    """The station's answer to CertificateSigned (None: no answer), for the request it delivered."""
    request = CertificateRequest.objects.select_for_update().filter(delivery_call=call).first()
    if request is None:
        return  # sent by hand through the calls API: the call row is the record
    request.answered_at = timezone.now()
    if status == "Accepted":
        request.status = RequestStatus.INSTALLED
        request.detail = "the station accepted the certificate and switches to it once valid"
    elif status == "Rejected":
        request.status = RequestStatus.STATION_REJECTED
        request.detail = ("the station found the certificate invalid (its InvalidChargePointCertificate security "
                          "event may say more)")
    else:
        request.status = RequestStatus.UNDELIVERED
        request.detail = f"CertificateSigned failed: {call.error_code} {call.error_description}".strip()
    request.save(update_fields=["status", "detail", "answered_at", "updated_at"])


def signing_trigger_send(*, station: ChargeStation | str, requested_by=None, source: str = "api") -> Call:
    return call_enqueue(station=station, action="ExtendedTriggerMessage",
                        payload={"requestedMessage": SIGN_CHARGE_POINT_CERTIFICATE},
                        requested_by=requested_by, source=source, context={"purpose": "charge point certificate"})


def signing_trigger_answered(*, call: Call, status: str | None) -> None:
    """Open the request the trigger starts: awaiting the CSR, or closed with the station's refusal."""
    if call.payload.get("requestedMessage") != SIGN_CHARGE_POINT_CERTIFICATE:
        return
    if status == "Accepted":
        fields = {"status": RequestStatus.AWAITING_CSR, "detail": "the station will send a CSR (SignCertificate)"}
    elif status is not None:
        fields = {"status": RequestStatus.TRIGGER_REJECTED, "detail": f"the station answered {status}"}
    else:
        fields = {"status": RequestStatus.TRIGGER_FAILED,
                  "detail": f"ExtendedTriggerMessage failed: {call.error_code} {call.error_description}".strip()}
    request, created = CertificateRequest.objects.get_or_create(
        trigger_call=call, defaults={"station_id": call.station_id, "created_at": call.created_at, **fields})
    if created and request.status == RequestStatus.AWAITING_CSR:
        CertificateRequest.objects.filter(station_id=call.station_id, status=RequestStatus.AWAITING_CSR).exclude(
            pk=request.pk).update(status=RequestStatus.SUPERSEDED, detail=f"superseded by request #{request.pk} (a newer trigger)",
                                  updated_at=timezone.now())
