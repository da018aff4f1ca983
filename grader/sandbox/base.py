"""The one interface every sandbox backend implements.

Grading code builds a :class:`Job` and hands it to a backend; whatever happens
inside (crash, timeout, OOM, missing GPU runtime) comes back as a
:class:`RunResult` with a status, never as an exception.  That keeps the
grading pipeline's error handling in one place: it looks at ``status``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Literal, Protocol, runtime_checkable

Status = Literal["ok", "timeout", "oom", "killed", "error", "no-gpu-runtime", "refused"]

#: Bytes of stdout/stderr kept per stream: enough to show a traceback, small
#: enough that a student printing in a loop cannot exhaust the grader's memory.
TAIL_BYTES = 64 * 1024

#: Env var the runner reads to call ``torch.set_num_threads``.
TORCH_THREADS_VAR = "GRADER_TORCH_THREADS"


@dataclass(frozen=True)
class Limits:
    """Resource caps for one run.  ``network`` exists only to be explicit: it is always off."""

    wall_s: float = 600.0
    memory_mb: int = 4096
    cpus: float = 1.0
    pids: int = 256
    output_mb: int = 64  # cap on the writable output folder
    gpu: bool = False
    gpu_ids: list[str] | None = None
    network: bool = False

    def __post_init__(self) -> None:
        if self.network:
            raise ValueError("sandboxed jobs never get network access")
        if self.wall_s <= 0 or self.memory_mb <= 0 or self.cpus <= 0 or self.pids <= 0:
            raise ValueError(f"limits must be positive: {self}")

    @property
    def threads(self) -> int:
        """Thread count for BLAS/OpenMP/torch: the CPU quota, at least 1."""
        return max(1, int(self.cpus))


@dataclass(frozen=True)
class Mount:
    """A host path made visible inside the sandbox (read-only unless said otherwise)."""

    host: Path
    sandbox: str
    read_only: bool = True


@dataclass
class Job:
    """One command to run in isolation.

    ``carries_hidden`` marks jobs whose mounts include hidden course material
    (answers, private tests): the unisolated local backend refuses those.
    """

    command: list[str]
    output_dir: Path
    mounts: list[Mount] = field(default_factory=list)
    workdir: str = "/work"
    env: dict[str, str] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    carries_hidden: bool = False
    #: A conversation with the running process: called on the host with the process's stdin (to write)
    #: and stdout (to read), e.g. an environment stepped on the host and a student's policy answering
    #: actions (HW12). Whatever it learns it keeps itself; it must bound what it reads. None: no stdin.
    interact: "Callable[[IO[bytes], IO[bytes]], None] | None" = None

    #: Where the output folder appears inside the sandbox.
    output_mount: str = "/out"


@dataclass
class RunResult:
    status: Status
    exit_code: int | None
    stdout_tail: str
    stderr_tail: str
    duration_s: float
    output_dir: Path | None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@runtime_checkable
class Sandbox(Protocol):
    name: str

    def available(self) -> tuple[bool, str]:
        """Whether this backend can run jobs here, and if not, why (for ``grade sandbox doctor``)."""
        ...

    def run(self, job: Job) -> RunResult:
        """Run ``job``; never raises for anything the job does."""
        ...


def thread_env(limits: Limits) -> dict[str, str]:
    """Pin every thread pool to the CPU quota; otherwise torch/BLAS spawn one thread
    per host core and a 1-CPU sandbox thrashes."""
    n = str(limits.threads)
    return {
        "OMP_NUM_THREADS": n,
        "MKL_NUM_THREADS": n,
        "OPENBLAS_NUM_THREADS": n,
        "NUMEXPR_NUM_THREADS": n,
        TORCH_THREADS_VAR: n,
    }


def sandbox_env(job: Job) -> dict[str, str]:
    """The full environment a sandboxed process sees: a fixed base, the job's
    variables, then the thread caps (which the job cannot override)."""
    env = {
        "PATH": "/opt/venv/bin:/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "MPLCONFIGDIR": "/tmp",
        "GRADER_OUTPUT_DIR": job.output_mount,
    }
    env.update(job.env)
    env.update(thread_env(job.limits))
    return env


def tail(data: bytes, limit: int = TAIL_BYTES) -> str:
    """Last ``limit`` bytes decoded leniently (a cut may split a UTF-8 sequence)."""
    return data[-limit:].decode("utf-8", errors="replace")


def dir_size(path: Path) -> int:
    """Bytes under ``path`` without following symlinks (student output is untrusted)."""
    total = 0
    for root, dirs, files in os.walk(path, followlinks=False):
        for name in files + dirs:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def check_output_cap(job: Job, result: RunResult, hit_cap: bool = False) -> RunResult:
    """Turn a full (``hit_cap``: the capped tmpfs ran out of space) or over-size output
    folder into an error, whatever the run itself said."""
    cap = job.limits.output_mb * 1024 * 1024
    size = dir_size(job.output_dir)
    if (hit_cap or size > cap) and result.status in ("ok", "error"):
        result.status = "error"
        result.message = (f"output folder holds {size / 2**20:.1f} MB, over the "
                          f"{job.limits.output_mb} MB cap{' (it filled up)' if hit_cap else ''}. "
                          f"{result.message}").strip()
    return result


def refused(job: Job, message: str) -> RunResult:
    return RunResult("refused", None, "", "", 0.0, job.output_dir, message)


class Stopwatch:
    """Monotonic wall clock for duration_s."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start
