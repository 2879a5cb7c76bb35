"""One-time FTP accounts: the credentials an FTP location carries, and what a session logged in with
them may do — upload one diagnostics request's file, or download one firmware update's image
(docs/adr/0056-ftp-server.md). The FTP server (firmware/ftp.py) calls these; they know no FTP."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.db.models import F
from django.utils import timezone

from .. import selectors
from ..models import DiagnosticsRequest, FirmwareUpdateTarget, FtpAccount, safe_filename
from .files import UPLOAD_CHUNK, UploadRefused, diagnostics_upload_store
from .locations import HIDDEN_PASSWORD, ftp_address, ftp_location


class FtpRefused(Exception):
    """What the FTP server answers instead (530 at login, 550 for a transfer)."""


@dataclass(frozen=True)
class FtpGrant:
    """What one logged-in session may do."""

    account_id: int
    upload: bool
    firmware_target_id: int | None
    # Downloads: the directory holding the firmware file (and nothing else). Uploads: "" (the server
    # receives into a directory of the session's own).
    directory: str


def _digest(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def ftp_account_open(*, expires_at: datetime, diagnostics_request: DiagnosticsRequest | None = None,
                     firmware_target: FirmwareUpdateTarget | None = None) -> FtpAccount:
    """An account for one upload or one download; it has no password until one is issued."""
    prefix = "u" if diagnostics_request is not None else "f"
    return FtpAccount.objects.create(username=prefix + secrets.token_hex(6), diagnostics_request=diagnostics_request,
                                     firmware_target=firmware_target, expires_at=expires_at)


def ftp_account_location(*, account: FtpAccount, base_url: str, path: str = "") -> str:
    """The account's location as stored and shown: its password hidden."""
    host, port = ftp_address(base_url)
    return ftp_location(host=host, port=port, username=account.username, password=HIDDEN_PASSWORD, path=path)


def ftp_location_issue(*, account: FtpAccount, location: str, expires_at: datetime | None = None) -> str:
    """The location to send: `location` (as ftp_account_location made it) with a new random password.
    Any password issued before stops working; only the new one's hash is kept."""
    password = secrets.token_urlsafe(18)  # URL-safe: it goes in the location as it is
    account.password_hash = _digest(password)
    fields = ["password_hash"]
    if expires_at is not None:
        account.expires_at = expires_at
        fields.append("expires_at")
    account.save(update_fields=fields)
    return location.replace(f":{HIDDEN_PASSWORD}@", f":{password}@", 1)


def ftp_login(*, username: str, password: str) -> FtpGrant:
    account = selectors.ftp_account_by_username(username)
    if account is None or not account.password_hash or not hmac.compare_digest(account.password_hash, _digest(password)):
        raise FtpRefused("Authentication failed.")
    refusal = selectors.ftp_account_refusal(account)
    if refusal:
        raise FtpRefused(refusal)
    FtpAccount.objects.filter(pk=account.pk).update(logins=F("logins") + 1, last_login_at=timezone.now())
    if account.diagnostics_request_id is not None:
        return FtpGrant(account.pk, upload=True, firmware_target_id=None, directory="")
    firmware = account.firmware_target.update.firmware
    return FtpGrant(account.pk, upload=False, firmware_target_id=account.firmware_target_id,
                    directory=os.path.dirname(firmware.file.path))


def ftp_account_check(*, account_id: int) -> None:
    """Raise FtpRefused when the account may no longer transfer (checked again before each transfer)."""
    account = FtpAccount.objects.select_related("diagnostics_request", "firmware_target__update__firmware").get(
        pk=account_id)
    refusal = selectors.ftp_account_refusal(account)
    if refusal:
        raise FtpRefused(refusal)


def ftp_upload_store(*, account_id: int, path: str, filename: str) -> DiagnosticsRequest:
    """A file received over FTP joins its request, in the same storage as an HTTP upload."""
    request = FtpAccount.objects.select_related("diagnostics_request").get(pk=account_id).diagnostics_request
    fallback = safe_filename(request.file_name, f"{request.kind}-{request.pk}.bin")
    with open(path, "rb") as handle:
        try:
            return diagnostics_upload_store(request=request, chunks=iter(lambda: handle.read(UPLOAD_CHUNK), b""),
                                            filename=safe_filename(filename, fallback))
        except UploadRefused as exc:
            raise FtpRefused(str(exc)) from None
