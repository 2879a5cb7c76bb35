"""What one station Call costs on the database thread: queries, CPU and wall time per action.

    .venv/bin/python bench/station_path.py                  # temp SQLite
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/csms_bench .venv/bin/python bench/station_path.py --sql

No node, no socket: it calls `stations.services.inbound_call_process` the way `csms.db.run_db` does
(connection hygiene before and after), after the same schema validation as the consumer. The
figures explain station_load.py's: a node's Python work is single-core (GIL), so CPU per Call
bounds its throughput (docs/adr/0041-station-path-cost-model.md).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)

from bench.fleet import SAMPLE_TEMPLATES, now_iso  # noqa: E402


def setup(tempdir: Path) -> None:
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = f"sqlite:///{tempdir / 'path.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csms.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


class Station:
    """One station's side of a charging session, producing the payloads of each action."""

    def __init__(self, station_id: str, id_tag: str, samples: int):
        self.station_id, self.id_tag, self.samples = station_id, id_tag, samples
        self.meter = 1000
        self.transaction_id = None

    def payload(self, action: str) -> dict:
        if action == "BootNotification":
            return {"chargePointVendor": "BenchVendor", "chargePointModel": "Bench-22kW"}
        if action == "Heartbeat":
            return {}
        if action == "StatusNotification":
            return {"connectorId": 1, "errorCode": "NoError", "status": "Charging", "timestamp": now_iso()}
        if action == "Authorize":
            return {"idTag": self.id_tag}
        if action == "StartTransaction":
            return {"connectorId": 1, "idTag": self.id_tag, "meterStart": self.meter, "timestamp": now_iso()}
        if action == "MeterValues":
            self.meter += 100
            values = []
            for measurand, phase, unit in SAMPLE_TEMPLATES[: self.samples]:
                value = self.meter if measurand.startswith("Energy") else 230.1
                sample = {"value": str(value), "measurand": measurand, "unit": unit}
                if phase:
                    sample["phase"] = phase
                values.append(sample)
            return {"connectorId": 1, "transactionId": self.transaction_id,
                    "meterValue": [{"timestamp": now_iso(), "sampledValue": values}]}
        if action == "StopTransaction":
            return {"transactionId": self.transaction_id, "idTag": self.id_tag, "meterStop": self.meter,
                    "timestamp": now_iso(), "reason": "Local"}
        raise ValueError(action)


SESSION = ["StatusNotification", "Authorize", "StartTransaction", "MeterValues", "MeterValues", "MeterValues",
           "Heartbeat", "StopTransaction"]


KEEP_CONNECTION = False  # --keep-connection: what run_db would cost without per-unit connection hygiene


def process(station: Station, action: str, message_id: str):
    """The consumer's work for one Call, minus the socket: validate, then run_db's unit of work."""
    from csms.db import _with_connection_hygiene
    from csms.ocpp.schemas import validate_request, validate_response
    from csms.ocpp.processing import inbound_call_process

    payload = station.payload(action)
    validate_request(action, payload)
    kwargs = {"station_id": station.station_id, "message_id": message_id, "action": action, "payload": payload}
    if KEEP_CONNECTION:
        outcome = inbound_call_process(**kwargs)
    else:  # exactly what a consumer's run_db does around the unit of work
        outcome = _with_connection_hygiene(None, inbound_call_process, (), kwargs)
    validate_response(action, outcome.response)
    if action == "StartTransaction":
        station.transaction_id = outcome.response["transactionId"]
    return outcome


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="CPU, wall time and queries per station Call, no network")
    parser.add_argument("--sessions", type=int, default=150, help="charging sessions to replay (default 150)")
    parser.add_argument("--samples", type=int, default=8, help="sampled values per MeterValues (default 8)")
    parser.add_argument("--sql", action="store_true", help="print the SQL of one Call of each action")
    parser.add_argument("--keep-connection", action="store_true",
                        help="experiment: keep the thread's connection whatever the database (run_db keeps it only on SQLite)")
    args = parser.parse_args(argv)
    global KEEP_CONNECTION
    KEEP_CONNECTION = args.keep_connection
    tempdir = Path(tempfile.mkdtemp(prefix="csms-path-"))
    setup(tempdir)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from stations.models import ChargeStation
    from transactions.models import IdTag

    run = uuid.uuid4().hex[:6].upper()
    station_ids = [f"PATH-{run}-{i:03d}" for i in range(10)]
    ChargeStation.objects.bulk_create([ChargeStation(id=sid) for sid in station_ids])
    IdTag.objects.bulk_create([IdTag(id_tag=f"P{run}{i:03d}") for i in range(10)])
    stations = [Station(sid, f"P{run}{i:03d}", args.samples) for i, sid in enumerate(station_ids)]
    counter = iter(range(10**9))

    # One pass with the queries captured (capturing costs time, so it is not timed).
    queries: dict[str, tuple[int, list[str]]] = {}
    for action in ["BootNotification", *SESSION]:
        with CaptureQueriesContext(connection) as captured:
            process(stations[0], action, f"q{next(counter)}")
        queries.setdefault(action, (len(captured), [q["sql"] for q in captured.captured_queries]))

    cpu: dict[str, list[float]] = {}
    wall: dict[str, list[float]] = {}
    for number in range(args.sessions):
        station = stations[number % len(stations)]
        for action in SESSION:
            message_id = f"m{next(counter)}"
            wall_start, cpu_start = time.perf_counter(), time.thread_time()
            process(station, action, message_id)
            cpu.setdefault(action, []).append((time.thread_time() - cpu_start) * 1e6)
            wall.setdefault(action, []).append((time.perf_counter() - wall_start) * 1e6)

    engine = connection.vendor
    hygiene = "connection kept between Calls (experiment)" if KEEP_CONNECTION else "connection handled as run_db does (kept on SQLite, back to the pool on PostgreSQL)"
    print(f"== station path cost per Call ({engine}, {args.sessions} sessions, {args.samples} samples per MeterValues, "
          f"{hygiene}) ==")
    print(f"{'action':<20}{'queries':>8}{'CPU µs':>10}{'wall µs':>10}")
    total_cpu = 0.0
    for action in dict.fromkeys(SESSION):
        if action in cpu and cpu[action]:
            median_cpu = statistics.median(cpu[action])
            print(f"{action:<20}{queries[action][0]:>8}{median_cpu:>10.0f}{statistics.median(wall[action]):>10.0f}")
    for action in SESSION:
        total_cpu += statistics.median(cpu[action])
    print(f"mean over the session mix: {total_cpu / len(SESSION):.0f} µs CPU per Call "
          f"-> at most ~{1e6 / (total_cpu / len(SESSION)):.0f} Calls/s per node process for this work alone")
    if args.sql:
        for action, (count, sql) in queries.items():
            print(f"\n-- {action}: {count} queries")
            for statement in sql:
                print(f"   {statement[:220]}")
    ChargeStation.objects.filter(pk__in=station_ids).delete()
    IdTag.objects.filter(id_tag__startswith=f"P{run}").delete()
    return 0


if __name__ == "__main__":
    sys.exit(main())
