"""Load a CSMS with simulated charge stations and print what it costs: latency, throughput, memory, CPU.

    .venv/bin/python bench/station_load.py                       # embedded defaults: temp SQLite, in-memory layer
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/csms_bench REDIS_URL=redis://127.0.0.1:6379/7 \
        .venv/bin/python bench/station_load.py --stations 500 --rate 200 --nodes 2

Steps: migrate the database, create the stations, id tags and an API token directly in it, start
`python -m csms.node` processes (or target --url), connect every station over a raw WebSocket,
boot them (half start a transaction), then offer a mix of station Calls at --rate for --duration
seconds while a probe sends CSMS Calls through the REST API (`?wait`). See bench/README.md and
docs/adr/0040-benchmark-method.md.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)

from bench import procstats  # noqa: E402
from bench.fleet import LoadDriver, SimStation, Stats, percentile  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stations", type=int, default=200, help="simulated stations (default 200)")
    parser.add_argument("--rate", type=float, default=100, help="station Calls per second offered (default 100; 0: connect and hold only)")
    parser.add_argument("--duration", type=float, default=30, help="seconds of load (default 30)")
    parser.add_argument("--nodes", type=int, default=1, help="node processes to start behind a round robin (needs REDIS_URL)")
    parser.add_argument("--url", action="append", default=[],
                        help="target running node(s) instead of starting them (http://host:port; repeat or comma-separate). "
                             "DATABASE_URL must then be the database those nodes use.")
    parser.add_argument("--pid", type=int, action="append", default=[], help="with --url: node pid(s) to read memory and CPU of")
    parser.add_argument("--samples", type=int, default=8, help="sampled values per MeterValues frame (1-10, default 8)")
    parser.add_argument("--api-interval", type=float, default=1.0,
                        help="seconds between CSMS Calls sent through the REST API during the load (0: none)")
    parser.add_argument("--connect-concurrency", type=int, default=50, help="handshakes in flight at once")
    parser.add_argument("--compression", action="store_true", help="stations offer permessage-deflate (most do not)")
    parser.add_argument("--profile", metavar="DIR", help="record the node(s) with py-spy during the load; print the hot spots")
    parser.add_argument("--profile-wall", action="store_true",
                        help="with --profile: sample every active thread (where time goes) instead of the GIL holder (where CPU goes)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the stations and their data in the database")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    args.url = [u.strip() for value in args.url for u in value.split(",") if u.strip()]
    if args.nodes > 1 and not args.url and not os.environ.get("REDIS_URL"):
        parser.error("--nodes > 1 needs REDIS_URL: nodes share stations through the Redis channel layer")
    if not 1 <= args.samples <= 10:
        parser.error("--samples must be between 1 and 10")
    if args.url and not os.environ.get("DATABASE_URL"):
        parser.error("--url needs DATABASE_URL: the bench creates its stations in the nodes' database")
    return args


# --- Database -------------------------------------------------------------------------------------


def setup_django(tempdir: Path, migrate: bool) -> str:
    """Point Django at DATABASE_URL (or a fresh temp SQLite file) and migrate it unless told not to."""
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = f"sqlite:///{tempdir / 'bench.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csms.settings")
    import django

    django.setup()
    from django.core.management import call_command

    if migrate:
        call_command("migrate", interactive=False, verbosity=0)
    return os.environ["DATABASE_URL"]


@dataclass
class Fixtures:
    run_id: str
    station_ids: list[str]
    id_tags: list[str]
    warmup_id: str
    token: str
    username: str


def create_fixtures(count: int) -> Fixtures:
    """Stations (Accepted, security profile 0), one id tag each, and a staff user's API token."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from csms.testing import grant_send_calls
    from stations.models import ChargeStation
    from transactions.models import IdTag

    run_id = uuid.uuid4().hex[:6].upper()
    station_ids = [f"BENCH-{run_id}-{i:05d}" for i in range(count)]
    id_tags = [f"B{run_id}{i:06d}" for i in range(count)]
    warmup_id = f"BENCH-{run_id}-WARMUP"
    ChargeStation.objects.bulk_create([ChargeStation(id=sid) for sid in [*station_ids, warmup_id]], batch_size=500)
    IdTag.objects.bulk_create([IdTag(id_tag=tag, max_active_transactions=1) for tag in id_tags], batch_size=500)
    username = f"bench-{run_id.lower()}"
    user = get_user_model().objects.create_user(username=username, is_staff=True)
    grant_send_calls(user)  # the probe's Calls, like any API user's, need the permission to send them
    token = Token.objects.create(user=user)
    return Fixtures(run_id, station_ids, id_tags, warmup_id, token.key, username)


