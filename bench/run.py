"""`make bench`: the scenarios of issue #17 against real nodes, and one summary table.

    .venv/bin/python bench/run.py                               # all scenarios, sizes that take a few minutes
    .venv/bin/python bench/run.py --full                        # all scenarios at the issue's sizes
    .venv/bin/python bench/run.py --scenario throughput --nodes 2
    .venv/bin/python bench/run.py --scenario ratio --find-max
    .venv/bin/python bench/run.py --scenario burst|idle|storm [--stations N]

Scenarios (bench/README.md): throughput (open-loop mix at 1,500 msg/s on one node, 2,500 on two,
with CSMS Calls through the API meanwhile), ratio (the same load against bench/bare_csms.py, the
`ocpp` package on `websockets` storing nothing), burst (clock-aligned MeterValues from every
station in the same second), idle (RSS per idle station), storm (every station dropped at once and
reconnecting with BootNotification and three StatusNotifications). Every figure says what the
load generator and the other processes of the machine used meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)

from bench import procstats  # noqa: E402
from bench import station_load as sl  # noqa: E402
from bench.fleet import SimStation, Stats, percentile  # noqa: E402
from bench.loadgen import Fleet, merge_counters, merge_recorded  # noqa: E402

SCENARIOS = ("generator", "throughput", "ratio", "burst", "idle", "storm")
P99_TARGET_MS = 50.0
BUSY_CORES = 0.3  # CPU of other processes above which a figure is flagged (ADR 0040)
LATE_LIMIT_MS = 10.0  # Calls sent later than their schedule by more (p99): the generator fell behind
monotonic = time.monotonic


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all")
    parser.add_argument("--full", action="store_true",
                        help="with --scenario all: the issue's sizes (10,000 idle and storm stations, 30 s of load, 10 s ramp steps)")
    parser.add_argument("--nodes", type=int, default=None,
                        help="node processes (throughput: 1; storm: 2; needs REDIS_URL above 1). "
                             "With --scenario all, throughput also runs on 2 nodes when REDIS_URL is set")
    parser.add_argument("--stations", type=int, default=None,
                        help="stations of the scenario (throughput/ratio 1,000; burst 2,000; idle and storm 10,000, "
                             "or 2,000 in a quick `all`). With `all`: see --burst-stations etc.")
    parser.add_argument("--burst-stations", type=int, default=None)
    parser.add_argument("--idle-stations", type=int, default=None)
    parser.add_argument("--storm-stations", type=int, default=None)
    parser.add_argument("--rate", type=float, default=None, help="msg/s offered (default 1,500 on one node, 2,500 on two)")
    parser.add_argument("--duration", type=float, default=None, help="seconds of load (default 20; --full 30)")
    parser.add_argument("--samples", type=int, default=8, help="sampled values per MeterValues frame (1-10, default 8)")
    parser.add_argument("--api-rate", type=float, default=5.0,
                        help="CSMS Calls per second through the API (?wait) during the load (default 5; 0: none)")
    parser.add_argument("--find-max", action=argparse.BooleanOptionalAction, default=None,
                        help="ratio: ramp the offered rate and report the highest each system sustains at "
                             "p99 <= 50 ms (default on for ratio and all)")
    parser.add_argument("--ramp", default="100,250,500,1000,1500,2000,2500,3000",
                        help="offered rates of the --find-max steps (msg/s, comma-separated)")
    parser.add_argument("--step-duration", type=float, default=None, help="seconds per ramp step (default 8; --full 10)")
    parser.add_argument("--burst-spread", type=float, default=0.0,
                        help="burst: seconds over which the stations send (default 0: all at the aligned instant)")
    parser.add_argument("--hold", type=float, default=10.0, help="idle: seconds to hold the booted stations idle")
    parser.add_argument("--storm-deadline", type=float, default=120.0,
                        help="storm: seconds after the drop when stations still reconnecting are left behind")
    parser.add_argument("--storm-spread", type=float, default=0.0,
                        help="storm: stations reconnect at random within this many seconds (default 0: at once)")
    parser.add_argument("--storm-concurrency", type=int, default=2000,
                        help="storm: handshakes in flight at once, all generator processes together")
    parser.add_argument("--connect-concurrency", type=int, default=200,
                        help="handshakes (and boot sequences) in flight at once while setting a scenario up")
    parser.add_argument("--workers", type=int, default=None,
                        help="load generator processes (default 2: this machine has 2 cores)")
    parser.add_argument("--profile", metavar="DIR", help="throughput: record the node(s) with py-spy during the load")
    parser.add_argument("--profile-wall", action="store_true", help="with --profile: every thread, not the GIL holder")
    parser.add_argument("--json", metavar="FILE", help="also write every figure as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the stations and their data in the database")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    if not 1 <= args.samples <= 10:
        parser.error("--samples must be between 1 and 10")
    if args.nodes and args.nodes > 1 and not os.environ.get("REDIS_URL"):
        parser.error("--nodes > 1 needs REDIS_URL: nodes share stations through the Redis channel layer")
    try:
        args.ramp = [float(v) for v in args.ramp.split(",") if v.strip()]
    except ValueError:
        parser.error("--ramp: comma-separated numbers")
    quick = args.scenario == "all" and not args.full
    args.duration = args.duration or (30.0 if args.full else 20.0)
    args.step_duration = args.step_duration or (8.0 if quick else 10.0)
    if args.find_max is None:
        args.find_max = args.scenario in ("ratio", "all")
    args.workers = args.workers or 2
    single = args.scenario != "all"
    args.sizes = {
        "throughput": args.stations if single and args.stations else 1000,
        "burst": args.burst_stations or (args.stations if single and args.stations else 2000),
        "idle": args.idle_stations or (args.stations if single and args.stations else (2000 if quick else 10000)),
        "storm": args.storm_stations or (args.stations if single and args.stations else (2000 if quick else 10000)),
    }
    if args.scenario == "all" and args.stations:
        args.sizes["throughput"] = args.stations
    args.target_sizes = {"throughput": 1000, "burst": 2000, "idle": 10000, "storm": 10000}
    return args


# --- Processes and measurements -------------------------------------------------------------------


async def db(function, *args):
    """Run ORM work off the event loop (Django refuses it inside one) and close its connection."""
    def run():
        from django.db import connections

        try:
            return function(*args)
        finally:
            connections.close_all()

    return await asyncio.to_thread(run)


def lat(values: list[float]) -> dict:
    return {"count": len(values), "p50": percentile(values, .5), "p95": percentile(values, .95),
            "p99": percentile(values, .99), "max": max(values, default=0.0)}


@dataclass
class Usage:
    """CPU over a window: the system under test, the load generator, the database and Redis, the
    machine; `others` is what the rest of the machine used (other engineers, CI...)."""

    label: str  # what served the stations: "node", "bare", "null sink"
    seconds: float
    nodes: list  # share of one core per node (or bare) process
    generator: float
    generator_max: float  # the busiest generator process
    postgres: float | None
    redis: float | None
    machine: float  # share of all cores
    others: float  # cores

    @property
    def busy(self) -> str:
        return f"BUSY {self.others:.2f}" if self.others > BUSY_CORES else ""

    def line(self) -> str:
        parts = [f"{self.label} " + ", ".join("?" if c is None else f"{100 * c:.0f}%" for c in self.nodes),
                 f"load generator {100 * self.generator:.0f}% (busiest process {100 * self.generator_max:.0f}%)"]
        if self.postgres is not None:
            parts.append(f"PostgreSQL {100 * self.postgres:.0f}%")
        if self.redis is not None:
            parts.append(f"redis-server {100 * self.redis:.0f}%")
        return (f"CPU (share of one core): {'; '.join(parts)}; whole machine {100 * self.machine:.0f}% busy "
                f"({os.cpu_count()} cores); other processes {self.others:.2f} core"
                + (" -- BUSY MACHINE: figures not comparable" if self.busy else ""))


class CpuMeter:
    def __init__(self, node_pids: list[int], fleet: Fleet, postgres_pids: list[int], label: str = "node"):
        self.label = label
        self.node_pids = node_pids
        self.generator_pids = [os.getpid(), *fleet.pids]
        self.postgres_pids = postgres_pids
        self.redis_pids = sl.redis_server_pids()
        self.window = procstats.CpuWindow([*node_pids, *self.generator_pids, *postgres_pids, *self.redis_pids])

    def start(self) -> CpuMeter:
        self.window.start()
        return self

    def stop(self) -> Usage:
        w = self.window.stop()

        def share(pids):
            return sum(w.core_share(pid) or 0 for pid in pids)

        nodes = [w.core_share(pid) for pid in self.node_pids]
        generator = share(self.generator_pids)
        postgres = share(self.postgres_pids) if self.postgres_pids else None
        redis = share(self.redis_pids) if self.redis_pids else None
        ours = sum(c or 0 for c in nodes) + generator + (postgres or 0) + (redis or 0)
        return Usage(self.label, w.wall, nodes, generator, max((w.core_share(p) or 0 for p in self.generator_pids), default=0),
                     postgres, redis, w.machine_busy_share,
                     max(0.0, w.machine_busy_share * (os.cpu_count() or 1) - ours))


def limited_by(usage: Usage | None, lateness_p99: float | None = None, saturated: bool = False) -> str:
    """What the window ran out of, by the usual suspects, first the load generator."""
    if usage is None:
        return ""
    reasons = []
    late = lateness_p99 is not None and lateness_p99 > LATE_LIMIT_MS
    # Calls leaving late on a saturated machine are the machine's doing, not the generator's.
    if usage.generator_max > 0.9 or (late and usage.machine <= 0.85):
        reasons.append("generator" + (f" (late p99 {lateness_p99:.0f} ms)" if late else ""))
    for index, cores in enumerate(usage.nodes):
        if cores is not None and cores > 0.85:
            reasons.append(f"node{'' if len(usage.nodes) == 1 else f' {index}'} CPU {100 * cores:.0f}%")
    if usage.postgres is not None and usage.postgres > 0.6:
        reasons.append(f"PostgreSQL CPU {100 * usage.postgres:.0f}%")
    if usage.machine > 0.85:
        reasons.append(f"machine {100 * usage.machine:.0f}% busy" + (f", generator late {lateness_p99:.0f} ms" if late else ""))
    elif usage.others > BUSY_CORES:
        reasons.append(f"others {usage.others:.2f} core")
    if not reasons and saturated:
        reasons.append("waits (node below a core)")
    return ", ".join(reasons) or "-"


def print_latency(recorded: dict, phases: list[str]) -> dict:
    """Per action: count, p50/p95/p99/max, errors; returns the figures (and 'all')."""
    out = {}
    print(f"  {'action':<20}{'count':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}")
    for phase in phases:
        rows = recorded["latencies"].get(phase, {})
        errors = recorded["errors"].get(phase, {})
        if not rows and not errors:
            continue
        print(f"  -- {phase}")
        everything = []
        for action in sorted(set(rows) | {key.split(":")[0] for key in errors}):
            values = rows.get(action, [])
            everything += values
            failed = sum(count for key, count in errors.items() if key.split(":")[0] == action)
            figures = out[f"{phase}/{action}"] = {**lat(values), "errors": failed}
            print(f"  {action:<20}{len(values):>8}{figures['p50']:>9.1f}{figures['p95']:>9.1f}{figures['p99']:>9.1f}"
                  f"{figures['max']:>9.1f}{failed:>8}")
        figures = out[f"{phase}/all"] = {**lat(everything), "errors": sum(errors.values())}
        print(f"  {'(all)':<20}{len(everything):>8}{figures['p50']:>9.1f}{figures['p95']:>9.1f}{figures['p99']:>9.1f}"
              f"{figures['max']:>9.1f}{figures['errors']:>8}")
        for key, count in sorted(errors.items()):
            print(f"     error {key} x{count}")
    return out


def overflow_delta(before: int | None) -> int | None:
    after = procstats.listen_overflows()
    return None if before is None or after is None else after - before


def overflow_note(count: int | None) -> str:
    if not count:
        return ""
    return (f", {count:,} handshakes dropped by a full accept queue (ListenOverflows, machine-wide: "
            f"the server's listen backlog)")


def kb(values) -> str:
    return ", ".join("?" if v is None else f"{v / 1024:.1f} MB" for v in values)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class System:
    """What the stations talk to: CSMS nodes, or the bare central system."""

    label: str
    endpoints: list  # [(host, port)]
    pids: list
    http: list = field(default_factory=list)  # the nodes' API base URLs (none for the bare one)
    fixtures: object = None


async def warm_up(system: System, station_id: str) -> None:
    """The first connection imports and caches what every later one reuses: not part of a figure."""
    for host, port in system.endpoints:
        warm = SimStation(station_id, f"ws://{host}:{port}/ocpp/{station_id}", "", Stats(), {})
        await warm.connect()
        await warm.boot("warmup")
        await warm.heartbeat("warmup")
        await warm.close()
    await asyncio.sleep(1.5)


def rss(system: System) -> list:
    return [procstats.rss_kb(pid) for pid in system.pids]


@contextlib.asynccontextmanager
async def csms(bench: Bench, nodes: int, stations: int):
    """Fresh nodes and a fresh set of stations (created in the database) for one scenario."""
    fixtures = await db(sl.create_fixtures, stations)
    targets = []
    try:
        targets = await asyncio.to_thread(sl.start_nodes, SimpleNamespace(nodes=nodes), bench.database_url, fixtures.run_id)
        system = System(f"CSMS ({nodes} node{'s' if nodes > 1 else ''})",
                        [(t.ws.split("//")[1].split(":")[0], int(t.ws.rsplit(":", 1)[1])) for t in targets],
                        [t.pid for t in targets], [t.http for t in targets], fixtures)
        print(f"  nodes: {', '.join(t.http for t in targets)} (logs: {', '.join(str(t.node.log_path) for t in targets)})",
              flush=True)
        await warm_up(system, fixtures.warmup_id)
        await bench.fleet.setup(list(zip(fixtures.station_ids, fixtures.id_tags)), system.endpoints)
        yield system
    finally:
        with contextlib.suppress(Exception):
            await bench.fleet.ask("close")
        for target in targets:
            await asyncio.to_thread(target.node.stop)
        if not bench.args.keep:
            try:
                await db(sl.delete_fixtures, fixtures)
            except Exception as exc:  # noqa: BLE001 - leftovers are harmless, say so and go on
                print(f"  could not delete this scenario's stations: {exc}", file=sys.stderr)


@contextlib.asynccontextmanager
async def standalone(bench: Bench, stations: int, script: str, label: str):
    """bench/bare_csms.py (or null_csms.py) in its own process, so that its CPU is measured like a node's."""
    port = free_port()
    log_path = Path(tempfile.gettempdir()) / f"bench-{Path(script).stem}-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, str(ROOT / "bench" / script), "--port", str(port)],
                                   stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = monotonic() + 15
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{script} exited: {log_path.read_text()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
            if monotonic() > deadline:
                raise RuntimeError(f"{script} did not start listening")
            await asyncio.sleep(0.1)
        system = System(label, [("127.0.0.1", port)], [process.pid])
        print(f"  {label}: ws://127.0.0.1:{port}, pid {process.pid} (log: {log_path})", flush=True)
        await warm_up(system, "BARE-WARMUP")
        run = os.urandom(3).hex().upper()
        await bench.fleet.setup([(f"BARE-{run}-{i:05d}", f"BARE{i:06d}") for i in range(stations)], system.endpoints)
        yield system
    finally:
        with contextlib.suppress(Exception):
            await bench.fleet.ask("close")
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


async def connect_and_boot(bench: Bench, system: System, transactions: bool) -> dict:
    """Connect every station (a bounded number of handshakes at a time), then boot them."""
    args, fleet = bench.args, bench.fleet
    out = {"rss_before_kb": rss(system)}
    per_worker = max(1, math.ceil(args.connect_concurrency / fleet.size))
    overflows = procstats.listen_overflows()
    results = await fleet.ask("connect", {"concurrency": per_worker})
    out["listen_overflows"] = overflow_delta(overflows)
    handshakes = [v for r in results for v in r["handshake_ms"]]
    out.update(connected=sum(r["connected"] for r in results), connect_seconds=max(r["seconds"] for r in results),
               connect_errors=dict(merge_counters(results, "errors")), handshake_ms=lat(handshakes))
    await asyncio.sleep(2)
    out["rss_connected_kb"] = rss(system)
    results = await fleet.ask("boot", {"phase": "setup", "concurrency": per_worker, "transactions": transactions})
    out["setup_seconds"] = max(r["seconds"] for r in results)
    out["recorded"] = merge_recorded(results)
    await asyncio.sleep(1)
    out["rss_booted_kb"] = rss(system)
    errors = out["connect_errors"]
    h = out["handshake_ms"]
    print(f"  connect: {out['connected']} in {out['connect_seconds']:.1f} s (handshake p50 {h['p50']:.0f} ms, "
          f"p99 {h['p99']:.0f} ms){f', failed: {errors}' if errors else ''}"
          f"{overflow_note(out['listen_overflows'])}; boot{' + half start a transaction' if transactions else ''}: "
          f"{out['setup_seconds']:.1f} s", flush=True)
    return out


# --- The API probe --------------------------------------------------------------------------------


class ApiProbe:
    """CSMS Calls (GetConfiguration) through `POST /api/v1/stations/{id}/calls/?wait=30`, open loop
    at `rate` per second, several in flight; with two nodes every second one goes to the node that
    does NOT hold the station, so that the Call crosses nodes through Redis."""

    def __init__(self, system: System, token: str, station_nodes: list, rate: float):
        self.system, self.token, self.station_nodes, self.rate = system, token, station_nodes, rate
        self.samples: list[dict] = []
        self.failures: dict = {}
        self.skipped = 0
        self.executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="probe")
        self.local = threading.local()

    def _post(self, url: str) -> tuple:
        import requests

        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
            session.headers["Authorization"] = f"Token {self.token}"
        started = monotonic()
        try:
            response = session.post(url, json={"action": "GetConfiguration", "payload": {"key": ["HeartbeatInterval"]}},
                                    timeout=40)
            finished = monotonic()
            body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
            return started, finished, f"HTTP {response.status_code} {body.get('status', '')}".strip(), body.get("id")
        except Exception as exc:  # noqa: BLE001 - a failed probe is a figure, not a crash
            return started, monotonic(), type(exc).__name__, None

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        in_flight: set = set()
        nodes = len(self.system.http)
        next_at = monotonic()
        for count in itertools.count():
            if stop.is_set():
                break
            station_id, node = random.choice(self.station_nodes)
            crossing = nodes > 1 and count % 2 == 1
            api_node = (node + 1) % nodes if crossing else node
            if len(in_flight) >= 16:
                self.skipped += 1
            else:
                url = f"{self.system.http[api_node]}/api/v1/stations/{station_id}/calls/?wait=30"
                future = loop.run_in_executor(self.executor, self._post, url)
                in_flight.add(future)
                future.add_done_callback(lambda f, c=crossing: (in_flight.discard(f), self._record(f.result(), c)))
            next_at += 1 / self.rate
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, next_at - monotonic()))
        if in_flight:
            await asyncio.wait(in_flight)
        self.executor.shutdown(wait=False)

    def _record(self, result: tuple, crossing: bool) -> None:
        started, finished, outcome, call_id = result
        if outcome == "HTTP 200 completed":
            self.samples.append({"started": started, "finished": finished, "crossing": crossing, "id": str(call_id)})
        else:
            self.failures[outcome] = self.failures.get(outcome, 0) + 1

    def report(self, inbound: dict) -> dict:
        """Round trips, split at the station: POST -> the station has the Call -> HTTP 200."""
        round_trip = [(s["finished"] - s["started"]) * 1000 for s in self.samples]
        crossing = [(s["finished"] - s["started"]) * 1000 for s in self.samples if s["crossing"]]
        local = [(s["finished"] - s["started"]) * 1000 for s in self.samples if not s["crossing"]]
        dispatch, back = [], []
        for sample in self.samples:
            seen = inbound.get(sample["id"])
            if seen:
                dispatch.append((seen[0] - sample["started"]) * 1000)
                back.append((sample["finished"] - seen[1]) * 1000)
        print(f"  CSMS Calls through the API (POST .../calls/?wait, GetConfiguration, {self.rate:g}/s): "
              f"{len(round_trip)} completed" + (f", failed: {self.failures}" if self.failures else "")
              + (f", {self.skipped} not sent (16 in flight)" if self.skipped else ""))
        rows = [("round trip", round_trip), ("  POST -> station has the Call", dispatch),
                ("  station answered -> HTTP 200", back)]
        if len(self.system.http) > 1:
            rows[1:1] = [("  to the node holding the station", local), ("  crossing nodes (via Redis)", crossing)]
        for label, values in rows:
            f = lat(values)
            print(f"    {label:<32} p50 {f['p50']:7.1f}  p95 {f['p95']:7.1f}  p99 {f['p99']:7.1f}  max {f['max']:7.1f} ms")
        return {"round_trip": lat(round_trip), "local": lat(local), "crossing": lat(crossing), "dispatch": lat(dispatch),
                "after_answer": lat(back), "failures": self.failures, "not_sent": self.skipped}


