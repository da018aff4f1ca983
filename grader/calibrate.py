"""Honest baselines: thresholds come from running the reference solutions, never from a literal.

`calibrate` runs `reference_solutions/<hw>/{simple,medium,strong,boss}.py` on the released data,
scores their predictions on the host against the hidden answers, and records per level and board
the score reached and the threshold students must reach (the score relaxed by `calibration.slack`).

`verify` re-runs everything, plus the unchanged starter notebook, and checks the ladder:
each level strictly better than the one below by `min_gap` on both boards, the starter reaching
simple but not medium, and every score within `tolerance` of the calibrated one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import data as datamod
from .catalog import REPO_ROOT
from .errors import GradeError
from .notebook import write_notebook
from .scoring import metrics
from .scoring.score import levels_passed, score_bytes
from .scoring.validate import Invalid
from .spec import BOARDS, LEVELS, AssignmentSpec
from .store import Baseline, utcnow


@dataclass
class RunOutcome:
    name: str  # a level, or "starter"
    public: float | None = None
    private: float | None = None
    seconds: float = 0.0
    error: str = ""
    pred: Path | None = None
    extra: dict[str, tuple[float, float]] = field(default_factory=dict)  # `also` metrics: (public, private)

    def score(self, board: str, metric: str = "") -> float | None:
        """This run's score on a board: the main metric, or an `also` metric by name."""
        if not metric:
            return getattr(self, board)
        pair = self.extra.get(metric)
        return None if pair is None else pair[0 if board == "public" else 1]


@dataclass
class LadderReport:
    hw: str
    runs: dict[str, RunOutcome]
    fingerprint: str = ""
    problems: list[str] = field(default_factory=list)
    thresholds: dict[tuple, float] = field(default_factory=dict)  # as api.thresholds: (level, board[, metric])

    @property
    def ok(self) -> bool:
        return not self.problems


def _env(threads: int) -> dict:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(threads)
    return env


def _run_level(spec: AssignmentSpec, level: str, release: Path, out_dir: Path, threads: int) -> RunOutcome:
    ref = spec.baselines[level]
    out_dir.mkdir(parents=True, exist_ok=True)
    pred = out_dir / spec.submission.filename
    # No seed is passed: each solution keeps its own configured seed, as the starter does, so the
    # unchanged starter and the simple reference train the very same model.
    cmd = [sys.executable, str(REPO_ROOT / ref.solution), *ref.args, "--data", str(release), "--out", str(pred)]
    return _run(level, cmd, out_dir, pred, _env(threads), spec.calibration.timeout_s)


def _run_starter(spec: AssignmentSpec, release: Path, out_dir: Path, threads: int) -> RunOutcome:
    out_dir.mkdir(parents=True, exist_ok=True)
    nb = write_notebook(spec.folder / spec.starter.source, out_dir / spec.starter.notebook)
    env = _env(threads) | {"GRADE_DATA_DIR": str(release), "GRADE_OUTPUT_DIR": str(out_dir)}
    cmd = [sys.executable, str(Path(__file__).with_name("notebook.py")), "run", str(nb), "--cwd", str(out_dir),
           "--timeout", str(spec.calibration.timeout_s)]
    return _run("starter", cmd, out_dir, out_dir / spec.starter.output, env, spec.calibration.timeout_s + 30)


def _run(name, cmd, cwd, pred, env, timeout) -> RunOutcome:
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return RunOutcome(name, seconds=time.perf_counter() - t0, error=f"timed out after {timeout} s")
    out = RunOutcome(name, seconds=time.perf_counter() - t0, pred=pred)
    if p.returncode != 0:
        out.error = f"exit code {p.returncode}: {(p.stderr or p.stdout).strip()[-1500:]}"
    elif not pred.is_file():
        out.error = f"wrote no {pred.name}"
    return out