def persisted_counts(fixtures: Fixtures) -> dict:
    """What the CSMS stored for this run's stations: the proof that the load was really processed."""
    from csms.ocpp.models import Call, MessageLog, ProcessedCall
    from transactions.models import MeterValue, Transaction

    ids = fixtures.station_ids
    return {
        "meter_values": MeterValue.objects.filter(station_id__in=ids).count(),
        "transactions": Transaction.objects.filter(station_id__in=ids).count(),
        "transactions_stopped": Transaction.objects.filter(station_id__in=ids, stopped_at__isnull=False).count(),
        "processed_calls": ProcessedCall.objects.filter(station_id__in=ids).count(),
        "message_log_rows": MessageLog.objects.filter(station_id__in=ids).count(),
        "api_calls_completed": Call.objects.filter(station_id__in=ids, status="completed").count(),
    }


def delete_fixtures(fixtures: Fixtures) -> None:
    from django.contrib.auth import get_user_model

    from csms.ocpp.models import MessageLog

    from stations.models import ChargeStation
    from transactions.models import IdTag

    ids = [*fixtures.station_ids, fixtures.warmup_id]
    MessageLog.objects.filter(station_id__in=ids).delete()  # no FK constraint, so no cascade
    for start in range(0, len(ids), 200):
        ChargeStation.objects.filter(pk__in=ids[start:start + 200]).delete()
    IdTag.objects.filter(id_tag__in=fixtures.id_tags).delete()
    get_user_model().objects.filter(username=fixtures.username).delete()


# --- Nodes ----------------------------------------------------------------------------------------


@dataclass
class Target:
    http: str
    ws: str
    pid: int | None = None
    node: object = None  # csms.testing.Node when we started it


def start_nodes(args, database_url: str, run_id: str) -> list[Target]:
    from csms.testing import Node

    targets = []
    for index in range(args.nodes):
        env = {
            "CSMS_CALL_TIMEOUT": "30",
            "CSMS_LOG_LEVEL": os.environ.get("CSMS_LOG_LEVEL", "WARNING"),
            "CSMS_CELERY_EAGER": os.environ.get("CSMS_CELERY_EAGER", "1"),
        }
        node = Node(database_url, env=env, name=f"bench-{run_id.lower()}-{index}").start()
        targets.append(Target(node.http, node.ws, node.process.pid, node))
    return targets


def url_targets(args) -> list[Target]:
    targets = []
    for index, url in enumerate(args.url):
        parsed = urlparse(url if "://" in url else f"http://{url}")
        secure = parsed.scheme in ("https", "wss")
        base = f"{parsed.hostname}:{parsed.port or (443 if secure else 80)}"
        pid = args.pid[index] if index < len(args.pid) else None
        targets.append(Target(f"{'https' if secure else 'http'}://{base}", f"{'wss' if secure else 'ws'}://{base}", pid))
    return targets


def postgres_backend_pids() -> list[int]:
    """Server processes of the other sessions on the bench database (the nodes' pooled connections)."""
    from django.db import connection, connections

    try:
        if connection.vendor != "postgresql":
            return []
        with connection.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
            return [row[0] for row in cursor.fetchall()]
    finally:
        connections.close_all()


def redis_server_pids() -> list[int]:
    """The local redis-server (shared with whatever else uses it), when REDIS_URL is set."""
    if not os.environ.get("REDIS_URL"):
        return []
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "redis-server":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def node_rss(targets: list[Target]) -> list[int | None]:
    return [procstats.rss_kb(t.pid) if t.pid else None for t in targets]


# --- Profiling ------------------------------------------------------------------------------------


def py_spy_path() -> str | None:
    candidate = Path(sys.executable).parent / "py-spy"
    return str(candidate) if candidate.exists() else shutil.which("py-spy")