# --- Load windows ---------------------------------------------------------------------------------


async def offer_load(bench: Bench, system: System, rate: float, duration: float, phase: str,
                     probe_rate: float = 0.0, profile: bool = False) -> dict:
    """One open-loop window at `rate` msg/s, split over the generator processes."""
    fleet, args = bench.fleet, bench.args
    postgres = await db(sl.postgres_backend_pids) if system.fixtures else []
    meter = CpuMeter(system.pids, fleet, postgres, "node" if system.fixtures else system.label)
    stop = asyncio.Event()
    probe = None
    probe_task = None
    peak = rss(system)

    async def sample_rss():
        while not stop.is_set():
            for index, value in enumerate(rss(system)):
                if value is not None and (peak[index] is None or value > peak[index]):
                    peak[index] = value
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1)

    start_at = monotonic() + 0.5
    profilers = []
    if profile and args.profile:
        profilers = sl.start_profilers(args, [SimpleNamespace(pid=pid) for pid in system.pids], duration)
    if probe_rate > 0 and system.fixtures is not None:
        probe = ApiProbe(system, system.fixtures.token, fleet.station_nodes, probe_rate)
    sampler = asyncio.get_running_loop().create_task(sample_rss())
    ask = asyncio.get_running_loop().create_task(fleet.ask("load", lambda w: {
        "rate": rate / fleet.size, "duration": duration, "start_at": start_at, "samples": args.samples, "phase": phase}))
    await asyncio.sleep(max(0.0, start_at - monotonic()))
    meter.start()
    if probe is not None:
        probe_task = asyncio.get_running_loop().create_task(probe.run(stop))
    await asyncio.sleep(max(0.0, start_at + duration - monotonic()))
    usage = meter.stop()
    stop.set()
    if probe_task is not None:
        await probe_task
    await sampler
    results = await ask
    recorded = merge_recorded(results)
    lateness = [v for r in results for v in r["lateness_ms"]]
    answered = sum(r["answered_in_window"] for r in results)
    sent = merge_counters(results, "sent")
    everything = [v for values in recorded["latencies"].get(phase, {}).values() for v in values]
    out = {
        "phase": phase, "rate": rate, "duration": duration, "usage": usage, "recorded": recorded,
        "sent": dict(sent), "sent_total": sum(sent.values()), "skipped": sum(r["skipped"] for r in results),
        "unanswered_at_end": sum(r["unanswered_at_end"] for r in results), "answered_in_window": answered,
        "achieved": answered / duration, "lateness": lat(lateness), "all": lat(everything),
        "errors": sum(recorded["errors"].get(phase, {}).values()),
        "samples_acked": recorded["samples_acked"].get(phase, 0), "rss_peak_kb": peak,
        "profiles": [],
    }
    answered_total = sum(len(v) for v in recorded["latencies"].get(phase, {}).values())
    out["cpu_ms_per_message"] = [None if c is None or not answered else c * usage.seconds / answered * 1000
                                 for c in usage.nodes]
    out["generator_us_per_message"] = (usage.generator * usage.seconds / max(1, out["sent_total"]) * 1e6)
    out["answered_total"] = answered_total
    if probe is not None:
        inbound = {}
        for result in await fleet.ask("inbound"):
            inbound.update(result["inbound"])
        out["probe"] = probe
        out["inbound"] = inbound
    for process, output in profilers:
        process.wait(timeout=duration + 30)
        if process.returncode == 0 and output.exists():
            out["profiles"].append(output)
    out["sustained"] = (out["all"]["p99"] <= P99_TARGET_MS and out["errors"] == 0 and out["skipped"] == 0
                        and out["unanswered_at_end"] == 0 and out["achieved"] >= 0.97 * rate)
    out["limited_by"] = limited_by(usage, out["lateness"]["p99"], saturated=not out["sustained"])
    return out


