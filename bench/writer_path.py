"""What station Calls cost in the writer's groups (group commit): queries and CPU per Call by group size.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/csms_bench .venv/bin/python bench/writer_path.py
    ... --groups 1,8,32 --sql

No node, no socket: it drives `csms.ocpp.writer.Writer` the way a node's writer thread does, with
the Calls of G stations (each at its own point of a charging session) in each group, and prints
the CPU per Call (this thread's, so the database's own time is not counted), the wall time per
group and the statements per group. Use it to A/B a change to the station path's database work
(docs/adr/0090-station-path-throughput.md).
"""

from __future__ import annotations

import argparse
import asyncio
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

from bench.station_path import Station, setup  # noqa: E402

# The bench's load mix (bench/fleet.py), as a repeating sequence of one station's Calls.
MIX = ["MeterValues", "Heartbeat", "MeterValues", "StatusNotification", "MeterValues", "Authorize",
       "MeterValues", "Heartbeat", "MeterValues", "StatusNotification"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", default="1,8,32", help="group sizes to measure (default 1,8,32)")
    parser.add_argument("--calls", type=int, default=3000, help="Calls per group size (default 3000)")
    parser.add_argument("--samples", type=int, default=8, help="sampled values per MeterValues (default 8)")
    parser.add_argument("--sql", action="store_true", help="print the statements of one group")
    args = parser.parse_args(argv)
    setup(Path(tempfile.mkdtemp(prefix="csms-writer-")))

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from csms.ocpp.schemas import validate_request
    from csms.ocpp.writer import Job, Writer
    from stations.models import ChargeStation
    from transactions.models import IdTag

    loop = asyncio.new_event_loop()
    writer = Writer()
    run = uuid.uuid4().hex[:6].upper()
    sizes = [int(size) for size in args.groups.split(",")]
    count = max(sizes) * 2
    station_ids = [f"WP-{run}-{i:04d}" for i in range(count)]
    ChargeStation.objects.bulk_create([ChargeStation(id=sid) for sid in station_ids])
    IdTag.objects.bulk_create([IdTag(id_tag=f"W{run}{i:04d}", max_active_transactions=-1) for i in range(count)])
    stations = [Station(sid, f"W{run}{i:04d}", args.samples) for i, sid in enumerate(station_ids)]
    message_ids = iter(range(10**9))

    def job(station: Station, action: str) -> Job:
        payload = station.payload(action)
        validate_request(action, payload)
        return Job(station.station_id, f"w{next(message_ids)}", action, payload, loop, loop.create_future())

    # Every station starts a transaction first, so that MeterValues have one to join.
    for station in stations:
        for action in ("BootNotification", "StatusNotification", "StartTransaction"):
            result = writer._process([job(station, action)])[0]
            if action == "StartTransaction":
                station.transaction_id = result.response["transactionId"]

    print(f"== writer cost per Call ({connection.vendor}, {args.samples} samples per MeterValues; mix "
          f"{', '.join(sorted(set(MIX)))}) ==")
    print(f"{'group':>6}{'CPU µs/Call':>14}{'wall ms/group':>15}{'statements/group':>18}")
    for size in sizes:
        cpu_per_call, wall_per_group, position = [], [], 0
        for _ in range(max(1, args.calls // size)):
            group = [job(stations[(position + i) % len(stations)], MIX[(position // len(stations) + i) % len(MIX)])
                     for i in range(size)]
            position += size
            wall, cpu = time.perf_counter(), time.thread_time()
            results = writer._process(group)
            cpu_per_call.append((time.thread_time() - cpu) * 1e6 / size)
            wall_per_group.append((time.perf_counter() - wall) * 1e3)
            failed = [r for r in results if isinstance(r, BaseException)]
            if failed:
                raise SystemExit(f"a Call failed: {failed[0]!r}")
        group = [job(stations[i % len(stations)], MIX[i % len(MIX)]) for i in range(size)]
        with CaptureQueriesContext(connection) as captured:
            writer._process(group)
        print(f"{size:>6}{statistics.median(cpu_per_call):>14.0f}{statistics.median(wall_per_group):>15.2f}"
              f"{len(captured):>18}")
        if args.sql:
            for query in captured.captured_queries:
                print(f"      {query['sql'][:200]}")
    ChargeStation.objects.filter(pk__in=station_ids).delete()
    IdTag.objects.filter(id_tag__startswith=f"W{run}").delete()
    return 0


if __name__ == "__main__":
    sys.exit(main())