def run_ladder(course, spec: AssignmentSpec, with_starter: bool, jobs: int = 2, progress=None) -> LadderReport:
    manifest = datamod.prepare(course, spec)
    answers = datamod.load_answers(course, spec)
    release = course.data_dir(spec.short) / "release"
    work = course.calibration_dir(spec.short)
    names = list(LEVELS) + (["starter"] if with_starter else [])
    # Threads per run: the machine's cores shared by the runs in flight (never oversubscribe).
    threads = max(1, (os.cpu_count() or 1) // max(1, jobs))

    def one(name: str) -> RunOutcome:
        d = work / name
        shutil.rmtree(d, ignore_errors=True)
        r = (_run_starter(spec, release, d, threads) if name == "starter"
             else _run_level(spec, name, release, d, threads))
        if not r.error:
            try:
                s = score_bytes(spec, answers, r.pred.read_bytes(), r.pred.name)
                r.public, r.private, r.extra = s.public, s.private, dict(s.extra)
            except Invalid as e:
                r.error = f"invalid predictions: {e}"
        if progress:
            progress(name, r)
        return r

    # Longest first keeps both cores busy until the end.
    order = sorted(names, key=lambda n: -LEVELS.index(n) if n in LEVELS else 0)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        runs = {r.name: r for r in pool.map(one, order)}
    report = LadderReport(spec.short, {n: runs[n] for n in names}, fingerprint=manifest["fingerprint"])
    _check_ladder(spec, report)
    return report


def _relax(m, score: float, slack: float) -> float:
    """`score` made easier to reach by `slack` of its size (harder for a negative slack). By its size, not
    by a factor: a negative score (HW12's rewards) times 0.99 would be a threshold above the score."""
    return score - slack * abs(score) if m.direction == "higher" else score + slack * abs(score)


def _check_ladder(spec: AssignmentSpec, rep: LadderReport) -> None:
    m = metrics.get(spec.metric.name)
    gap = spec.calibration.min_gap
    for name, r in rep.runs.items():
        if r.error:
            rep.problems.append(f"{name}: {r.error}")
    if rep.problems:
        return
    for board in BOARDS:
        for lv in LEVELS:
            rep.thresholds[(lv, board)] = _relax(m, getattr(rep.runs[lv], board), spec.calibration.slack)
            for ms in spec.also:
                rep.thresholds[(lv, board, ms.name)] = _relax(metrics.get(ms.name), rep.runs[lv].score(board, ms.name),
                                                              spec.calibration.slack)
        for lo, hi in zip(LEVELS, LEVELS[1:]):
            a, b = getattr(rep.runs[lo], board), getattr(rep.runs[hi], board)
            needed = _relax(m, a, -gap)  # better than the level below by `gap` of its size
            if not (m.better(b, a) and m.reaches(b, needed)):
                rep.problems.append(f"{board}: {hi} ({b:.5g}) is not better than {lo} ({a:.5g}) "
                                    f"by the required {gap:.0%}")
            for ms in spec.also:  # the other metrics may level off, but must not get worse up the ladder
                x = metrics.get(ms.name)
                a2, b2 = rep.runs[lo].score(board, ms.name), rep.runs[hi].score(board, ms.name)
                if not x.reaches(b2, rep.thresholds[(lo, board, ms.name)]):
                    rep.problems.append(f"{board}: {hi}'s {ms.name} ({b2:.5g}) does not reach {lo}'s threshold "
                                        f"({rep.thresholds[(lo, board, ms.name)]:.5g}; {lo} scored {a2:.5g})")
    _check_starter(spec, rep)


def _check_starter(spec: AssignmentSpec, rep: LadderReport) -> None:
    """The unchanged starter must pass simple and must not pass medium, on both boards."""
    run = rep.runs.get("starter")
    if run is None or run.error:
        return
    for board in BOARDS:
        s, extra = getattr(run, board), {k: run.score(board, k) for k in run.extra}
        passed = levels_passed(spec, rep.thresholds, board, s, extra)
        if "simple" not in passed:
            rep.problems.append(f"{board}: the unchanged starter ({s:.5g}) does not reach simple "
                                f"({rep.thresholds[('simple', board)]:.5g})")
        if "medium" in passed:
            rep.problems.append(f"{board}: the unchanged starter ({s:.5g}) already reaches medium "
                                f"({rep.thresholds[('medium', board)]:.5g})")


def calibrate(course, spec: AssignmentSpec, jobs: int = 2, progress=None, with_starter: bool = False) -> LadderReport:
    """Run the four references and record their thresholds. `with_starter` also runs the unchanged starter
    in the same pass and refuses to record unless it reaches simple and not medium (what `verify` checks
    later against the recorded thresholds), so one pass proves the whole ladder."""
    rep = run_ladder(course, spec, with_starter=with_starter, jobs=jobs, progress=progress)
    if rep.problems:
        raise GradeError(f"calibration of {spec.short} failed; nothing recorded:\n  " + "\n  ".join(rep.problems))
    with course.store.session() as s:
        for key, t in rep.thresholds.items():
            lv, board, metric = (*key, "")[:3]
            s.merge(Baseline(hw=spec.short, level=lv, board=board, metric=metric,
                             score=rep.runs[lv].score(board, metric), threshold=t, fingerprint=rep.fingerprint,
                             created_at=utcnow()))
        course.store.log(s, "calibrate", actor="instructor", hw=spec.short, fingerprint=rep.fingerprint,
                         scores={lv: [rep.runs[lv].public, rep.runs[lv].private] for lv in LEVELS})
    (course.calibration_dir(spec.short) / "calibration.json").write_text(json.dumps({
        "hw": spec.short, "fingerprint": rep.fingerprint, "created_at": utcnow().isoformat(),
        "runs": {n: {"public": r.public, "private": r.private, "also": r.extra, "seconds": round(r.seconds, 2)}
                 for n, r in rep.runs.items()},
        "thresholds": {"/".join(k): t for k, t in rep.thresholds.items()},
    }, indent=2))
    return rep


def verify(course, spec: AssignmentSpec, jobs: int = 2, progress=None) -> LadderReport:
    recorded = {(b.level, b.board, b.metric): b for b in course.store.baselines(spec.short)}
    if not recorded:
        raise GradeError(f"{spec.short} is not calibrated yet: run `grade calibrate {spec.short}` first")
    rep = run_ladder(course, spec, with_starter=True, jobs=jobs, progress=progress)
    tol = spec.calibration.tolerance
    for (lv, board, metric), b in recorded.items():
        if b.fingerprint != rep.fingerprint:
            rep.problems.append(f"the data changed since calibration (fingerprint {b.fingerprint[:12]}… → "
                                f"{rep.fingerprint[:12]}…): run `grade calibrate {spec.short}` again")
            break
        now = rep.runs[lv].score(board, metric)
        if now is not None and abs(now - b.score) > tol * abs(b.score):
            what = f"{metric} " if metric else ""
            rep.problems.append(f"{board}: {lv} {what}scored {now:.5g} now but {b.score:.5g} at calibration "
                                f"(tolerance {tol:.1%})")
    # The starter is judged against the recorded thresholds, which are the ones students meet.
    rep.thresholds = {((lv, board, metric) if metric else (lv, board)): b.threshold
                      for (lv, board, metric), b in recorded.items()}
    rep.problems = [p for p in rep.problems if "unchanged starter" not in p]
    _check_starter(spec, rep)
    with course.store.session() as s:
        course.store.log(s, "verify", actor="instructor", hw=spec.short, ok=rep.ok, problems=rep.problems)
    return rep