def print_window(window: dict, system: System) -> None:
    usage: Usage = window["usage"]
    print(f"  throughput: {window['achieved']:.0f} msg/s answered of {window['rate']:g} offered "
          f"({window['sent_total']} sent in {window['duration']:g} s, {window['skipped']} skipped: every eligible "
          f"station still awaiting an answer, {window['unanswered_at_end']} unanswered at the end)")
    late = window["lateness"]
    print(f"  load generator: {bench_workers(usage)}; {window['generator_us_per_message']:.0f} µs of CPU per message; "
          f"sent late by p50 {late['p50']:.1f} / p99 {late['p99']:.1f} / max {late['max']:.1f} ms")
    print("  " + usage.line())
    per = window["cpu_ms_per_message"]
    if per and all(v is not None for v in per):
        capacity = sum(1000 / v for v in per if v)
        print(f"  {system.label} CPU per answered message: {', '.join(f'{v:.2f} ms' for v in per)} "
              f"(a process is bound to about one core: ~{capacity:.0f} msg/s at most)")


def bench_workers(usage: Usage) -> str:
    return f"{100 * usage.generator:.0f}% of a core in all (busiest process {100 * usage.generator_max:.0f}%)"


async def find_max(bench: Bench, system: System) -> dict:
    """Step the offered rate up (--ramp) until a step misses p99 <= 50 ms (or errs, skips, or falls
    behind); the highest step passed is what the system sustains."""
    steps, best, acked = [], None, 0
    print(f"  ramp ({bench.args.step_duration:g} s a step): ", end="", flush=True)
    for rate in bench.args.ramp:
        window = await offer_load(bench, system, rate, bench.args.step_duration, f"ramp {rate:g}")
        acked += window["samples_acked"]
        steps.append({"rate": rate, "achieved": window["achieved"], "p99": window["all"]["p99"],
                      "errors": window["errors"], "skipped": window["skipped"], "sustained": window["sustained"],
                      "cpu_ms_per_message": window["cpu_ms_per_message"], "limited_by": window["limited_by"],
                      "generator_late_p99": window["lateness"]["p99"], "busy": window["usage"].busy,
                      "others": window["usage"].others})
        print(f"{rate:g} -> {window['achieved']:.0f} msg/s p99 {window['all']['p99']:.0f} ms"
              f"{'' if window['sustained'] else ' (missed)'}; ", end="", flush=True)
        if not window["sustained"]:
            break
        best = steps[-1]
        await asyncio.sleep(1)
    print(flush=True)
    ceiling = best is not None and best is steps[-1] and best["rate"] == bench.args.ramp[-1]
    return {"steps": steps, "max": best["achieved"] if best else 0.0, "max_rate": best["rate"] if best else 0.0,
            "at_ceiling": ceiling, "limited_by": steps[-1]["limited_by"] if steps else "", "samples_acked": acked}


