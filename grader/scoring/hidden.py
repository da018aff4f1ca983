"""Hidden checks: the assignment's host-side pytest files, run against what a sandbox run left behind.

The checks live in `assignments/<hw>/tests/hidden/test_*.py` (never released). They run in pytest on
the host, in a child process — forked from the grading worker, which has pytest and numpy imported
already (a fresh interpreter costs about a second per student), or a fresh subprocess when the worker
runs threads — with these environment variables:

    GRADE_ARTIFACTS   the run's output folder (collected and screened: no links, capped sizes)
    GRADE_PROBE       the probe's output folder
    GRADE_HIDDEN      the hidden answers folder (host only; the sandbox never sees it)
    GRADE_RELEASE     the released data
    GRADE_SUBMISSION  the prediction file the student uploaded (may be absent)

and must load artifacts only through `grader.sandbox.artifacts` (np.load with allow_pickle=False,
torch.load with weights_only=True, bomb-safe PNG decoding). Results come back through pytest's JUnit XML,
one outcome per test; a verdict printed by student code is never read.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from ..forksafe import single_threaded_torch


@dataclass
class CheckOutcome:
    test: str
    status: str  # passed | failed | error | skipped
    message: str = ""
    points: float = 0.0
    max_points: float = 0.0


def run_checks(checks_dir: Path, env: dict[str, Path | None], points: dict[str, float],
               timeout: int = 300) -> list[CheckOutcome]:
    files = sorted(Path(checks_dir).resolve().glob("test_*.py"))
    if not files:
        return []
    with tempfile.TemporaryDirectory(prefix="grade-hidden-") as tmp:
        report = Path(tmp) / "report.xml"
        full_env = dict(os.environ)
        full_env.update({k: str(v) for k, v in env.items() if v is not None})
        # Hidden checks need plain pytest: the plugins installed beside it (schemathesis, hypothesis,
        # playwright …) would cost seconds of start-up per student.
        full_env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        args = ["-q", "-p", "no:cacheprovider", "--rootdir", tmp, f"--junitxml={report}", "-o",
                "junit_family=xunit2", *map(str, files)]
        if _can_fork():
            finished, log = _forked_pytest(args, tmp, full_env, timeout)
        else:
            try:
                p = subprocess.run([sys.executable, "-m", "pytest", *args], cwd=tmp, env=full_env,
                                   capture_output=True, text=True, timeout=timeout)
                finished, log = True, p.stderr or p.stdout
            except subprocess.TimeoutExpired:
                finished, log = False, ""
        if not finished:
            return _failed(f"timed out after {timeout} s", points)
        if not report.is_file():
            return _failed(log[-1000:], points)
        # pytest collected nothing: a broken check file, not a student's zero
        return _parse(report, points) or _failed("no checks ran: " + log[-1000:], points)


def _failed(message: str, points: dict[str, float]) -> list[CheckOutcome]:
    """The checks as a whole could not give a verdict: one error outcome holding all their points."""
    return [CheckOutcome("hidden checks", "error", message, 0.0, sum(points.values()))]


def _can_fork() -> bool:
    """Fork only a single-threaded process (a batch worker, the CLI): a forked copy of a threaded one (the
    server's grading threads) may inherit a lock another thread held."""
    return hasattr(os, "fork") and threading.active_count() == 1


def _forked_pytest(args: list[str], cwd: str, env: dict, timeout: float) -> tuple[bool, str]:
    """pytest.main in a forked child; (finished in time, the tail of what it printed)."""
    import pytest  # imported once in the worker, so that every child starts with it

    log_path = Path(cwd) / "pytest.log"
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller's stack
        code = 3
        try:
            fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.chdir(cwd)
            os.environ.clear()
            os.environ.update(env)
            single_threaded_torch()  # see grader/forksafe.py
            code = int(pytest.main(args))
        except BaseException:  # noqa: BLE001 - whatever happens, the child exits here
            pass
        finally:
            os._exit(code)
    deadline = time.monotonic() + timeout
    while True:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return False, ""
        time.sleep(0.005)
    return True, log_path.read_text(errors="replace") if log_path.is_file() else ""


def _parse(report: Path, points: dict[str, float]) -> list[CheckOutcome]:
    out = []
    for case in ET.parse(report).getroot().iter("testcase"):
        name = case.get("name", "?")
        base = name.split("[", 1)[0]
        status, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            el = case.find(tag)
            if el is not None:
                status = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                message = (el.get("message") or el.text or "").strip()[:2000]
                break
        pts = points.get(name, points.get(base, 0.0))
        out.append(CheckOutcome(name, status, message, pts if status == "passed" else 0.0, pts))
    return out
