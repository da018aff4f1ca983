"""No-isolation backend for ``grade check``: a student running the public checks
on their own machine, on their own files.  It still applies the wall clock, the
bounded output capture and the thread caps, but it refuses any job that carries
hidden course material, since nothing would stop the code from reading it.
"""

from __future__ import annotations

import os
import shutil
import signal
import uuid
from pathlib import Path

from .base import Job, RunResult, Stopwatch, check_output_cap, refused, sandbox_env, tail
from .proc import kill_group, run_watched, signal_name


class LocalSandbox:
    name = "local"

    def available(self) -> tuple[bool, str]:
        return True, "always available; no isolation (refuses jobs with hidden material)"

    def run(self, job: Job) -> RunResult:
        if job.carries_hidden:
            return refused(job, "the local backend has no isolation and never runs jobs "
                                "that carry hidden course material; use docker or bwrap")
        clock = Stopwatch()
        try:
            return self._run(job)
        except Exception as e:
            return RunResult("error", None, "", "", clock.elapsed, job.output_dir,
                             f"local backend failed: {type(e).__name__}: {e}")

    def _run(self, job: Job) -> RunResult:
        job.output_dir.mkdir(parents=True, exist_ok=True)
        env = sandbox_env(job)
        # Sandbox paths mean nothing here: point at the real folders instead.
        env["GRADER_OUTPUT_DIR"] = str(job.output_dir)
        env["PATH"] = os.environ.get("PATH", env["PATH"])
        env["HOME"] = os.environ.get("HOME", "/tmp")
        env.pop("TMPDIR", None)
        cwd = _host_workdir(job)
        run_id = uuid.uuid4().hex
        env["GRADER_RUN_ID"] = run_id  # inherited by descendants, even ones that setsid()
        argv = list(job.command)
        if shutil.which("prlimit"):  # a memory cap still helps a student see an OOM early
            argv = ["prlimit", f"--as={job.limits.memory_mb * 2**20}", "--core=0", "--", *argv]
        fin = run_watched(argv, env, job.limits.wall_s, job.output_dir,
                          job.limits.output_mb * 2**20, cwd=cwd,
                          kill=lambda p: _kill_tagged(run_id, p), interact=job.interact)
        _kill_tagged(run_id, None)  # background processes left after a normal exit
        code, sig = fin.exit_code, signal_name(fin.exit_code)
        if fin.outcome == "timeout":
            status, msg = "timeout", f"wall-clock limit of {job.limits.wall_s:g}s reached"
        elif fin.outcome == "over-cap":
            status, msg = "error", f"output folder exceeded the {job.limits.output_mb} MB cap"
        elif code == 0:
            status, msg = "ok", ""
        elif b"MemoryError" in fin.stderr[-4096:]:
            status, msg = "oom", f"memory limit of {job.limits.memory_mb} MB exceeded (MemoryError)"
        elif sig:
            status, msg = "killed", f"killed by {sig}"
        else:
            status, msg = "error", f"exited with code {code}"
        res = RunResult(status, code, tail(fin.stdout), tail(fin.stderr), fin.duration_s,
                        job.output_dir, msg)
        return check_output_cap(job, res)


def _host_workdir(job: Job) -> str | None:
    """Map the job's sandbox workdir to the host folder mounted there, if any."""
    for m in job.mounts:
        if m.sandbox == job.workdir:
            return str(Path(m.host))
    if job.workdir == job.output_mount:
        return str(job.output_dir)
    return None


def _kill_tagged(run_id: str, proc) -> None:
    """Best effort without isolation: SIGKILL our process group and every process whose
    environment carries this run's id (readable for processes of our own uid)."""
    if proc is not None:
        kill_group(proc)
    tag = f"GRADER_RUN_ID={run_id}".encode()
    for _ in range(20):
        hit = False
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                with open(f"/proc/{entry.name}/environ", "rb") as f:
                    if tag in f.read():
                        os.kill(int(entry.name), signal.SIGKILL)
                        hit = True
            except (OSError, ProcessLookupError):
                pass
        if not hit:
            return
