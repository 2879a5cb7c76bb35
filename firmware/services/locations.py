"""Where stations fetch firmware and upload diagnostics: locations given by operators, and the URLs
this CSMS serves over HTTP(S) and FTP (docs/adr/0051-serving-firmware.md,
docs/adr/0052-diagnostics-uploads.md, docs/adr/0056-ftp-server.md)."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from django.conf import settings

from csms.errors import Invalid

LOCATION_SCHEMES = frozenset({"http", "https", "ftp", "ftps", "sftp"})
# The port of a standalone FTP server (python -m firmware.ftp) when CSMS_FTP_PORT does not say.
FTP_DEFAULT_PORT = 2121
# What a location shows instead of its password once sent (the station got the real one).
HIDDEN_PASSWORD = "********"
# The port the FTP server embedded in this process listens on (it may have chosen a free one).
_embedded_ftp_port: int | None = None
# Security Whitepaper field sizes.
SIGNED_LOCATION_MAX = 512


def public_base_url(request=None) -> str:
    """Where stations reach this CSMS over HTTP(S): CSMS_PUBLIC_URL, else the URL the request came to."""
    if settings.CSMS_PUBLIC_URL:
        return settings.CSMS_PUBLIC_URL
    if request is not None:
        return request.build_absolute_uri("/").rstrip("/")
    raise Invalid("CSMS_PUBLIC_URL is not set and there is no request to derive the CSMS's address from")


def location_validate(location: str, *, max_length: int | None = None) -> str:
    location = (location or "").strip()
    parts = urlsplit(location)
    if parts.scheme.lower() not in LOCATION_SCHEMES or not parts.netloc:
        raise Invalid(f"location must be an absolute {', '.join(sorted(LOCATION_SCHEMES))} URL")
    if any(char.isspace() or ord(char) < 32 for char in location):
        raise Invalid("location must not contain spaces or control characters")
    if max_length is not None and len(location) > max_length:
        raise Invalid(f"location has at most {max_length} characters here")
    return location


def firmware_download_url(*, base_url: str, token: str, filename: str) -> str:
    return f"{base_url}/firmware/download/{token}/{quote(filename or 'firmware.bin')}"


def diagnostics_upload_url(*, base_url: str, token: str) -> str:
    return f"{base_url}/diagnostics/upload/{token}/"


def embedded_ftp_port_set(port: int | None) -> None:
    global _embedded_ftp_port
    _embedded_ftp_port = port


def ftp_address(base_url: str) -> tuple[str, int]:
    """The host and port stations reach the FTP server at."""
    host = settings.CSMS_FTP_PUBLIC_HOST or urlsplit(base_url).hostname
    if not host:
        raise Invalid("CSMS_FTP_PUBLIC_HOST is not set and the CSMS's own address is unknown")
    return host, _embedded_ftp_port or settings.CSMS_FTP_PORT or FTP_DEFAULT_PORT


def ftp_location(*, host: str, port: int, username: str, password: str, path: str = "") -> str:
    """An FTP URL carrying its credentials (RFC 1738); `path` is relative to the account's directory."""
    netloc_host = f"[{host}]" if ":" in host else host
    # '*' may stand in a URL's userinfo (RFC 3986 sub-delims): the hidden password stays readable.
    return f"ftp://{quote(username, safe='')}:{quote(password, safe='*')}@{netloc_host}:{port}/{quote(path)}"
