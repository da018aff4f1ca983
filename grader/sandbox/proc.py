"""Host-side process plumbing shared by the backends: bounded output capture and a
watch loop that enforces the wall clock and the output-folder cap.

Output is read continuously into a fixed-size tail so a student printing in an
endless loop can neither fill the host's memory nor block on a full pipe.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from .base import TAIL_BYTES

#: More files than this in the output folder counts as over the cap (inode flood).
MAX_OUTPUT_FILES = 10_000


class TailBuffer:
    """Keeps only the last ``limit`` bytes written to it."""

    def __init__(self, limit: int = TAIL_BYTES) -> None:
        self.limit = limit
        self._buf = bytearray()
        self.total = 0
        self._lock = threading.Lock()

    def write(self, chunk: bytes) -> None:
        with self._lock:
            self.total += len(chunk)
            self._buf += chunk
            if len(self._buf) > 2 * self.limit:
                del self._buf[: len(self._buf) - self.limit]

    def getvalue(self) -> bytes:
        with self._lock:
            return bytes(self._buf[-self.limit:])


def drain(stream: IO[bytes], sink: TailBuffer) -> threading.Thread:
    """Read ``stream`` to EOF into ``sink`` on a daemon thread."""

    fd = stream.fileno()

    def pump() -> None:  # os.read: no buffer lock, so closing never waits on us
        try:
            while chunk := os.read(fd, 65536):
                sink.write(chunk)
        except (OSError, ValueError):
            pass

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    return t


def output_usage(path: Path) -> tuple[int, int]:
    """(bytes, entries) under ``path``, not following symlinks."""
    size = count = 0
    for root, dirs, files in os.walk(path, followlinks=False):
        for name in files + dirs:
            count += 1
            try:
                size += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return size, count


Outcome = Literal["done", "timeout", "over-cap"]


def watch(is_done: Callable[[], bool], wall_s: float, output_dir: Path | None,
          output_cap: int, poll_s: float = 0.05, size_every_s: float = 0.25) -> Outcome:
    """Wait until ``is_done()`` or the deadline, checking the output folder's size
    every ``size_every_s`` (a per-file RLIMIT_FSIZE alone lets many files fill the disk)."""
    deadline = time.monotonic() + wall_s
    next_size = time.monotonic() + size_every_s
    while not is_done():
        now = time.monotonic()
        if now >= deadline:
            return "timeout"
        if output_dir is not None and now >= next_size:
            size, count = output_usage(output_dir)
            if size > output_cap or count > MAX_OUTPUT_FILES:
                return "over-cap"
            next_size = now + size_every_s
        time.sleep(poll_s)
    return "done"


@dataclass
class Finished:
    exit_code: int | None
    stdout: bytes
    stderr: bytes
    outcome: Outcome
    duration_s: float


def run_watched(argv: list[str], env: dict[str, str], wall_s: float,
                output_dir: Path | None, output_cap: int, cwd: str | None = None,
                kill: Callable[[subprocess.Popen], None] | None = None) -> Finished:
    """Run ``argv`` in its own session with bounded capture; on timeout or output
    overflow call ``kill`` (default: SIGKILL the process group) and reap."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    out, err = TailBuffer(), TailBuffer()
    readers = [drain(proc.stdout, out), drain(proc.stderr, err)]  # type: ignore[arg-type]
    try:
        outcome = watch(lambda: proc.poll() is not None, wall_s, output_dir, output_cap)
    finally:
        if proc.poll() is None:
            (kill or kill_group)(proc)
        kill_group(proc)  # stragglers that kept the session (local backend)
        proc.wait()
    for t in readers:  # an escaped grandchild may hold the pipe open: don't wait for EOF long
        t.join(timeout=2)
    if not any(t.is_alive() for t in readers):
        for s in (proc.stdout, proc.stderr):
            if s:
                s.close()
    return Finished(proc.returncode, out.getvalue(), err.getvalue(), outcome,
                    time.monotonic() - start)


def kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def signal_name(code: int | None) -> str | None:
    """Signal that ended a process, from a Popen returncode (<0) or a shell-style 128+N."""
    if code is None:
        return None
    n = -code if code < 0 else code - 128 if 128 < code < 160 else None
    if n is None:
        return None
    try:
        return signal.Signals(n).name
    except ValueError:
        return f"signal {n}"
