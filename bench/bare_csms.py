"""A bare OCPP 1.6J central system: the `ocpp` package's ChargePoint on `websockets`, storing nothing.

    .venv/bin/python bench/bare_csms.py --port 9000

The baseline of `bench/run.py --scenario ratio`: what Python answers per second on this machine
when a message costs only the protocol (WebSocket framing, JSON, the package's schema validation
of every Call and CallResult, routing to a handler) and no storage. It is meant to be a fair
baseline, so it uses the package as its documentation does: one `ChargePoint` per connection,
`@on` handlers returning `call_result` dataclasses, schema validation on (in the default executor,
as shipped), default `websockets` server settings. It answers every station action the bench sends
and any other the package routes (with the package's own CallError for the rest).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import signal
import sys
from datetime import datetime, timezone

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.datatypes import IdTagInfo
from ocpp.v16.enums import Action, AuthorizationStatus, RegistrationStatus
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

SUBPROTOCOL = "ocpp1.6"
_transaction_ids = itertools.count(1)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


class CentralSystemChargePoint(ChargePoint):
    """The central system's view of one station: answers, no storage."""

    @on(Action.boot_notification)
    def on_boot_notification(self, charge_point_vendor: str, charge_point_model: str, **kwargs):
        return call_result.BootNotification(current_time=now_iso(), interval=300, status=RegistrationStatus.accepted)

    @on(Action.heartbeat)
    def on_heartbeat(self):
        return call_result.Heartbeat(current_time=now_iso())

    @on(Action.status_notification)
    def on_status_notification(self, connector_id: int, error_code: str, status: str, **kwargs):
        return call_result.StatusNotification()

    @on(Action.authorize)
    def on_authorize(self, id_tag: str):
        return call_result.Authorize(id_tag_info=IdTagInfo(status=AuthorizationStatus.accepted))

    @on(Action.start_transaction)
    def on_start_transaction(self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **kwargs):
        return call_result.StartTransaction(transaction_id=next(_transaction_ids),
                                            id_tag_info=IdTagInfo(status=AuthorizationStatus.accepted))

    @on(Action.stop_transaction)
    def on_stop_transaction(self, meter_stop: int, timestamp: str, transaction_id: int, **kwargs):
        return call_result.StopTransaction(id_tag_info=IdTagInfo(status=AuthorizationStatus.accepted))

    @on(Action.meter_values)
    def on_meter_values(self, connector_id: int, meter_value: list, **kwargs):
        return call_result.MeterValues()

    @on(Action.data_transfer)
    def on_data_transfer(self, vendor_id: str, **kwargs):
        return call_result.DataTransfer(status="Accepted")


async def on_connect(connection) -> None:
    if connection.subprotocol != SUBPROTOCOL:
        await connection.close()  # OCPP-J 4.1.2: no common subprotocol
        return
    station_id = connection.request.path.rstrip("/").rsplit("/", 1)[-1]
    try:
        await CentralSystemChargePoint(station_id, connection).start()
    except ConnectionClosed:
        pass


async def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    stop = asyncio.get_running_loop().create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, lambda: stop.done() or stop.set_result(None))
    async with serve(on_connect, args.host, args.port, subprotocols=[SUBPROTOCOL]):
        print(f"bare central system on ws://{args.host}:{args.port}/ocpp/{{chargeBoxId}}", flush=True)
        await stop
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