# --- Scenarios ------------------------------------------------------------------------------------


@dataclass
class Bench:
    args: argparse.Namespace
    database_url: str
    fleet: Fleet
    rows: list = field(default_factory=list)
    details: dict = field(default_factory=dict)
    cache: dict = field(default_factory=dict)

    def row(self, scenario, target, measured, ok, limited="", busy="", reduced="") -> None:
        if ok is None:
            verdict = "n/a"
        else:
            verdict = ("pass*" if reduced else "PASS") if ok else "FAIL"
        self.rows.append({"scenario": scenario, "target": target, "measured": measured + (f" [at {reduced}]" if reduced else ""),
                          "result": verdict, "limited_by": limited or "-", "machine": busy or "ok"})


def reduced(bench: Bench, scenario: str, size: int) -> str:
    target = bench.args.target_sizes[scenario]
    return f"{size:,} stations" if size < target else ""


async def run_csms_load(bench: Bench, nodes: int, rate: float, with_ramp: bool) -> dict:
    """Throughput on CSMS nodes: connect, boot (half charge), one window at `rate` with the API
    probe, then (with_ramp) the --find-max ramp on the same fleet; then the persisted check."""
    args = bench.args
    stations = args.sizes["throughput"]
    out = {"nodes": nodes, "stations": stations, "rate": rate}
    async with csms(bench, nodes, stations) as system:
        out["setup"] = await connect_and_boot(bench, system, transactions=True)
        print(f"  load: {rate:g} msg/s for {args.duration:g} s, API probe {args.api_rate:g}/s ...", flush=True)
        window = out["window"] = await offer_load(bench, system, rate, args.duration, "load", args.api_rate, profile=True)
        status = await bench.fleet.ask("status")
        out["still_connected"] = sum(s["connected"] for s in status)
        out["close_codes"] = dict(merge_counters(status, "close_codes"))
        if with_ramp:
            out["ramp"] = await find_max(bench, system)
        await bench.fleet.ask("close")
        await asyncio.sleep(1.5)  # the message log is flushed every 0.25 s
        out["persisted"] = await db(sl.persisted_counts, system.fixtures)
        # The setup sends no MeterValues: what was acknowledged is the load's and the ramp's.
        out["samples_acked"] = window["samples_acked"] + out.get("ramp", {}).get("samples_acked", 0)
        print_throughput(bench, system, out)
    return out


