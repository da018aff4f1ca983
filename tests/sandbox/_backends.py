"""Backend fixtures shared by the contract and security suites.

Every backend variant that can run on this machine is tested; one that cannot
is skipped with the reason its ``available()`` gives (e.g. no Docker engine).
``bwrap`` uses the grader's own venv; when that lives under /root (0700) the
sandbox runs as kuid 0 without capabilities.  ``bwrap-uid`` (cgroups + a fresh
unprivileged host uid) and ``bwrap-rlimit`` (the no-cgroup fallback: fresh uid +
prlimit) use the system Python, which an unprivileged uid can reach.
"""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

import pytest

from grader.sandbox.base import Sandbox

ISOLATED = ["docker", "bwrap", "bwrap-uid", "bwrap-rlimit"]
ALL = [*ISOLATED, "local"]
MARKS = {"docker": [pytest.mark.docker], "bwrap": [pytest.mark.bwrap],
         "bwrap-uid": [pytest.mark.bwrap], "bwrap-rlimit": [pytest.mark.bwrap], "local": []}


def register_markers(config) -> None:
    for line in ("docker: needs a running Docker engine and the course image",
                 "bwrap: needs bubblewrap",
                 "slow: takes more than a few seconds"):
        config.addinivalue_line("markers", line)


def make(name: str) -> Sandbox:
    if name == "docker":
        from grader.sandbox.docker import DockerSandbox
        return DockerSandbox()
    if name == "bwrap":
        from grader.sandbox.bwrap import BwrapSandbox
        return BwrapSandbox()
    if name in ("bwrap-uid", "bwrap-rlimit"):
        from grader.sandbox.bwrap import BwrapSandbox
        system_python = "/usr" if shutil.which("python3", path="/usr/bin") else None
        return BwrapSandbox(python_prefix=system_python,
                            use_cgroups=None if name == "bwrap-uid" else False)
    from grader.sandbox.local import LocalSandbox
    return LocalSandbox()


@functools.cache
def availability(name: str) -> tuple[bool, str]:
    if name in ("bwrap-uid", "bwrap-rlimit") and os.geteuid() != 0:
        return False, "the rlimit fallback with a fresh uid needs root (run as the grader user)"
    try:
        return make(name).available()
    except Exception as e:  # noqa: BLE001 - report, don't crash collection
        return False, f"{type(e).__name__}: {e}"


def params(names: list[str]) -> list:
    return [pytest.param(n, marks=MARKS[n], id=n) for n in names]


def backend_fixture(request) -> tuple[str, Sandbox]:
    name = request.param
    ok, reason = availability(name)
    if not ok:
        pytest.skip(f"{name} backend unavailable here: {reason}")
    return name, make(name)


def host_processes_with(marker: str) -> list[int]:
    """Host pids whose command line contains ``marker`` (sandboxes share the kernel)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            pass
    return found


def leftover_state() -> dict[str, object]:
    """What a run must not leave behind: containers, cgroups, tmpfs mounts."""
    state: dict[str, object] = {}
    cg = Path("/sys/fs/cgroup/memory/grader-sandbox")
    state["cgroups"] = sorted(p.name for p in cg.iterdir() if p.is_dir()) if cg.exists() else []
    state["mounts"] = sorted(line for line in Path("/proc/self/mounts").read_text().splitlines()
                             if "grader-out" in line)
    try:
        import docker
        c = docker.from_env()
        state["containers"] = [x.id for x in c.containers.list(all=True, filters={"label": "grader.sandbox"})]
    except Exception:
        state["containers"] = []
    return state
