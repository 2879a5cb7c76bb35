"""The FTP(S) server stations upload diagnostics and logs to and download firmware from, with the
one-time credentials their location carries (docs/adr/0056-ftp-server.md).

Each login is checked against the database (the account, its request or update, its expiry); a
session sees one directory only: an empty one of its own to upload into, or the directory holding
its firmware file. A finished upload joins its diagnostics request in the same storage as an HTTP
upload before the station hears 226. Sessions run in threads of their own (pyftpdlib's
ThreadedFTPServer), each giving its database connection back after every use.

Production: `python -m firmware.ftp` (docker-compose service `ftp`). Embedded (`make run`): the node
starts it in a thread (firmware/node.py).
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import socket
import tempfile
import threading

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csms.settings")

from django.conf import settings  # noqa: E402
from django.db import DatabaseError, connections  # noqa: E402
from pyftpdlib.authorizers import AuthenticationFailed  # noqa: E402
from pyftpdlib.filesystems import AbstractedFS  # noqa: E402
from pyftpdlib.handlers import DTPHandler, FTPHandler, TLS_DTPHandler, TLS_FTPHandler  # noqa: E402
from pyftpdlib.ioloop import IOLoop  # noqa: E402
from pyftpdlib.servers import ThreadedFTPServer  # noqa: E402

logger = logging.getLogger("firmware.ftp")  # also when run as __main__

# Where uploads arrive before they join their request (under MEDIA_ROOT: same file system, cheap copy).
INCOMING = "ftp-incoming"
UPLOAD_PERMS = "elwa"  # change directory, list, store, append (resume)
DOWNLOAD_PERMS = "elr"  # change directory, list, retrieve


def _db(func, /, *args, **kwargs):
    """Database work from a session's thread; the connection goes back at once (sessions idle long)."""
    try:
        return func(*args, **kwargs)
    finally:
        connections.close_all()


def _incoming_root() -> str:
    path = os.path.join(settings.MEDIA_ROOT, INCOMING)
    os.makedirs(path, exist_ok=True)
    return path


class SessionAuthorizer:
    """The authorizer of one session (each handler has its own): what its one account grants."""

    def __init__(self):
        self.grant = None
        self.home = ""

    def validate_authentication(self, username, password, handler):
        from .services.ftp_accounts import FtpRefused, ftp_login

        self.release()
        try:
            self.grant = _db(ftp_login, username=username, password=password)
        except FtpRefused as exc:
            raise AuthenticationFailed(str(exc)) from None
        if self.grant.upload:
            self.home = tempfile.mkdtemp(prefix=f"{username}-", dir=_incoming_root())
        else:
            self.home = self.grant.directory

    def release(self) -> None:
        """Forget the grant; an upload directory goes with it (what was received has been stored)."""
        if self.grant is not None and self.grant.upload and self.home:
            shutil.rmtree(self.home, ignore_errors=True)
        self.grant, self.home = None, ""

    def get_home_dir(self, username):
        return self.home

    def get_perms(self, username):
        if self.grant is None:
            return ""
        return UPLOAD_PERMS if self.grant.upload else DOWNLOAD_PERMS

    def has_perm(self, username, perm, path=None):
        return perm in self.get_perms(username)

    def get_msg_login(self, username):
        return "Logged in: upload the file here." if self.grant.upload else "Logged in: the firmware is here."

    def get_msg_quit(self, username):
        return "Goodbye."

    def impersonate_user(self, username, password):
        pass

    def terminate_impersonation(self, username):
        pass


class _LimitedFile:
    """A file being received that refuses to grow past the upload limit (the transfer ends with 552)."""

    def __init__(self, handle, limit: int):
        self._handle, self.limit, self.too_large = handle, limit, False

    def write(self, data):
        if self._handle.tell() + len(data) > self.limit:
            self.too_large = True
            raise OSError(errno.EFBIG, f"uploads are limited to {self.limit} bytes")
        return self._handle.write(data)

    def __getattr__(self, name):
        return getattr(self._handle, name)


class SessionFS(AbstractedFS):
    """The session's directory as its root (no way above it); received files are size-limited."""

    def open(self, filename, mode):
        from .services.files import upload_max_bytes

        handle = super().open(filename, mode)
        if any(flag in mode for flag in "wa+"):
            return _LimitedFile(handle, upload_max_bytes())
        return handle


class _StoringDTP:
    """A data channel that, for a finished upload, stores the file before the station hears 226:
    once it hears it, the file is in the CSMS."""

    def close(self):
        if not self._closed and self.receive and self.file_obj is not None:
            if getattr(self.file_obj, "too_large", False):  # RFC 959: exceeded storage allocation
                self._resp = (f"552 Uploads are limited to {self.file_obj.limit} bytes; transfer aborted.", logger.info)
            elif self.transfer_finished:
                self.file_obj.close()
                refusal = self.cmd_channel.upload_finished(self.file_obj.name)
                if refusal:
                    self._resp = (f"550 {refusal}.", logger.info)
        super().close()


class StoringDTPHandler(_StoringDTP, DTPHandler):
    pass


class StoringTLSDTPHandler(_StoringDTP, TLS_DTPHandler):
    pass