def start_profilers(args, targets: list[Target], seconds: float) -> list[tuple[subprocess.Popen, Path]]:
    if not args.profile:
        return []
    binary = py_spy_path()
    if binary is None:
        print("  --profile: py-spy not found (`.venv/bin/pip install py-spy`); not profiling", flush=True)
        return []
    out_dir = Path(args.profile)
    out_dir.mkdir(parents=True, exist_ok=True)
    recorders = []
    for index, target in enumerate(targets):
        if target.pid is None:
            continue
        output = out_dir / f"node-{index}.txt"
        command = [binary, "record", "--pid", str(target.pid), "--duration", str(max(1, int(seconds))),
                   "--rate", "250", "--format", "raw", "--nonblocking", "--threads", "--output", str(output)]
        if not args.profile_wall:
            command.append("--gil")
        recorders.append((subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE), output))
    return recorders


PACKAGE_GROUPS = [  # (label, path fragments), first match wins
    ("project code", ("/csms/", "/stations/", "/transactions/", "/reservations/", "/smartcharging/",
                      "/locallists/", "/firmware/", "/partners/")),
    ("Django ORM", ("/django/db/",)),
    ("Django (other)", ("/django/",)),
    ("DRF", ("/rest_framework/",)),
    ("psycopg", ("/psycopg",)),
    ("sqlite3", ("/sqlite3/",)),
    ("channels / asgiref", ("/channels/", "/asgiref/", "/channels_redis/")),
    ("redis-py", ("/redis/",)),
    ("Twisted / autobahn / daphne", ("/twisted/", "/autobahn/", "/daphne/", "/txaio/")),
    ("asyncio", ("/asyncio/",)),
    ("threads / executor", ("/concurrent/", "/threading.py", "/queue.py")),
    ("json", ("/json/",)),
    ("logging", ("/logging/",)),
]


def _function(frame: str) -> str:
    """'func (path/file.py:123)' -> 'func (path/file.py)'."""
    name, _, location = frame.partition(" (")
    return f"{name} ({location.rsplit(':', 1)[0]})" if location else frame


def _group(frame: str) -> str:
    # py-spy shortens paths relative to sys.path: "csms/db.py", "django/db/models/query.py".
    location = "/" + frame.partition(" (")[2]
    if "site-packages" in location:
        location = location.split("site-packages", 1)[1]
    for label, fragments in PACKAGE_GROUPS:
        if any(fragment in location for fragment in fragments):
            return label
    return "other (stdlib, C calls)"


def summarize_profile(path: Path, top: int = 15) -> list[str]:
    """Where the sampled stacks spend their time: own time by package and by function, and the
    inclusive time of the project's own functions (what to optimise)."""
    own_group, own_function, inclusive, threads, total = {}, {}, {}, {}, 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        parts = stack.split(";")
        frames = [frame for frame in parts if not frame.startswith(("thread (", "process "))]
        if not frames:
            continue
        count = int(count)
        total += count
        # "thread (123): csms-db_4" -> "csms-db"; the event loop runs in MainThread.
        name = next((p.split(": ", 1)[-1] for p in parts if p.startswith("thread (")), "?")
        if name.startswith("csms-db"):
            name = "csms-db (run_db threads)"
        elif name.startswith("ThreadPoolExecutor"):
            name = "ThreadPoolExecutor-* (asgiref: API views)"
        threads[name] = threads.get(name, 0) + count
        leaf = frames[-1]
        own_group[_group(leaf)] = own_group.get(_group(leaf), 0) + count
        own_function[_function(leaf)] = own_function.get(_function(leaf), 0) + count
        for function in {_function(f) for f in frames if _group(f) == "project code"}:
            inclusive[function] = inclusive.get(function, 0) + count
    if not total:
        return ["  (no samples)"]

    def block(title, counts, limit):
        rows = [f"  {title}"]
        for name, count in sorted(counts.items(), key=lambda kv: -kv[1])[:limit]:
            rows.append(f"    {100 * count / total:5.1f}%  {name.replace(str(ROOT) + '/', '')}")
        return rows

    return [f"  {total} samples", *block("by thread (MainThread runs the event loop):", threads, 8),
            *block("own time by package:", own_group, 20),
            *block("own time by function:", own_function, top),
            *block("inclusive time of project functions:", inclusive, top)]


# --- The run --------------------------------------------------------------------------------------


