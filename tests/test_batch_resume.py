"""An interrupted batch (kill -9 in the middle of re-executing notebooks) resumes: finished work is kept,
nothing is graded twice, and the sandbox state the dead grader left is swept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from grader import api
from grader.notebook import write_notebook
from grader.sandbox import cgroups

from .conftest import TOY_ROOT

N = 6


@pytest.mark.slow
def test_kill_9_during_a_rerun_batch_then_resume(calibrated, tmp_path):
    from grader.sandbox.registry import available_backends

    if "bwrap" not in available_backends():
        pytest.skip("bwrap is not available here")
    spec = api.assignment("hw99")
    pred = (calibrated.calibration_dir("hw99") / "simple" / "pred.csv").read_text()
    for k in range(N):
        d = tmp_path / "class" / f"s{k}"
        d.mkdir(parents=True)
        (d / "pred.csv").write_text(pred)
        write_notebook(spec.folder / spec.starter.source, d / "HW99.ipynb")
    env = dict(os.environ, GRADE_ASSIGNMENTS=str(TOY_ROOT), GRADE_COURSE=str(calibrated.root))
    p = subprocess.Popen([sys.executable, "-c", "from grader.cli import main; main()", "batch", "hw99",
                          str(tmp_path / "class"), "--rerun", "--backend", "bwrap", "--jobs", "1", "--json"],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(calibrated.store.events("batch")) < 2:
        time.sleep(0.2)
    os.killpg(p.pid, signal.SIGKILL)  # in the middle of the third notebook, or so
    p.wait()
    finished = {e.student_id for e in calibrated.store.events("batch")}
    assert 2 <= len(finished) < N, finished
    time.sleep(1)
    out = {o.student: o for o in api.batch(calibrated, "hw99", tmp_path / "class", rerun=True, backend="bwrap")}
    assert {s for s, o in out.items() if o.status == "skipped"} == finished, "finished work is kept"
    assert all(o.rerun == "match" for s, o in out.items() if s not in finished)
    per_student = Counter(e.student_id for e in calibrated.store.events("batch"))
    assert per_student == Counter({f"s{k}": 1 for k in range(N)}), "each entry graded exactly once"
    subs = Counter(s.student_id for s in calibrated.store.submissions("hw99"))
    assert subs == Counter({f"s{k}": 1 for k in range(N)}), "one recorded submission per student, none twice"
    if cgroups.usable()[0]:
        swept_at = time.time()
        cgroups.sweep_stale(min_age_s=0)
        # Groups with processes in them belong to runs alive now (other graders on this machine).
        left = [d for c in cgroups.CONTROLLERS for d in (cgroups.ROOT / c / cgroups.PARENT).glob("run-*")
                if _older(d, swept_at) and not _procs(d)]
        assert left == [], "the killed grader's cgroups were swept"
        ours = [d for c in cgroups.CONTROLLERS for d in (cgroups.ROOT / c / cgroups.PARENT).glob("run-*")
                if str(tmp_path) in _cmdlines(_procs(d))]
        assert ours == [], "no sandboxed process of the killed grader survived it"


def _older(group, t: float) -> bool:
    try:
        return group.stat().st_mtime < t
    except OSError:  # removed meanwhile by its own run
        return False


def _cmdlines(pids: str) -> str:
    out = []
    for pid in pids.split():
        try:
            out.append(open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace"))
        except OSError:
            pass
    return "\n".join(out)


def _procs(group) -> str:
    try:
        return (group / "cgroup.procs").read_text().strip()
    except OSError:  # removed meanwhile by its own run
        return "gone"