def print_throughput(bench: Bench, system: System, out: dict) -> None:
    window = out["window"]
    setup = out["setup"]
    print()
    print(f"== throughput: {system.label}, {out['stations']} stations, {out['rate']:g} msg/s offered for "
          f"{window['duration']:g} s ==")
    print_window(window, system)
    out["latency_ms"] = print_latency(window["recorded"], ["load"])
    print_latency(setup["recorded"], ["setup"])
    if "probe" in window:
        out["api"] = window["probe"].report(window["inbound"])
    before, connected = setup["rss_before_kb"], setup["rss_connected_kb"]
    per_node = [out["stations"] // len(before) + (1 if i < out["stations"] % len(before) else 0) for i in range(len(before))]
    per_conn = [None if b is None or a is None else (a - b) / n for b, a, n in zip(before, connected, per_node)]
    print(f"  node RSS: before {kb(before)}; connected {kb(connected)}; booted {kb(setup['rss_booted_kb'])}; "
          f"peak under load {kb(window['rss_peak_kb'])}; per idle connection "
          + ", ".join("?" if v is None else f"{v:.0f} KB" for v in per_conn))
    out["kb_per_connection"] = per_conn
    if out["still_connected"] != setup["connected"]:
        print(f"  !! {setup['connected'] - out['still_connected']} stations were disconnected during the load "
              f"(close codes {out['close_codes']})")
    persisted = out["persisted"]
    out["persisted_ok"] = persisted["meter_values"] >= out["samples_acked"]
    print(f"  persisted for this run: {persisted['meter_values']} sampled values ({out['samples_acked']} acknowledged"
          f"{'' if out['persisted_ok'] else ' !! MISMATCH: acknowledged but not stored'}"
          f"{'; more stored than acknowledged: Calls that timed out were processed' if persisted['meter_values'] > out['samples_acked'] else ''}), "
          f"{persisted['transactions']} transactions ({persisted['transactions_stopped']} stopped), "
          f"{persisted['processed_calls']} processed-call rows, {persisted['message_log_rows']} message-log rows, "
          f"{persisted['api_calls_completed']} API calls completed")
    for path in window["profiles"]:
        print(f"  py-spy profile ({path}):")
        print("\n".join(sl.summarize_profile(path)))
    if "ramp" in out:
        print_ramp(out["ramp"], system.label)


def print_ramp(ramp: dict, label: str) -> None:
    print(f"  ramp of {label}:")
    for step in ramp["steps"]:
        cpu = ", ".join("?" if v is None else f"{v:.2f}" for v in step["cpu_ms_per_message"])
        limit = "" if step["limited_by"] == "-" else f" (limited by {step['limited_by']})"
        print(f"    {step['rate']:>6g} msg/s offered: {step['achieved']:6.0f} answered, p99 {step['p99']:8.1f} ms, "
              f"{step['errors']} errors, {step['skipped']} skipped, CPU {cpu} ms/msg, generator late p99 "
              f"{step['generator_late_p99']:.1f} ms -> {'sustained' if step['sustained'] else 'missed'}"
              f"{limit}"
              f"{'  [' + step['busy'] + ']' if step['busy'] else ''}")
    ceiling = " (the ramp's ceiling: more may be possible)" if ramp["at_ceiling"] else ""
    print(f"    highest rate sustained at p99 <= {P99_TARGET_MS:g} ms: {ramp_max(ramp)} msg/s{ceiling}")


def ramp_max(ramp: dict) -> str:
    """'1,480', '3,000+' at the ramp's ceiling, '< 250' when not even the first step held."""
    if not ramp["steps"]:
        return "?"
    if ramp["max"] == 0:
        return f"< {ramp['steps'][0]['rate']:,.0f}"
    return f"{ramp['max']:,.0f}{'+' if ramp['at_ceiling'] else ''}"


async def scenario_throughput(bench: Bench, nodes: int) -> dict:
    args = bench.args
    rate = args.rate or (1500.0 if nodes == 1 else 1250.0 * nodes)
    print(f"\n### throughput: {nodes} node(s), {args.sizes['throughput']} stations, {rate:g} msg/s", flush=True)
    with_ramp = nodes == 1 and args.find_max and args.scenario in ("ratio", "all")
    out = await run_csms_load(bench, nodes, rate, with_ramp)
    window = out["window"]
    usage = window["usage"]
    target_rate = 1500.0 if nodes == 1 else 2500.0
    size = "; ".join(filter(None, [reduced(bench, "throughput", out["stations"]),
                                   f"{rate:,.0f} msg/s" if rate < target_rate else ""]))
    name = f"throughput, {nodes} node{'s' if nodes > 1 else ''}"
    latency_ok = window["sustained"] and out["still_connected"] == out["setup"]["connected"]
    bench.row(name, f"{target_rate:,.0f} msg/s, p99 <= 50 ms",
              f"{window['achieved']:,.0f} of {rate:,.0f} msg/s, p99 {window['all']['p99']:,.0f} ms"
              + (f", {window['errors']} errors" if window["errors"] else "")
              + (f", {window['skipped']} skipped" if window["skipped"] else ""), latency_ok, window["limited_by"], usage.busy, size)
    per = [v for v in window["cpu_ms_per_message"] if v is not None]
    if per:
        bench.row(f"{name}: node CPU", "<= 0.7 ms/msg", ", ".join(f"{v:.2f} ms" for v in per),
                  max(per) <= 0.7, "", usage.busy)
    bench.row(f"{name}: persisted", "every acked value stored",
              f"{out['persisted']['meter_values']:,} stored, {out['samples_acked']:,} acked", out["persisted_ok"])
    if "api" in out:
        api = out["api"]
        bench.row(f"{name}: calls out", "API ?wait p99 <= 100 ms",
                  f"p50 {api['round_trip']['p50']:.0f} / p99 {api['round_trip']['p99']:.0f} ms "
                  f"(n={api['round_trip']['count']}{', failed ' + str(sum(api['failures'].values())) if api['failures'] else ''})"
                  + (f"; crossing p99 {api['crossing']['p99']:.0f} ms" if nodes > 1 else ""),
                  api["round_trip"]["count"] > 0 and api["round_trip"]["p99"] <= 100 and not api["failures"],
                  window["limited_by"], usage.busy)
    if nodes == 1:
        bench.cache["csms_single"] = out
    bench.details[f"throughput_{nodes}"] = out
    return out


async def run_bare_load(bench: Bench, rate: float) -> dict:
    args = bench.args
    stations = args.sizes["throughput"]
    out = {"stations": stations, "rate": rate}
    async with standalone(bench, stations, "bare_csms.py", "bare ocpp + websockets") as system:
        out["setup"] = await connect_and_boot(bench, system, transactions=True)
        print(f"  load: {rate:g} msg/s for {args.duration:g} s ...", flush=True)
        out["window"] = await offer_load(bench, system, rate, args.duration, "load")
        if args.find_max:
            out["ramp"] = await find_max(bench, system)
        print()
        print(f"== throughput: {system.label}, {stations} stations, {rate:g} msg/s offered for {args.duration:g} s ==")
        print_window(out["window"], system)
        out["latency_ms"] = print_latency(out["window"]["recorded"], ["load"])
        if "ramp" in out:
            print_ramp(out["ramp"], system.label)
    return out


async def scenario_ratio(bench: Bench) -> None:
    args = bench.args
    rate = args.rate or 1500.0
    csms_out = bench.cache.get("csms_single")
    if csms_out is None or csms_out["rate"] != rate or (args.find_max and "ramp" not in csms_out):
        print(f"\n### ratio, CSMS side: 1 node, {args.sizes['throughput']} stations, {rate:g} msg/s", flush=True)
        csms_out = await run_csms_load(bench, 1, rate, args.find_max)
        bench.details["ratio_csms"] = csms_out
    print(f"\n### ratio, baseline side: bench/bare_csms.py, {args.sizes['throughput']} stations, {rate:g} msg/s", flush=True)
    bare_out = await run_bare_load(bench, rate)
    bench.details["ratio_bare"] = bare_out
    c, b = csms_out["window"], bare_out["window"]
    print()
    print(f"== ratio: the same offered load ({rate:g} msg/s, {args.sizes['throughput']} stations, {args.duration:g} s) ==")
    print(f"  {'':<28}{'CSMS (1 node)':>18}{'bare ocpp+websockets':>24}")
    rows = [("answered msg/s", lambda w: f"{w['achieved']:.0f}"),
            ("p50 / p99 ms", lambda w: f"{w['all']['p50']:.1f} / {w['all']['p99']:.1f}"),
            ("max ms", lambda w: f"{w['all']['max']:.0f}"),
            ("errors / skipped", lambda w: f"{w['errors']} / {w['skipped']}"),
            ("CPU ms per message", lambda w: ", ".join("?" if v is None else f"{v:.2f}" for v in w["cpu_ms_per_message"])),
            ("stores", lambda w: "")]
    for label, value in rows[:-1]:
        print(f"  {label:<28}{value(c):>18}{value(b):>24}")
    print(f"  {'stores':<28}{'everything':>18}{'nothing':>24}")
    sustained_c = c["achieved"] if c["sustained"] else 0.0
    sustained_b = b["achieved"] if b["sustained"] else 0.0
    ratio_fixed = (c["achieved"] / b["achieved"]) if b["achieved"] else 0.0
    print(f"  answered msg/s, CSMS / bare: {ratio_fixed:.2f}; at p99 <= 50 ms: "
          f"{sustained_c:.0f} / {sustained_b:.0f}")
    busy = c["usage"].busy or b["usage"].busy
    if args.find_max and "ramp" in csms_out and "ramp" in bare_out:
        rc, rb = csms_out["ramp"], bare_out["ramp"]
        ratio = rc["max"] / rb["max"] if rb["max"] else 0.0
        print(f"  highest rate sustained at p99 <= 50 ms: CSMS {ramp_max(rc)} msg/s, bare {ramp_max(rb)} msg/s: "
              f"ratio {ratio:.2f}")
        busy = busy or next((s["busy"] for s in rc["steps"] + rb["steps"] if s["busy"]), "")
        ok = rb["max"] > 0 and rc["max"] >= rb["max"]
        bench.row("ratio to bare ocpp", "max msg/s >= bare's",
                  f"CSMS {ramp_max(rc)} vs bare {ramp_max(rb)} msg/s = {ratio:.2f}x (at {rate:,.0f}: "
                  f"{c['achieved']:,.0f} vs {b['achieved']:,.0f})", ok,
                  f"CSMS: {rc['limited_by']}; bare: {rb['limited_by']}", busy)
    else:
        ok = sustained_b > 0 and sustained_c >= sustained_b
        bench.row("ratio to bare ocpp", f">= bare's msg/s at {rate:,.0f}",
                  f"CSMS {c['achieved']:,.0f} (p99 {c['all']['p99']:,.0f} ms) vs bare {b['achieved']:,.0f} "
                  f"(p99 {b['all']['p99']:,.0f} ms) = {ratio_fixed:.2f}x", ok,
                  f"CSMS: {c['limited_by']}; bare: {b['limited_by']}", busy)


async def scenario_generator(bench: Bench) -> None:
    """The load generator's own ceiling in this run: bench/null_csms.py answers at once, so what
    limits the window is the generator (and the machine)."""
    args = bench.args
    stations = args.sizes["throughput"]
    rate = 1.2 * max(2500.0, args.rate or 0.0)
    duration = min(args.duration, 10.0)
    print(f"\n### generator: {stations} stations, {rate:g} msg/s against bench/null_csms.py", flush=True)
    async with standalone(bench, stations, "null_csms.py", "null sink") as system:
        await connect_and_boot(bench, system, transactions=True)
        window = await offer_load(bench, system, rate, duration, "load")
    print()
    print(f"== generator: {bench.fleet.size} processes, {stations} stations, {rate:g} msg/s offered for {duration:g} s "
          f"to a sink that answers at once ==")
    print_window(window, system)
    usage = window["usage"]
    late = window["lateness"]
    ok = window["achieved"] >= 0.97 * rate and late["p99"] <= LATE_LIMIT_MS and window["skipped"] == 0
    bench.row("load generator", f"offers {rate:,.0f} msg/s on time",
              f"{window['achieved']:,.0f} answered, sent late p99 {late['p99']:.1f} ms, "
              f"{window['generator_us_per_message']:.0f} µs CPU/msg ({100 * usage.generator:.0f}% of a core)",
              ok, limited_by(usage, late["p99"]), usage.busy)
    bench.details["generator"] = {k: v for k, v in window.items() if k not in ("recorded", "probe", "inbound")}


async def scenario_burst(bench: Bench) -> None:
    args = bench.args
    stations = args.sizes["burst"]
    print(f"\n### burst: {stations} stations send MeterValues in the same second (1 node)", flush=True)
    async with csms(bench, 1, stations) as system:
        setup = await connect_and_boot(bench, system, transactions=False)
        await asyncio.sleep(1)
        postgres = await db(sl.postgres_backend_pids)
        # Clock-aligned: the next whole second of the wall clock at least 2 s away, on the shared monotonic clock.
        wall = math.ceil(time.time() + 2)
        at = monotonic() + (wall - time.time())
        meter = CpuMeter(system.pids, bench.fleet, postgres)
        asked = asyncio.get_running_loop().create_task(bench.fleet.ask(
            "burst", {"at": at, "samples": args.samples, "spread": args.burst_spread, "phase": "burst"}))
        await asyncio.sleep(max(0.0, at - monotonic()))
        meter.start()
        results = await asked
        usage = meter.stop()
        await bench.fleet.ask("close")
        await asyncio.sleep(1.5)
        persisted = await db(sl.persisted_counts, system.fixtures)
    recorded = merge_recorded(results)
    sent = sum(r["sent"] for r in results)
    answered = sum(r["answered"] for r in results)
    last_answers = [r["last_answer"] for r in results if r["last_answer"] is not None]
    last = (max(last_answers) - at) if last_answers else float("inf")
    sending = max(r["last_send"] for r in results) - at
    acked = recorded["samples_acked"].get("burst", 0)
    print()
    print(f"== burst: {stations} stations, clock-aligned MeterValues ({args.samples} sampled values) at "
          f"{time.strftime('%H:%M:%S', time.localtime(wall))} ==")
    print(f"  connected {setup['connected']}; {sent} sent (sending took {sending * 1000:.0f} ms"
          f"{f', spread over {args.burst_spread:g} s' if args.burst_spread else ''}), {answered} answered; "
          f"last answer {last:.2f} s after the aligned instant")
    figures = print_latency(recorded, ["burst"])
    print("  " + usage.line())
    ok_persisted = persisted["meter_values"] >= acked
    print(f"  persisted: {persisted['meter_values']} sampled values ({acked} acknowledged"
          f"{'' if ok_persisted else ' !! MISMATCH'})")
    ok = answered == stations and last <= 3.0 and ok_persisted
    bench.row("burst", f"{args.target_sizes['burst']:,} answered <= 3 s",
              f"{answered:,}/{stations:,} answered, last after {last:.2f} s",
              ok, limited_by(usage), usage.busy, reduced(bench, "burst", stations))
    bench.details["burst"] = {"stations": stations, "sent": sent, "answered": answered, "last_answer_s": last,
                              "sending_s": sending, "latency_ms": figures, "persisted": persisted, "acked": acked,
                              "usage": usage}


async def scenario_idle(bench: Bench) -> None:
    args = bench.args
    stations = args.sizes["idle"]
    print(f"\n### idle: {stations} stations connected, booted and held idle on 1 node", flush=True)
    async with csms(bench, 1, stations) as system:
        postgres = await db(sl.postgres_backend_pids)
        generator_before = sum(procstats.rss_kb(pid) or 0 for pid in bench.fleet.pids)
        meter = CpuMeter(system.pids, bench.fleet, postgres).start()
        setup = await connect_and_boot(bench, system, transactions=False)
        await asyncio.sleep(args.hold)
        usage = meter.stop()
        held = rss(system)
        status = await bench.fleet.ask("status")
        still = sum(s["connected"] for s in status)
        generator_growth = sum(procstats.rss_kb(pid) or 0 for pid in bench.fleet.pids) - generator_before
    before = setup["rss_before_kb"][0]
    connected = setup["connected"]

    def per(after):
        return None if before is None or after is None or not connected else (after - before) / connected

    per_connected, per_booted, per_held = per(setup["rss_connected_kb"][0]), per(setup["rss_booted_kb"][0]), per(held[0])
    print()
    print(f"== idle: {stations} stations on 1 node ==")
    print(f"  connected {connected}/{stations} in {setup['connect_seconds']:.1f} s"
          + (f", failed: {setup['connect_errors']}" if setup["connect_errors"] else "")
          + f"; booted in {setup['setup_seconds']:.1f} s; {still} still connected after {args.hold:g} s idle")
    print(f"  node RSS: before {kb([before])}; connected {kb(setup['rss_connected_kb'])}; booted {kb(setup['rss_booted_kb'])}; "
          f"held {args.hold:g} s {kb(held)}")
    fmt = lambda v: "?" if v is None else f"{v:.1f} KB"  # noqa: E731
    print(f"  memory per idle connection: {fmt(per_connected)} connected, {fmt(per_booted)} booted, "
          f"{fmt(per_held)} after holding")
    print(f"  load generator: {generator_growth / max(1, connected):.1f} KB of RSS per simulated station")
    print("  while connecting, booting and holding: " + usage.line())
    ok = per_held is not None and per_held <= 50 and still == stations
    bench.row("idle", f"{args.target_sizes['idle']:,} on 1 node, <= 50 KB each",
              f"{fmt(per_held)} each ({fmt(per_connected)} connected), {still:,}/{stations:,} held",
              ok, "", usage.busy, reduced(bench, "idle", stations))
    bench.details["idle"] = {"stations": stations, "connected": connected, "still_connected": still,
                             "rss_kb": {"before": before, "connected": setup["rss_connected_kb"][0],
                                        "booted": setup["rss_booted_kb"][0], "held": held[0]},
                             "kb_per_station": {"connected": per_connected, "booted": per_booted, "held": per_held},
                             "connect_seconds": setup["connect_seconds"], "setup_seconds": setup["setup_seconds"]}


def online_by_node(fixtures) -> dict:
    from django.db.models import Count

    from stations.models import ChargeStation

    rows = (ChargeStation.objects.filter(pk__in=fixtures.station_ids, online=True)
            .values("node").annotate(n=Count("pk")))
    return {row["node"]: row["n"] for row in rows}


def status_records(fixtures) -> int:
    from stations.models import StatusNotificationRecord

    return StatusNotificationRecord.objects.filter(station_id__in=fixtures.station_ids).count()


async def scenario_storm(bench: Bench) -> None:
    args = bench.args
    stations = args.sizes["storm"]
    nodes = args.nodes or (2 if os.environ.get("REDIS_URL") else 1)
    print(f"\n### storm: {stations} stations on {nodes} node(s) dropped at once, reconnecting", flush=True)
    async with csms(bench, nodes, stations) as system:
        setup = await connect_and_boot(bench, system, transactions=False)
        statuses_before = await db(status_records, system.fixtures)
        await asyncio.sleep(1)
        postgres = await db(sl.postgres_backend_pids)
        at = monotonic() + 1
        meter = CpuMeter(system.pids, bench.fleet, postgres)
        overflows = procstats.listen_overflows()
        per_worker = max(1, math.ceil(args.storm_concurrency / bench.fleet.size))
        asked = asyncio.get_running_loop().create_task(bench.fleet.ask("storm", {
            "at": at, "deadline": at + args.storm_deadline, "spread": args.storm_spread, "concurrency": per_worker,
            "connect_timeout": 30.0, "statuses": 3, "phase": "storm"}))
        await asyncio.sleep(max(0.0, at - monotonic()))
        meter.start()
        results = await asked
        usage = meter.stop()
        overflows = overflow_delta(overflows)
        await asyncio.sleep(2)  # the nodes' bookkeeping of the dropped sockets
        online = await db(online_by_node, system.fixtures)
        statuses = await db(status_records, system.fixtures) - statuses_before
        node_names = {f"bench-{system.fixtures.run_id.lower()}-{i}": i for i in range(nodes)}
    recorded = merge_recorded(results)
    finished = sorted(v for r in results for v in r["finished_s"])
    left = sum(r["left_behind"] for r in results)
    refused = merge_counters(results, "refused")
    errors = merge_counters(results, "connect_errors")
    retried = merge_counters(results, "retried_calls")
    per_node = merge_counters(results, "per_node")
    attempts = merge_counters(results, "attempts")
    done_all = finished[-1] if finished and not left else float("inf")
    print()
    print(f"== storm: {stations} stations on {nodes} node(s), all dropped, each reconnecting with BootNotification "
          f"and 3 StatusNotifications ==")
    print(f"  connected before the storm: {setup['connected']}/{stations}")
    print(f"  done: {len(finished)}/{stations}" + (f"; all done after {done_all:.1f} s" if not left else "")
          + f"; p50 {percentile(finished, .5):.1f} s, p99 {percentile(finished, .99):.1f} s of those done; "
          f"left behind at {args.storm_deadline:g} s: {left}")
    print(f"  refused handshakes: {dict(refused) or 'none'}; failed connections: {dict(errors) or 'none'}"
          f"{overflow_note(overflows)}; "
          f"Calls sent again: {dict(retried) or 'none'}; handshake attempts per station: "
          + ", ".join(f"{k}: {v}" for k, v in sorted(attempts.items())))
    print("  done per node (generator): " + ", ".join(f"node {k}: {v}" for k, v in sorted(per_node.items())))
    print("  online per node (the CSMS's database): "
          + (", ".join(f"node {node_names.get(k, k)}: {v}" for k, v in sorted(online.items())) or "none")
          + f"; {sum(online.values())} online; {statuses} StatusNotifications stored ({3 * len(finished)} from the "
          f"stations done, more when a Call was sent again)")
    figures = print_latency(recorded, ["storm"])
    print("  " + usage.line())
    ok = left == 0 and not refused and done_all <= 60 and sum(online.values()) == stations and nodes >= 2
    bench.row(f"reconnect storm, {nodes} node{'s' if nodes > 1 else ''}",
              f"{args.target_sizes['storm']:,} back <= 60 s, 0 refused/left",
              (f"all back in {done_all:.1f} s" if not left else f"{len(finished):,} back, {left:,} left at {args.storm_deadline:g} s")
              + f", {sum(refused.values())} refused, {sum(errors.values()):,} failed connects, {sum(online.values()):,} online",
              ok, limited_by(usage), usage.busy,
              "; ".join(filter(None, [reduced(bench, "storm", stations), "1 node: no REDIS_URL" if nodes < 2 else ""])))
    bench.details["storm"] = {"stations": stations, "nodes": nodes, "done": len(finished), "all_done_s": done_all,
                              "left_behind": left, "refused": dict(refused), "connect_errors": dict(errors),
                              "retried_calls": dict(retried), "per_node": dict(per_node), "online": online,
                              "status_records": statuses, "latency_ms": figures, "usage": usage,
                              "listen_overflows": overflows}


# --- Summary --------------------------------------------------------------------------------------


def print_summary(bench: Bench) -> None:
    columns = [("scenario", "scenario"), ("target", "target"), ("measured", "measured"), ("result", "result"),
               ("limited by", "limited_by"), ("machine", "machine")]
    widths = [max(len(title), *(len(str(row[key])) for row in bench.rows)) for title, key in columns]
    mode = ("PostgreSQL" if bench.database_url.startswith("postgres") else "SQLite") + " + " + \
        ("Redis" if os.environ.get("REDIS_URL") else "in-memory") + " layer"
    print()
    print(f"== summary (issue #17 targets; {mode}; {os.cpu_count()} cores, load generator included: "
          f"{bench.fleet.size} process{'es' if bench.fleet.size > 1 else ''}) ==")
    print("  ".join(title.ljust(width) for (title, _), width in zip(columns, widths)))
    print("  ".join("-" * width for width in widths))
    for row in bench.rows:
        print("  ".join(str(row[key]).ljust(width) for (_, key), width in zip(columns, widths)))
    if any(row["result"] == "pass*" for row in bench.rows):
        print("pass* = passes [at] a reduced size or rate, not the target's: run `make bench BENCH_ARGS=--full`.")
    if any(row["machine"] != "ok" for row in bench.rows):
        print(f"BUSY n = other processes used n cores (above {BUSY_CORES}) while that figure was taken: not comparable.")


async def main_async(bench: Bench) -> None:
    args = bench.args
    redis = bool(os.environ.get("REDIS_URL"))
    chosen = SCENARIOS if args.scenario == "all" else (args.scenario,)
    for scenario in chosen:
        try:
            if scenario == "generator":
                await scenario_generator(bench)
            elif scenario == "throughput":
                await scenario_throughput(bench, args.nodes or 1)
                if args.scenario == "all" and not args.nodes:
                    if redis:
                        await scenario_throughput(bench, 2)
                    else:
                        bench.row("throughput, 2 nodes", "2,500 msg/s, p99 <= 50 ms", "not run: needs REDIS_URL", None)
            elif scenario == "ratio":
                await scenario_ratio(bench)
            elif scenario == "burst":
                await scenario_burst(bench)
            elif scenario == "idle":
                await scenario_idle(bench)
            elif scenario == "storm":
                await scenario_storm(bench)
        except Exception as exc:  # noqa: BLE001 - one broken scenario must not hide the others' figures
            import traceback

            traceback.print_exc()
            bench.row(scenario, "", f"crashed: {type(exc).__name__}: {exc}"[:120], False)
    print_summary(bench)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.seed is not None:
        random.seed(args.seed)
    # Every station is a socket here and in the node: lift the soft file limit to the hard one
    # (the generator processes inherit it).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    biggest = max(args.sizes.values())
    if hard < biggest + 1000:
        print(f"warning: the open-file limit ({hard}) is below {biggest + 1000}: raise `ulimit -n`", file=sys.stderr)
    tempdir = Path(tempfile.mkdtemp(prefix="csms-bench-"))
    database_url = sl.setup_django(tempdir, migrate=True)
    fleet = Fleet(args.workers, args.seed)
    bench = Bench(args, database_url, fleet)
    try:
        asyncio.run(main_async(bench))
        if args.json:
            Path(args.json).write_text(json.dumps({"summary": bench.rows, "details": slim(bench.details)}, indent=2,
                                                  default=_json_default))
    finally:
        fleet.close()
        from django.db import connections

        connections.close_all()
        shutil.rmtree(tempdir, ignore_errors=True)
    return 0


def slim(value):
    """The figures without the raw samples (latencies, lateness, API probe timestamps)."""
    if isinstance(value, dict):
        return {k: slim(v) for k, v in value.items() if k not in ("recorded", "inbound", "probe")}
    if isinstance(value, list | tuple):
        return [slim(v) for v in value]
    return value


def _json_default(value):
    if isinstance(value, Usage):
        return value.__dict__
    if isinstance(value, ApiProbe):
        return None
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
