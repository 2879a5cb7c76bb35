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
