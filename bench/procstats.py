"""What /proc says about a process and the machine: resident memory and CPU time."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int | None:
    """Resident set size in KB (VmRSS), None when the process is gone or unreadable."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds the process (all its threads) has used so far."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the ")" closing comm, field 3 (state) is index 0: utime is field 14, stime 15.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of all cores since boot, from /proc/stat."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])
    return total - idle, total


@dataclass
class CpuWindow:
    """CPU used by some processes and by the whole machine between `start()` and `stop()`."""

    pids: list[int]
    started: float = 0.0
    process_start: dict | None = None
    machine_start: tuple[float, float] = (0.0, 0.0)
    wall: float = 0.0
    process_cpu: dict | None = None
    machine_busy_share: float = 0.0

    def start(self) -> CpuWindow:
        self.started = time.monotonic()
        self.process_start = {pid: cpu_seconds(pid) for pid in self.pids}
        self.machine_start = machine_cpu()
        return self

    def stop(self) -> CpuWindow:
        self.wall = time.monotonic() - self.started
        self.process_cpu = {}
        for pid in self.pids:
            before, after = self.process_start.get(pid), cpu_seconds(pid)
            self.process_cpu[pid] = None if before is None or after is None else after - before
        busy0, total0 = self.machine_start
        busy1, total1 = machine_cpu()
        self.machine_busy_share = (busy1 - busy0) / max(1, total1 - total0)
        return self

    def core_share(self, pid: int) -> float | None:
        """CPU of `pid` over the window as a share of ONE core (1.0 = a core fully busy)."""
        used = (self.process_cpu or {}).get(pid)
        return None if used is None or self.wall <= 0 else used / self.wall


def listen_overflows() -> int | None:
    """TcpExt ListenOverflows of the whole machine: handshakes dropped because a listening socket's
    accept queue was full (the server's backlog), which stations see as resets and timeouts."""
    try:
        with open("/proc/net/netstat") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    for keys, values in zip(lines[::2], lines[1::2]):
        if keys.startswith("TcpExt:"):
            fields = dict(zip(keys.split()[1:], values.split()[1:]))
            return int(fields["ListenOverflows"]) if "ListenOverflows" in fields else None
    return None