class _Session:
    """What the CSMS adds to an FTP session: its own authorizer, transfers checked against the
    database again (a station that reported Uploaded closes the location), uploads stored, downloads
    counted."""

    abstracted_fs = SessionFS
    banner = "CSMS FTP server ready."
    auth_failed_timeout = 1
    timeout = 300

    def __init__(self, conn, server, ioloop=None):
        self.authorizer = SessionAuthorizer()
        super().__init__(conn, server, ioloop=ioloop)

    def ftp_PASS(self, line):
        try:
            return super().ftp_PASS(line)
        except DatabaseError:  # the credentials may be right: say "later", not "wrong"
            logger.exception("FTP login could not be checked")
            self.respond("421 Service not available, try again later.")
            self.close_when_done()
            return None

    def _refusal(self) -> str:
        """The reply refusing a transfer now ("" to go ahead): the account is checked at each one."""
        from .services.ftp_accounts import FtpRefused, ftp_account_check

        try:
            _db(ftp_account_check, account_id=self.authorizer.grant.account_id)
        except FtpRefused as exc:
            return f"550 {exc}."
        except DatabaseError:
            logger.exception("FTP transfer could not be checked")
            return "451 Service not available, try again later."
        return ""

    def ftp_STOR(self, file, mode="w"):
        refusal = self._refusal()
        if refusal:
            self.respond(refusal)
            return None
        return super().ftp_STOR(file, mode)

    def ftp_RETR(self, file):
        refusal = self._refusal()
        if refusal:
            self.respond(refusal)
            return None
        return super().ftp_RETR(file)

    def upload_finished(self, path: str) -> str:
        """Store a received file with its request; the reason when it is refused ("" when stored)."""
        from .services.ftp_accounts import FtpRefused, ftp_upload_store

        try:
            _db(ftp_upload_store, account_id=self.authorizer.grant.account_id, path=path,
                filename=os.path.basename(path))
        except FtpRefused as exc:
            return str(exc)
        except Exception:
            logger.exception("FTP upload %s could not be stored", path)
            return "the file could not be stored"
        finally:
            _remove(path)
        return ""

    def on_incomplete_file_received(self, file):
        _remove(file)

    def on_file_sent(self, file):
        from .services.updates import firmware_download_record

        if self.authorizer.grant is not None and self.authorizer.grant.firmware_target_id is not None:
            try:
                _db(firmware_download_record, target_id=self.authorizer.grant.firmware_target_id)
            except DatabaseError:
                logger.exception("an FTP firmware download could not be counted")

    def on_logout(self, username):
        self.authorizer.release()

    def close(self):
        super().close()
        self.authorizer.release()


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


class SessionHandler(_Session, FTPHandler):
    dtp_handler = StoringDTPHandler


class TLSSessionHandler(_Session, TLS_FTPHandler):
    dtp_handler = StoringTLSDTPHandler


def _masquerade_address() -> str | None:
    """The address passive replies announce, when stations reach the server at another one (NAT)."""
    host = settings.CSMS_FTP_PUBLIC_HOST
    if not host:
        return None
    try:
        return socket.gethostbyname(host)
    except OSError:
        logger.warning("CSMS_FTP_PUBLIC_HOST %r does not resolve: passive replies give the local address", host)
        return None


def _handler_class():
    tls = bool(settings.CSMS_FTP_TLS_CERT_FILE and settings.CSMS_FTP_TLS_KEY_FILE)
    base = TLSSessionHandler if tls else SessionHandler
    attributes = {"passive_ports": settings.CSMS_FTP_PASSIVE_PORTS, "masquerade_address": _masquerade_address()}
    if tls:
        attributes.update(certfile=settings.CSMS_FTP_TLS_CERT_FILE, keyfile=settings.CSMS_FTP_TLS_KEY_FILE,
                          tls_control_required=settings.CSMS_FTP_TLS_REQUIRED,
                          tls_data_required=settings.CSMS_FTP_TLS_REQUIRED)
    return type("ConfiguredSessionHandler", (base,), attributes)


def ftp_server(port: int) -> ThreadedFTPServer:
    """A server bound to CSMS_FTP_HOST:`port` (0: a free port), configured from the settings."""
    server = ThreadedFTPServer((settings.CSMS_FTP_HOST, port), _handler_class(), ioloop=IOLoop())
    server.max_cons = settings.CSMS_FTP_MAX_CONNECTIONS
    return server


def start_embedded() -> ThreadedFTPServer:
    """Serve in a thread of this process (the node, without a separate FTP service); the locations
    this process makes name the port it got."""
    from .services.locations import embedded_ftp_port_set

    server = ftp_server(settings.CSMS_FTP_PORT)
    port = server.address[1]
    embedded_ftp_port_set(port)
    threading.Thread(target=server.serve_forever, kwargs={"handle_exit": False}, name="csms-ftp", daemon=True).start()
    scheme = "FTPS (explicit TLS)" if issubclass(server.handler, TLS_FTPHandler) else "FTP"
    print(f"CSMS {scheme} server for stations on {settings.CSMS_FTP_HOST}:{port}", flush=True)
    return server


def main() -> None:
    import django

    django.setup()
    from .services.locations import FTP_DEFAULT_PORT

    server = ftp_server(settings.CSMS_FTP_PORT or FTP_DEFAULT_PORT)
    print(f"CSMS FTP server for stations on {settings.CSMS_FTP_HOST}:{server.address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
