"""Host-side process plumbing shared by the backends: bounded output capture and a
watch loop that enforces the wall clock and the output-folder cap.

Output is read continuously into a fixed-size tail so a student printing in an
endless loop can neither fill the host's memory nor block on a full pipe.
"""

from __future__ import annotations

import os
import select
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


def watch(wait_done: Callable[[float], bool], wall_s: float, output_dir: Path | None,
          output_cap: int, size_every_s: float = 0.25) -> Outcome:
    """Wait until ``wait_done(timeout)`` says the run ended or the deadline passes,
    checking the output folder's size every ``size_every_s`` (a per-file RLIMIT_FSIZE
    alone lets many files fill the disk).  ``wait_done`` blocks, so a quick run is
    noticed at once rather than at the next poll."""
    deadline = time.monotonic() + wall_s
    while True:
        now = time.monotonic()
        if now >= deadline:
            return "timeout"
        if wait_done(min(size_every_s, deadline - now)):
            return "done"
        if output_dir is not None:
            size, count = output_usage(output_dir)
            if size > output_cap or count > MAX_OUTPUT_FILES:
                return "over-cap"


def process_waiter(proc: subprocess.Popen) -> Callable[[float], bool]:
    """A blocking ``wait_done(timeout)`` for a child: a pidfd wakes us the moment it exits."""
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        pidfd = None

    def wait_done(timeout: float) -> bool:
        if proc.poll() is not None:
            return True
        if pidfd is None:
            try:
                proc.wait(timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        poller.poll(max(0, int(timeout * 1000)))
        if proc.poll() is not None:
            return True
        return False

    wait_done.pidfd = pidfd  # type: ignore[attr-defined]
    return wait_done


@dataclass
class Finished:
    exit_code: int | None
    stdout: bytes
    stderr: bytes
    outcome: Outcome
    duration_s: float


def run_watched(argv: list[str], env: dict[str, str], wall_s: float,
                output_dir: Path | None, output_cap: int, cwd: str | None = None,
                kill: Callable[[subprocess.Popen], None] | None = None,
                interact: Callable | None = None) -> Finished:
    """Run ``argv`` in its own session with bounded capture; on timeout or output
    overflow call ``kill`` (default: SIGKILL the process group) and reap. With ``interact``,
    stdin and stdout belong to that conversation (run in a thread) instead of being captured."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.PIPE if interact else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    out, err = TailBuffer(), TailBuffer()
    if interact:
        readers = [_converse(interact, proc), drain(proc.stderr, err)]  # type: ignore[arg-type]
    else:
        readers = [drain(proc.stdout, out), drain(proc.stderr, err)]  # type: ignore[arg-type]
    waiter = process_waiter(proc)
    try:
        outcome = watch(waiter, wall_s, output_dir, output_cap)
    finally:
        if waiter.pidfd is not None:  # type: ignore[attr-defined]
            os.close(waiter.pidfd)  # type: ignore[attr-defined]
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


def _converse(interact: Callable, proc: subprocess.Popen) -> threading.Thread:
    """Run the host side of a conversation; when it ends (or fails), the process's stdin is closed, which
    is the process's signal to finish."""
    def run() -> None:
        try:
            interact(proc.stdin, proc.stdout)
        except (BrokenPipeError, OSError, ValueError):
            pass  # the process went away mid-conversation: its exit status says why
        finally:
            try:
                proc.stdin.close()
            except OSError:
                pass

    t = threading.Thread(target=run, daemon=True, name="grade-interact")
    t.start()
    return t


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
