"""The bubblewrap backend's limits as the job sees them (the launcher sets them with shell
builtins and joins the cgroups itself, so check the result rather than the command line)."""

from __future__ import annotations

import json
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest
from _backends import backend_fixture, host_processes_with, params

from grader.sandbox import Job, Limits

LIMITS = Limits(wall_s=20, memory_mb=256, cpus=1, pids=64, output_mb=3)


@pytest.fixture(params=params(["bwrap", "bwrap-uid", "bwrap-rlimit"]))
def bwrap_backend(request):
    return backend_fixture(request)


def test_rlimits_reach_the_job(bwrap_backend, tmp_path):
    _, sb = bwrap_backend
    res = sb.run(Job(command=["python3", "-c", textwrap.dedent("""
        import json, resource as r
        print(json.dumps({n: r.getrlimit(getattr(r, n)) for n in ("RLIMIT_FSIZE", "RLIMIT_CORE", "RLIMIT_NOFILE")}))
    """)], output_dir=tmp_path / "out", limits=LIMITS))
    assert res.status == "ok", res
    got = json.loads(res.stdout_tail.strip().splitlines()[-1])
    assert got == {"RLIMIT_FSIZE": [3 * 2**20] * 2, "RLIMIT_CORE": [0, 0], "RLIMIT_NOFILE": [4096, 4096]}


@pytest.fixture(params=params(["bwrap", "bwrap-uid"]))  # bwrap-rlimit is the no-cgroup fallback
def cgroup_backend(request):
    name, sb = backend_fixture(request)
    if sb._mode() != "cgroup":
        pytest.skip(f"{name}: cgroups are not writable here, so it runs on rlimits")
    return name, sb


def test_job_is_born_inside_its_cgroups(cgroup_backend, tmp_path):
    name, sb = cgroup_backend
    marker = f"grader-cg-{uuid.uuid4().hex}"
    job = Job(command=["python3", "-c", "import time; print(open('/proc/self/cgroup').read()); time.sleep(3)",
                       marker], output_dir=tmp_path / "out", limits=LIMITS)
    done: dict = {}
    t = threading.Thread(target=lambda: done.setdefault("res", sb.run(job)))
    t.start()
    seen: dict[int, str] = {}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and t.is_alive() and not seen:
        for pid in host_processes_with(marker):
            try:
                seen[pid] = Path(f"/proc/{pid}/cgroup").read_text()
            except OSError:
                pass
        time.sleep(0.05)
    t.join()
    res = done["res"]
    assert res.status == "ok", res
    assert seen, "never saw the sandboxed processes on the host"
    for text in seen.values():  # bubblewrap and the job, seen from the host
        groups = dict(line.split(":", 2)[1:] for line in text.splitlines())
        for ctl in ("memory", "pids", "cpu"):
            key = next(k for k in groups if ctl in k.split(","))
            assert "/grader-sandbox/run-" in groups[key], text
    # Inside, its cgroup namespace is rooted at its own groups: bubblewrap was already in
    # them when it cloned the sandbox.
    inside = dict(line.split(":", 2)[1:] for line in res.stdout_tail.strip().splitlines())
    for ctl in ("memory", "pids", "cpu"):
        key = next(k for k in inside if ctl in k.split(","))
        assert inside[key] == "/", res.stdout_tail
