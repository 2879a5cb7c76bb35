"""Fixtures of the firmware tests: stored firmware files (removed afterwards) and partner API clients."""

import uuid

import pytest
from django.core.files.base import ContentFile

from csms.testing import Api


@pytest.fixture
def make_firmware(transactional_db):
    """Store a firmware the way an operator does in admin (the file lands in MEDIA_ROOT)."""
    from firmware.services import files
    from firmware.models import Firmware

    made = []

    def make(content: bytes | None = b"firmware image", filename: str = "image.bin", **fields):
        firmware = Firmware(name=fields.pop("name", f"FW {uuid.uuid4().hex[:6]}"), **fields)
        if content is not None:
            firmware.file.save(filename, ContentFile(content), save=False)
        firmware.save()
        files.firmware_file_describe(firmware=firmware)
        made.append(firmware)
        return firmware

    yield make
    from firmware.services.files import stored_file_delete

    for firmware in made:
        if firmware.file:
            stored_file_delete(firmware.file.storage, firmware.file.name)


@pytest.fixture
def uploads_cleanup(transactional_db):
    """Remove the files stations uploaded during a test."""
    yield
    from firmware.models import DiagnosticsRequest
    from firmware.services.files import stored_file_delete

    for row in DiagnosticsRequest.objects.exclude(file=""):
        stored_file_delete(row.file.storage, row.file.name)


@pytest.fixture
def partner_api(node, transactional_db):
    """make(partner_name) → (Partner, Api as a user of that partner)."""
    from partners.services import partner_user_create

    def make(partner_name: str):
        partner, token = partner_user_create(partner_name=partner_name, username=f"fw-{uuid.uuid4().hex[:8]}")
        return partner, Api(node.http, token.key)

    return make


@pytest.fixture(scope="session")
def ftp_node(test_database_url):
    """A node serving FTP itself, as `make run` does (on a free port that its locations name)."""
    from csms.testing import Node

    started = Node(test_database_url, env={"CSMS_FTP_EMBEDDED": "1", "CSMS_UPLOAD_MAX_MB": "2"}).start()
    yield started
    started.stop()


@pytest.fixture
def ftp_server(transactional_db, settings):
    """The FTP server in this process (same database), for what needs settings of its own (TLS, passive
    ports, limits): start(**settings) → (host, port)."""
    import threading

    from firmware.ftp import ftp_server as make_server

    servers = []

    def start(**overrides):
        for name, value in overrides.items():
            setattr(settings, name, value)
        settings.CSMS_FTP_HOST = "127.0.0.1"
        settings.CSMS_FTP_PORT = 0
        server = make_server(0)
        threading.Thread(target=server.serve_forever, kwargs={"handle_exit": False}, daemon=True).start()
        servers.append(server)
        return server.address[:2]

    yield start
    for server in servers:
        server.close_all()