@dataclass
class ApiProbe:
    round_trips: list[float] = field(default_factory=list)  # ms, POST ?wait to its 200
    dispatch: list[float] = field(default_factory=list)  # ms, POST sent to the station receiving the Call
    after_answer: list[float] = field(default_factory=list)  # ms, station answered to the HTTP answer
    failures: dict = field(default_factory=dict)


async def api_probe(targets: list[Target], token: str, stations: list[SimStation], interval: float,
                    stop: asyncio.Event, inbound: dict, probe: ApiProbe) -> None:
    """CSMS-initiated Calls through the partner API, one at a time, while the load runs."""
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    api_urls = itertools.cycle([t.http for t in targets])
    while not stop.is_set():
        connected = [s for s in stations if s.connected]
        if connected:
            station = random.choice(connected)
            url = f"{next(api_urls)}/api/v1/stations/{station.station_id}/calls/?wait=30"
            body = {"action": "GetConfiguration", "payload": {"key": ["HeartbeatInterval"]}}
            started = time.perf_counter()
            try:
                response = await asyncio.to_thread(session.post, url, json=body, timeout=40)
                finished = time.perf_counter()
                call = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
                outcome = f"HTTP {response.status_code} {call.get('status', '')}".strip()
            except Exception as exc:  # noqa: BLE001 - a failed probe is a figure, not a crash
                finished, call, outcome = time.perf_counter(), {}, type(exc).__name__
            if outcome == "HTTP 200 completed":
                probe.round_trips.append((finished - started) * 1000)
                seen = inbound.get(str(call.get("id")))
                if seen is not None:
                    probe.dispatch.append((seen.received - started) * 1000)
                    if seen.answered:
                        probe.after_answer.append((finished - seen.answered) * 1000)
            else:
                probe.failures[outcome] = probe.failures.get(outcome, 0) + 1
        try:
            await asyncio.wait_for(stop.wait(), interval)
        except TimeoutError:
            pass
    session.close()


async def bounded(limit: int, coroutines) -> list:
    semaphore = asyncio.Semaphore(limit)

    async def run(coroutine):
        async with semaphore:
            return await coroutine

    return await asyncio.gather(*(run(c) for c in coroutines), return_exceptions=True)


async def set_up_station(station: SimStation, start_transaction: bool) -> None:
    if not await station.boot("setup"):
        return
    await station.status("setup")
    if start_transaction:
        await station.authorize("setup")
        await station.start_transaction("setup")
        await station.status("setup")


