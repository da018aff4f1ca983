"""cgroup v1 limits for the bubblewrap backend.

rlimits are per process (RLIMIT_AS) or per host uid (RLIMIT_NPROC) and cannot
cap CPU share; a cgroup caps the whole sandbox as one unit, lets us tell an
OOM kill from other SIGKILLs, and lets us kill every process it holds on
timeout.  Used only where /sys/fs/cgroup/<controller> is a writable v1 hierarchy.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

from .base import Limits

ROOT = Path("/sys/fs/cgroup")
PARENT = "grader-sandbox"
CONTROLLERS = ("memory", "pids", "cpu")


def usable() -> tuple[bool, str]:
    """Whether v1 memory/pids/cpu hierarchies exist and we may create groups in them."""
    if (ROOT / "cgroup.controllers").exists():
        return False, "cgroup v2 unified hierarchy (only v1 is implemented)"
    for c in CONTROLLERS:
        d = ROOT / c
        if not (d / "cgroup.procs").exists():
            return False, f"no cgroup v1 '{c}' controller at {d}"
        try:
            (d / PARENT).mkdir(exist_ok=True)
        except OSError as e:
            return False, f"cannot create a cgroup under {d}: {e.strerror}"
        if not os.access(d / PARENT, os.W_OK):
            return False, f"{d / PARENT} is not writable"
    return True, "cgroup v1 memory/pids/cpu writable"


def sweep_stale(min_age_s: float = 900.0) -> int:
    """Remove run groups left by a grader that was killed (kill -9 runs no cleanup): empty ones older than
    `min_age_s` (a fresh group is empty for a moment before its launcher joins it). Returns how many."""
    removed = 0
    now = time.time()
    for c in CONTROLLERS:
        base = ROOT / c / PARENT
        if not base.is_dir():
            continue
        for d in base.glob("run-*"):
            try:
                if now - d.stat().st_mtime < min_age_s or (d / "cgroup.procs").read_text().strip():
                    continue
                d.rmdir()
                removed += 1
            except OSError:
                pass
    return removed


class CgroupSet:
    """One group per controller for one run; ``close()`` kills leftovers and removes them."""

    def __init__(self, limits: Limits) -> None:
        name = f"run-{uuid.uuid4().hex[:12]}"
        self.dirs = {c: ROOT / c / PARENT / name for c in CONTROLLERS}
        for d in self.dirs.values():
            d.mkdir(parents=True)
        mem = self.dirs["memory"]
        limit = str(limits.memory_mb * 1024 * 1024)
        _write(mem / "memory.limit_in_bytes", limit)
        if (mem / "memory.memsw.limit_in_bytes").exists():  # no swap escape hatch
            _write(mem / "memory.memsw.limit_in_bytes", limit)
        if (mem / "memory.swappiness").exists():
            _try_write(mem / "memory.swappiness", "0")
        _write(self.dirs["pids"] / "pids.max", str(limits.pids))
        cpu = self.dirs["cpu"]
        _write(cpu / "cpu.cfs_period_us", "100000")
        _write(cpu / "cpu.cfs_quota_us", str(max(1000, int(limits.cpus * 100000))))

    @property
    def procs_files(self) -> list[str]:
        """Each group's ``cgroup.procs`` (a process id moves that whole process)."""
        return [str(d / "cgroup.procs") for d in self.dirs.values()]

    @property
    def tasks_files(self) -> list[str]:
        """Each group's ``tasks``: the launcher writes ``0`` there to move itself in before
        exec'ing bubblewrap.  Writing another pid (to either file) makes the kernel take
        the global cgroup threadgroup lock, whose first use after a quiet spell waits for
        an RCU grace period (7-15 ms per run here); a thread moving itself skips that lock,
        and a single-threaded launcher moving itself moves the whole process."""
        return [str(d / "tasks") for d in self.dirs.values()]

    def oom_killed(self) -> bool:
        """True when the kernel OOM-killed something in this group (or hit the limit)."""
        ctl = self.dirs["memory"] / "memory.oom_control"
        try:
            for line in ctl.read_text().splitlines():
                key, _, val = line.partition(" ")
                if key == "oom_kill" and int(val) > 0:
                    return True
            return int((self.dirs["memory"] / "memory.failcnt").read_text()) > 0 and \
                int((self.dirs["memory"] / "memory.max_usage_in_bytes").read_text()) >= \
                int((self.dirs["memory"] / "memory.limit_in_bytes").read_text()) - 2 ** 20
        except (OSError, ValueError):
            return False

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in (self.dirs["pids"] / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def kill_all(self) -> None:
        """SIGKILL every process in the group until it is empty (a fork bomb keeps forking,
        so loop; the pids cap bounds how many there can be)."""
        pause = 0.001  # a process that is already exiting is usually gone within a ms
        for _ in range(200):
            pids = self.pids()
            if not pids:
                return
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(pause)
            pause = min(0.01, pause * 2)

    def close(self) -> None:
        self.kill_all()
        for d in self.dirs.values():
            pause = 0.001
            for _ in range(120):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # still busy for a moment after the last kill
                    time.sleep(pause)
                    pause = min(0.02, pause * 2)


def _write(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY)  # a bare write(2): no text-file layer per setting
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _try_write(path: Path, value: str) -> None:
    try:
        _write(path, value)
    except OSError:
        pass
