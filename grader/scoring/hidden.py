"""Hidden checks: the assignment's host-side pytest files, run against what a sandbox run left behind.

The checks live in `assignments/<hw>/tests/hidden/test_*.py` (never released). They run in a pytest
subprocess on the host with these environment variables:

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
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path


@dataclass
class CheckOutcome:
    test: str
    status: str  # passed | failed | error | skipped
    message: str = ""
    points: float = 0.0
    max_points: float = 0.0


def run_checks(checks_dir: Path, env: dict[str, Path | None], points: dict[str, float],
               timeout: int = 300) -> list[CheckOutcome]:
    files = sorted(Path(checks_dir).glob("test_*.py"))
    if not files:
        return []
    with tempfile.TemporaryDirectory(prefix="grade-hidden-") as tmp:
        report = Path(tmp) / "report.xml"
        full_env = dict(os.environ)
        full_env.update({k: str(v) for k, v in env.items() if v is not None})
        # Hidden checks need plain pytest: the plugins installed beside it (schemathesis, hypothesis,
        # playwright …) would cost seconds of start-up per student.
        full_env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", tmp,
               f"--junitxml={report}", "-o", "junit_family=xunit2", *map(str, files)]
        try:
            p = subprocess.run(cmd, cwd=tmp, env=full_env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return [CheckOutcome("hidden checks", "error", f"timed out after {timeout} s", 0.0, sum(points.values()))]
        if not report.is_file():
            return [CheckOutcome("hidden checks", "error", (p.stderr or p.stdout)[-1000:], 0.0, sum(points.values()))]
        return _parse(report, points)


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