async def drive(args, targets: list[Target], fixtures: Fixtures) -> dict:
    stats, inbound = Stats(), {}
    report: dict = {"connect_errors": {}}
    compression = "deflate" if args.compression else None

    # Warm up: the first connection imports and caches what every later one reuses.
    for target in targets:
        warm = SimStation(fixtures.warmup_id, f"{target.ws}/ocpp/{fixtures.warmup_id}", "", Stats(), {})
        await warm.connect(compression=compression)
        await warm.boot("warmup")
        await warm.heartbeat("warmup")
        await warm.close()
    await asyncio.sleep(1.5)
    report["rss_before_kb"] = node_rss(targets)

    ws_urls = itertools.cycle([t.ws for t in targets])
    stations = [SimStation(sid, f"{next(ws_urls)}/ocpp/{sid}", tag, stats, inbound)
                for sid, tag in zip(fixtures.station_ids, fixtures.id_tags)]
    print(f"  connecting {len(stations)} stations ...", flush=True)
    started = time.perf_counter()
    outcomes = await bounded(args.connect_concurrency, [s.connect(compression=compression) for s in stations])
    report["connect_seconds"] = time.perf_counter() - started
    handshakes = []
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            name = type(outcome).__name__
            report["connect_errors"][name] = report["connect_errors"].get(name, 0) + 1
        else:
            handshakes.append(outcome * 1000)
    report["handshake_ms"] = {"p50": percentile(handshakes, 0.5), "p99": percentile(handshakes, 0.99),
                              "max": max(handshakes, default=0)}
    report["connected"] = sum(s.connected for s in stations)
    await asyncio.sleep(2)
    report["rss_connected_kb"] = node_rss(targets)

    print(f"  booting {report['connected']} stations (half start a transaction) ...", flush=True)
    started = time.perf_counter()
    await bounded(args.connect_concurrency, [set_up_station(s, i % 2 == 0) for i, s in enumerate(stations) if s.connected])
    report["setup_seconds"] = time.perf_counter() - started
    await asyncio.sleep(1)
    report["rss_booted_kb"] = node_rss(targets)

    pids = [t.pid for t in targets if t.pid]
    pg_pids = await asyncio.to_thread(postgres_backend_pids)
    redis_pids = redis_server_pids()
    cpu = procstats.CpuWindow([*pids, os.getpid(), *pg_pids, *redis_pids])
    stop_probe = asyncio.Event()
    probe = ApiProbe()
    peak_rss = list(report["rss_booted_kb"])

    async def sample_rss():
        while not stop_probe.is_set():
            for index, value in enumerate(node_rss(targets)):
                if value is not None and (peak_rss[index] is None or value > peak_rss[index]):
                    peak_rss[index] = value
            await asyncio.sleep(1)

    print(f"  load: {args.rate:g} msg/s for {args.duration:g} s ...", flush=True)
    profilers = start_profilers(args, targets, args.duration)
    sampler = asyncio.get_running_loop().create_task(sample_rss())
    probe_task = None
    if args.api_interval > 0:
        probe_task = asyncio.get_running_loop().create_task(
            api_probe(targets, fixtures.token, stations, args.api_interval, stop_probe, inbound, probe))
    cpu.start()
    window_start = time.monotonic()
    if args.rate > 0:
        driver = LoadDriver(stations, rate=args.rate, duration=args.duration, samples=args.samples)
        load = await driver.run()
    else:
        driver = None
        await asyncio.sleep(args.duration)
    window_end = window_start + (load.window if driver else args.duration)
    cpu.stop()
    stop_probe.set()
    if probe_task is not None:
        await probe_task
    await sampler

    report["still_connected"] = sum(s.connected for s in stations)
    report["close_codes"] = {}
    for s in stations:
        if not s.connected and s.close_code is not None:
            report["close_codes"][str(s.close_code)] = report["close_codes"].get(str(s.close_code), 0) + 1
    report["rss_peak_kb"] = peak_rss
    report["cpu_node_cores"] = [cpu.core_share(pid) for pid in pids]
    report["cpu_bench_cores"] = cpu.core_share(os.getpid())
    report["cpu_machine_busy"] = cpu.machine_busy_share
    report["cpu_postgres_cores"] = sum(cpu.core_share(pid) or 0 for pid in pg_pids) if pg_pids else None
    report["cpu_redis_cores"] = sum(cpu.core_share(pid) or 0 for pid in redis_pids) if redis_pids else None
    report["stats"] = stats
    report["probe"] = probe
    report["load"] = load if driver else None
    report["answered_in_window"] = sum(1 for t in stats.answered_at if window_start <= t <= window_end)
    report["window"] = window_end - window_start
    for process, output in profilers:
        process.wait(timeout=args.duration + 30)
        if process.returncode == 0 and output.exists():
            report.setdefault("profiles", []).append(output)
        else:
            print(f"  py-spy failed: {process.stderr.read().decode(errors='replace')[-500:]}", flush=True)

    await bounded(100, [s.close() for s in stations])
    await asyncio.sleep(1.5)  # the message log is flushed every 0.25 s
    return report


# --- Report ---------------------------------------------------------------------------------------


def fmt_kb(values: list) -> str:
    return ", ".join("?" if v is None else f"{v / 1024:.1f} MB" for v in values)


