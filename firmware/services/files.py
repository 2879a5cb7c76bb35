"""Stored files: firmware files operators upload, files stations upload, and their deletion."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from csms.errors import Forbidden, Invalid
from partners.selectors import acting_user, is_staff

from .. import selectors
from ..models import DiagnosticsRequest, DiagnosticsState, Firmware
from .locations import location_validate

# Security Whitepaper field sizes.
SIGNING_CERTIFICATE_MAX = 5500
SIGNATURE_MAX = 800
UPLOAD_CHUNK = 256 * 1024


class UploadRefused(Exception):
    """A file an upload location does not take."""


class UploadTooLarge(UploadRefused):
    pass


class UploadClosed(UploadRefused):
    """The station reported the upload done, or the location expired."""


def upload_max_bytes() -> int:
    return settings.CSMS_UPLOAD_MAX_MB * 1024 * 1024


def stored_file_delete(storage, name: str) -> None:
    """Delete a stored file and the directories it leaves empty below its top folder (firmware/, diagnostics/)."""
    storage.delete(name)
    if not hasattr(storage, "path"):
        return
    parts = name.split("/")[:-1]
    while len(parts) > 1:
        try:
            os.rmdir(storage.path("/".join(parts)))
        except OSError:
            return  # not empty, or already gone
        parts.pop()


def firmware_file_describe(*, firmware: Firmware) -> Firmware:
    """Record the stored file's size and SHA-256 (shown to operators, compared by vendors)."""
    if not firmware.file:
        firmware.size, firmware.sha256 = None, ""
    else:
        digest, size = hashlib.sha256(), 0
        with firmware.file.open("rb") as handle:
            for chunk in iter(lambda: handle.read(UPLOAD_CHUNK), b""):
                digest.update(chunk)
                size += len(chunk)
        firmware.size, firmware.sha256 = size, digest.hexdigest()
    firmware.save(update_fields=["size", "sha256", "updated_at"])
    return firmware


def firmware_validate(*, has_file: bool, external_location: str, signing_certificate: str, signature: str) -> None:
    """What a firmware entry must be: a file or a location, and a complete signature or none."""
    if has_file == bool(external_location):
        raise Invalid("give either a file or an external location")
    if external_location:
        location_validate(external_location)
    if bool(signing_certificate) != bool(signature):
        raise Invalid("a signed firmware needs both the signing certificate and the signature")
    if len(signing_certificate) > SIGNING_CERTIFICATE_MAX or len(signature) > SIGNATURE_MAX:
        raise Invalid(f"the certificate has at most {SIGNING_CERTIFICATE_MAX} characters, the signature {SIGNATURE_MAX}")


@transaction.atomic
def firmware_create(*, file, version: str, name: str = "", vendor: str = "", charge_point_model: str = "",
                    description: str = "", signing_certificate: str = "", signature: str = "", partner=None,
                    uploaded_by=None) -> Firmware:
    """Store a firmware file staff uploaded (the CSMS serves it to stations); its size and SHA-256 are
    recorded. Partners use the files staff provide."""
    if not is_staff(uploaded_by):
        raise Forbidden("only staff upload firmware files")
    version = version.strip()
    if not version:
        raise Invalid("version: the version stations report once they run it", details={"field": "version"})
    signing_certificate, signature = signing_certificate.strip(), signature.strip()
    firmware_validate(has_file=True, external_location="", signing_certificate=signing_certificate, signature=signature)
    firmware = Firmware(name=(name or " ".join(filter(None, (vendor, charge_point_model, version))))[:100],
                        version=version, vendor=vendor, charge_point_model=charge_point_model, description=description,
                        signing_certificate=signing_certificate, signature=signature, partner=partner,
                        uploaded_by=acting_user(uploaded_by))
    firmware.file.save(file.name, file, save=False)
    firmware.save()
    return firmware_file_describe(firmware=firmware)


def diagnostics_upload_store(*, request: DiagnosticsRequest, chunks: Iterable[bytes], filename: str,
                             content_type: str = "") -> DiagnosticsRequest:
    """Keep a file a station uploaded (a later upload for the same request replaces it, until the
    station reports the upload done or the location expires: UploadClosed)."""
    limit = upload_max_bytes()
    digest, size = hashlib.sha256(), 0
    with tempfile.TemporaryFile() as spool:
        for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise UploadTooLarge(f"uploads are limited to {limit} bytes")
            digest.update(chunk)
            spool.write(chunk)
        spool.seek(0)
        with transaction.atomic():
            request = DiagnosticsRequest.objects.select_for_update().get(pk=request.pk)
            refusal = selectors.diagnostics_upload_refusal(request)
            if refusal:
                raise UploadClosed(refusal)
            previous = request.file.name if request.file else ""
            request.file.save(filename, File(spool), save=False)
            request.file_size = size
            request.file_sha256 = digest.hexdigest()
            request.file_content_type = (content_type or "")[:100]
            request.uploaded_at = timezone.now()
            request.state = DiagnosticsState.UPLOADED
            request.detail = ""
            request.save()
            if previous and previous != request.file.name:
                storage = request.file.storage
                transaction.on_commit(lambda: stored_file_delete(storage, previous))
    return request
