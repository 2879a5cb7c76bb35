"""Vendor handlers for station-initiated DataTransfer.

A handler is registered per vendorId with `@vendor("com.example")` and answers
(status, data) for a station's (messageId, data). Vendors listed in CSMS_DATATRANSFER_VENDORS are
accepted and stored without code of their own. Anything else is `UnknownVendorId`; every
DataTransfer is stored whatever the answer.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings

VendorHandler = Callable[[str, str | None, str | None], tuple[str, str | None]]

_vendors: dict[str, VendorHandler] = {}


def vendor(vendor_id: str):
    def register(func: VendorHandler) -> VendorHandler:
        _vendors[vendor_id] = func
        return func

    return register


def dispatch(station_id: str, vendor_id: str, message_id: str | None, data: str | None) -> tuple[str, str | None]:
    handler = _vendors.get(vendor_id)
    if handler is not None:
        return handler(station_id, message_id, data)
    if vendor_id in settings.CSMS_DATATRANSFER_VENDORS:
        return "Accepted", None
    return "UnknownVendorId", None


@vendor("org.csms")
def csms_vendor(station_id: str, message_id: str | None, data: str | None) -> tuple[str, str | None]:
    """This CSMS's own vendorId: `Ping` echoes its data, so installers can test the round trip."""
    if message_id == "Ping":
        return "Accepted", data
    return "UnknownMessageId", None