def print_report(args, targets, report: dict, persisted: dict, database_url: str) -> dict:
    stats: Stats = report["stats"]
    load = report["load"]
    mode = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
    layer = "Redis" if os.environ.get("REDIS_URL") else "in-memory"
    out = {"mode": f"{mode} + {layer} layer", "nodes": len(targets), "stations": args.stations,
           "rate": args.rate, "duration": args.duration}
    print()
    print(f"== CSMS station load: {len(targets)} node(s), {mode} + {layer} channel layer, "
          f"{args.stations} stations, {args.rate:g} msg/s offered for {args.duration:g} s ==")
    errors = report["connect_errors"]
    print(f"connect: {report['connected']}/{args.stations} in {report['connect_seconds']:.1f} s "
          f"(handshake p50 {report['handshake_ms']['p50']:.0f} ms, p99 {report['handshake_ms']['p99']:.0f} ms)"
          + (f", failed: {errors}" if errors else ""))
    print(f"boot + status (+ half start a transaction): {report['setup_seconds']:.1f} s")
    out.update(connected=report["connected"], connect_seconds=report["connect_seconds"])

    if load is not None:
        window = report["window"]
        achieved = report["answered_in_window"] / window if window else 0
        print(f"throughput: {achieved:.1f} msg/s answered ({sum(load.sent.values())} sent in {window:.1f} s"
              f", {load.skipped_busy} skipped: every eligible station still awaiting an answer"
              f", {load.unanswered_at_end} unanswered at the end)")
        out.update(achieved_msg_s=achieved, sent=dict(load.sent), skipped_busy=load.skipped_busy)
    print()
    print(f"{'action':<20}{'count':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}")
    out["latency_ms"] = {}
    for phase in ("load", "setup"):
        rows = stats.latencies.get(phase, {})
        errors = stats.errors.get(phase, {})
        if not rows and not errors:
            continue
        print(f"-- {phase}")
        everything = []
        for action in sorted(set(rows) | {e.split(':')[0] for e in errors}):
            values = rows.get(action, [])
            everything += values
            failed = sum(count for key, count in errors.items() if key.split(":")[0] == action)
            print(f"{action:<20}{len(values):>8}{percentile(values, .5):>9.1f}{percentile(values, .95):>9.1f}"
                  f"{percentile(values, .99):>9.1f}{max(values, default=0):>9.1f}{failed:>8}")
            out["latency_ms"][f"{phase}/{action}"] = {
                "count": len(values), "p50": percentile(values, .5), "p95": percentile(values, .95),
                "p99": percentile(values, .99), "max": max(values, default=0), "errors": failed}
        print(f"{'(all)':<20}{len(everything):>8}{percentile(everything, .5):>9.1f}{percentile(everything, .95):>9.1f}"
              f"{percentile(everything, .99):>9.1f}{max(everything, default=0):>9.1f}{sum(errors.values()):>8}")
        out["latency_ms"][f"{phase}/all"] = {"count": len(everything), "p50": percentile(everything, .5),
                                             "p95": percentile(everything, .95), "p99": percentile(everything, .99),
                                             "max": max(everything, default=0)}
        for key, count in sorted(errors.items()):
            print(f"   error {key} x{count}")
    out["errors"] = {phase: dict(counter) for phase, counter in stats.errors.items()}

    probe: ApiProbe = report["probe"]
    if args.api_interval > 0:
        print()
        rt, dispatch, back = probe.round_trips, probe.dispatch, probe.after_answer
        print(f"CSMS Calls through the API (POST .../calls/?wait, GetConfiguration): {len(rt)} completed"
              + (f", failed: {probe.failures}" if probe.failures else ""))
        for label, values in (("round trip", rt), ("  POST -> station has the Call", dispatch),
                              ("  station answered -> HTTP 200", back)):
            print(f"  {label:<34} p50 {percentile(values, .5):7.1f}  p95 {percentile(values, .95):7.1f}  "
                  f"p99 {percentile(values, .99):7.1f}  max {max(values, default=0):7.1f} ms")
        out["api_call_ms"] = {"count": len(rt), "p50": percentile(rt, .5), "p95": percentile(rt, .95),
                              "p99": percentile(rt, .99), "max": max(rt, default=0),
                              "dispatch_p50": percentile(dispatch, .5), "after_answer_p50": percentile(back, .5),
                              "failures": probe.failures}

    print()
    n_per_node = [args.stations // len(targets) + (1 if i < args.stations % len(targets) else 0) for i in range(len(targets))]
    per_conn = []
    for before, after, count in zip(report["rss_before_kb"], report["rss_connected_kb"], n_per_node):
        per_conn.append(None if before is None or after is None or not count else (after - before) / count)
    print(f"node RSS: before {fmt_kb(report['rss_before_kb'])}; {report['connected']} connected "
          f"{fmt_kb(report['rss_connected_kb'])}; booted {fmt_kb(report['rss_booted_kb'])}; "
          f"peak under load {fmt_kb(report['rss_peak_kb'])}")
    print("memory per idle connection: " + ", ".join("?" if v is None else f"{v:.0f} KB" for v in per_conn))
    cores = report["cpu_node_cores"]
    print("node CPU during the load: " + (", ".join("?" if c is None else f"{100 * c:.0f}% of a core" for c in cores) or "? (no --pid)")
          + f"; bench client {100 * (report['cpu_bench_cores'] or 0):.0f}% of a core"
          + (f"; PostgreSQL backends {100 * report['cpu_postgres_cores']:.0f}%" if report["cpu_postgres_cores"] is not None else "")
          + (f"; redis-server {100 * report['cpu_redis_cores']:.0f}%" if report["cpu_redis_cores"] is not None else "")
          + f"; whole machine {100 * report['cpu_machine_busy']:.0f}% busy ({os.cpu_count()} cores)")
    ours = sum(c or 0 for c in cores) + (report["cpu_bench_cores"] or 0) + (report["cpu_postgres_cores"] or 0) \
        + (report["cpu_redis_cores"] or 0)
    others = max(0.0, report["cpu_machine_busy"] * (os.cpu_count() or 1) - ours)
    if load is not None and report["answered_in_window"] and all(c is not None for c in cores) and cores:
        per_message = sum(cores) * report["window"] / report["answered_in_window"] * 1000
        print(f"node CPU per answered message: {per_message:.2f} ms (one node process is bound to about one core: "
              f"~{1000 / per_message * len(cores):.0f} msg/s at most)")
        out["node_cpu_ms_per_message"] = per_message
    print(f"other processes on the machine used {100 * others:.0f}% of a core meanwhile"
          + (" -- figures from a busy machine are not comparable" if others > 0.3 else ""))
    out["other_load_cores"] = others
    if report["still_connected"] != report["connected"]:
        print(f"!! {report['connected'] - report['still_connected']} stations were disconnected during the run "
              f"(close codes {report['close_codes']})")
    out.update(rss_kb={"before": report["rss_before_kb"], "connected": report["rss_connected_kb"],
                       "booted": report["rss_booted_kb"], "peak": report["rss_peak_kb"]},
               kb_per_connection=per_conn, node_cpu_cores=cores, bench_cpu_cores=report["cpu_bench_cores"],
               postgres_cpu_cores=report["cpu_postgres_cores"], redis_cpu_cores=report["cpu_redis_cores"],
               machine_busy=report["cpu_machine_busy"], still_connected=report["still_connected"])

    if persisted:
        expected_samples = (load.samples_acknowledged if load else 0)
        mismatch = "" if persisted["meter_values"] == expected_samples else " !! MISMATCH"
        print(f"persisted for this run: {persisted['meter_values']} sampled values "
              f"({expected_samples} acknowledged{mismatch}), "
              f"{persisted['transactions']} transactions ({persisted['transactions_stopped']} stopped), "
              f"{persisted['processed_calls']} processed-call rows, {persisted['message_log_rows']} message-log rows, "
              f"{persisted['api_calls_completed']} API calls completed")
        out["persisted"] = persisted
    for path in report.get("profiles", []):
        print()
        print(f"py-spy profile of the node ({path}):")
        print("\n".join(summarize_profile(path)))
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.seed is not None:
        random.seed(args.seed)
    # Every station is a socket here and in the node: lift the soft file limit to the hard one.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tempdir = Path(tempfile.mkdtemp(prefix="csms-bench-"))
    # Running nodes (--url) come with their migrated database: never migrate someone else's.
    database_url = setup_django(tempdir, migrate=not args.url)
    fixtures = create_fixtures(args.stations)
    targets: list[Target] = []
    try:
        targets = url_targets(args) if args.url else start_nodes(args, database_url, fixtures.run_id)
        where = ", ".join(t.http for t in targets)
        logs = ", ".join(str(t.node.log_path) for t in targets if t.node)
        print(f"nodes: {where}" + (f" (logs: {logs})" if logs else ""), flush=True)
        report = asyncio.run(drive(args, targets, fixtures))
        persisted = persisted_counts(fixtures)
        summary = print_report(args, targets, report, persisted, database_url)
        if args.json:
            Path(args.json).write_text(json.dumps(summary, indent=2, default=str))
    finally:
        for target in targets:
            if target.node is not None:
                target.node.stop()
        if not args.keep:
            try:
                delete_fixtures(fixtures)
            except Exception as exc:  # noqa: BLE001 - leftovers are harmless, say so and go on
                print(f"could not delete this run's stations: {exc}", file=sys.stderr)
        from django.db import connections

        connections.close_all()
        shutil.rmtree(tempdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
