"""What does re-executing a class's notebooks in the sandbox cost? (a script that prints numbers, not a test)

Builds a temporary course and a class folder of N NTU COOL-style entries, `<student>_hwNN.zip`, each
holding the assignment's starter notebook and the honest `pred.csv` it writes, except three variants:

  mismatch   the honest notebook with a hand-edited pred.csv (one value moved by 0.5)
  crash      a notebook with an extra cell that raises
  missing    pred.csv only, no notebook

then, for each sandbox backend that works here (bwrap, docker), times

  grader.batch.batch(course, hw, folder, jobs=J, rerun=True, backend=B)

(unpack, submit and score each entry, re-run its notebook in the sandbox, run the hidden probe in the
sandbox, compare the predictions and run the hidden checks) on a fresh copy of the same course, and
prints the wall time, the time per notebook, every entry's status and the ratio to the baseline:

  baseline   the same starter notebook executed N times unsandboxed, `python grader/notebook.py run`,
             as J parallel processes (and sequentially when J > 1), with the same data and thread caps.

The batch does more than the baseline (the probe is a second sandboxed run per entry, plus scoring and
the hidden pytest checks), so the ratio is the whole price of `--rerun`, not the sandbox's alone; a
phase-by-phase timing of one honest entry (`grade_code` in this process) shows where it goes.

    python benchmarks/rerun_class.py [--hw hw99] [--n 20] [--jobs 2] [--backends bwrap,docker] [--keep DIR]

`--hw hw99` (the default) is the toy assignment in tests/fixtures/assignments; `--hw hw1` uses the real
HW1 starter in assignments/ (any assignment the catalog resolves works, found under $GRADE_ASSIGNMENTS,
then assignments/, then tests/fixtures/assignments).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import nbformat  # noqa: E402
from nbformat.v4 import new_code_cell  # noqa: E402

from grader import catalog  # noqa: E402
from grader.errors import GradeError  # noqa: E402

NOTEBOOK_PY = REPO / "grader" / "notebook.py"
ROOTS = [REPO / "assignments", REPO / "tests" / "fixtures" / "assignments"]
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
EXPECTED = {"honest": "match", "mismatch": "mismatch", "crash": "error", "missing": "missing"}


# --------------------------------------------------------------------------- setup
def find_assignment(name: str):
    """Resolve `name` under $GRADE_ASSIGNMENTS, else the first root that knows it; set the
    variable so the batch's worker processes resolve the same folder."""
    roots = [Path(os.environ["GRADE_ASSIGNMENTS"])] if os.environ.get("GRADE_ASSIGNMENTS") else ROOTS
    errors = []
    for root in roots:
        catalog._load_all.cache_clear()
        try:
            spec = catalog.resolve(name, root)
        except GradeError as e:
            errors.append(f"{root}: {e}")
            continue
        os.environ["GRADE_ASSIGNMENTS"] = str(root.resolve())
        catalog._load_all.cache_clear()
        return spec
    raise SystemExit("assignment not found:\n  " + "\n  ".join(errors))


def make_course(root: Path, spec):
    from grader import api
    from grader.course import Course

    course = Course.init(root, homeworks={spec.short: {"deadline": "2099-12-31T23:59:00"}})
    t = time.perf_counter()
    api.prepare(course, spec.short)
    print(f"data prepared in {time.perf_counter() - t:.1f} s: {course.data_dir(spec.short) / 'release'}")
    return course


def baseline_env(spec, course, out_dir: Path) -> dict[str, str]:
    from grader.execution import limits_for
    from grader.sandbox.base import thread_env

    env = dict(os.environ)
    env.update(thread_env(limits_for(spec)))  # the thread caps a sandboxed run gets
    env.update({"GRADE_DATA_DIR": str(course.data_dir(spec.short) / "release"),
                "GRADE_OUTPUT_DIR": str(out_dir), "PYTHONDONTWRITEBYTECODE": "1"})
    return env


def run_plain(spec, course, notebook: Path, work: Path) -> tuple[float, Path, str]:
    """One unsandboxed execution, as the sandbox runs it: cwd = output folder, executed copy saved."""
    work.mkdir(parents=True)
    cmd = [sys.executable, str(NOTEBOOK_PY), "run", str(notebook), "--cwd", str(work),
           "--save", str(work / "executed.ipynb"), "--timeout", str(spec.execution.wall_s)]
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=work, env=baseline_env(spec, course, work), capture_output=True, text=True,
                       timeout=spec.execution.wall_s + 60)
    took = time.perf_counter() - t
    return took, work / spec.execution.output, "" if p.returncode == 0 else (p.stderr or p.stdout)[-1500:]


def baseline(spec, course, notebook: Path, n: int, jobs: int, scratch: Path) -> tuple[float, list[float], Path]:
    """N executions as `jobs` parallel processes: (wall, per-run seconds, one pred.csv)."""
    scratch.mkdir(parents=True)
    t = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        runs = list(pool.map(lambda i: run_plain(spec, course, notebook, scratch / f"run{i:03d}"), range(n)))
    wall = time.perf_counter() - t
    failed = [err for _, _, err in runs if err]
    if failed:
        raise SystemExit(f"the starter notebook fails unsandboxed ({len(failed)} of {n} runs):\n{failed[0]}")
    missing = [str(p) for _, p, _ in runs if not p.is_file()]
    if missing:
        raise SystemExit(f"the starter notebook wrote no {spec.execution.output} (e.g. {missing[0]})")
    return wall, [s for s, _, _ in runs], runs[0][1]


def build_class(folder: Path, spec, notebook: Path, pred: bytes, n: int) -> dict[str, str]:
    """N zips; returns student -> variant."""
    folder.mkdir(parents=True)
    nb_name, out_name = spec.starter.notebook, spec.submission.filename
    crashing = nbformat.read(str(notebook), as_version=4)
    first_code = next(i for i, c in enumerate(crashing.cells) if c.cell_type == "code")
    crashing.cells.insert(first_code + 1, new_code_cell("raise RuntimeError('simulated crash in a student cell')"))
    crash_bytes = nbformat.writes(crashing).encode()
    lines = pred.decode().splitlines()
    row = min(3, len(lines) - 1)
    cells = lines[row].split(",")
    cells[-1] = f"{float(cells[-1]) + 0.5:.6f}"
    lines[row] = ",".join(cells)
    edited = ("\n".join(lines) + "\n").encode()

    variants = ["mismatch", "crash", "missing"][: max(0, n - 1)] if n < 4 else ["mismatch", "crash", "missing"]
    kinds = ["honest"] * (n - len(variants)) + variants
    plan = {}
    for i, kind in enumerate(kinds, 1):
        student = f"s{i:03d}"
        members = {"honest": {nb_name: notebook.read_bytes(), out_name: pred},
                   "mismatch": {nb_name: notebook.read_bytes(), out_name: edited},
                   "crash": {nb_name: crash_bytes, out_name: pred},
                   "missing": {out_name: pred}}[kind]
        with zipfile.ZipFile(folder / f"{student}_hw{spec.number:02d}.zip", "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in members.items():
                z.writestr(f"{student}/{name}", data)
        plan[student] = kind
    return plan


def short_message(text: str, width: int = 90) -> str:
    """One line: the error line of a traceback if there is one, else the first line."""
    lines = [ln.strip() for ln in ANSI.sub("", text or "").splitlines() if ln.strip() and set(ln.strip()) != {"-"}]
    errors = [ln for ln in lines if re.match(r"^[A-Za-z_.]*(Error|Exception)\b", ln)]
    line = errors[-1] if errors else (lines[0] if lines else "")
    return line if len(line) <= width else line[: width - 3] + "..."


def phases(course, spec, notebook: Path, pred: bytes, backend: str, work: Path, repeats: int = 3) -> dict:
    """One honest entry through `grade_code`, in this process, phase by phase (median of
    `repeats`): the two sandboxed runs, the hidden checks and the rest."""
    from grader import execution
    from grader.sandbox.registry import get_backend

    times: dict[str, list[float]] = {}
    rounds: list[dict[str, float]] = []

    class Timed:
        def __init__(self, sb):
            self.sb, self.name = sb, sb.name

        def run(self, job):
            t = time.perf_counter()
            try:
                return self.sb.run(job)
            finally:
                key = "probe (sandbox)" if job.carries_hidden else "notebook (sandbox)"
                rounds[-1][key] = time.perf_counter() - t

    def checks(*a, **k):
        t = time.perf_counter()
        try:
            return real_checks(*a, **k)
        finally:
            rounds[-1]["hidden checks (host pytest)"] = time.perf_counter() - t

    real_get, real_checks = execution.get_backend, execution.run_checks
    execution.get_backend = lambda name: Timed(get_backend(name))
    execution.run_checks = checks
    try:
        for i in range(repeats):
            rounds.append({})
            t = time.perf_counter()
            r = execution.grade_code(course, spec, notebook, pred, work / f"{backend}-{i}", backend=backend)
            total = time.perf_counter() - t
            if r.run_status != "ok" or (r.rerun and r.rerun.status != "match"):
                raise SystemExit(f"{backend}: the honest notebook did not reproduce: {r.run_status} {r.run_message}")
            rounds[-1]["rest (copies, screening, compare)"] = total - sum(rounds[-1].values())
            rounds[-1]["total"] = total
    finally:
        execution.get_backend, execution.run_checks = real_get, real_checks
    for rnd in rounds:
        for k, v in rnd.items():
            times.setdefault(k, []).append(v)
    return {k: statistics.median(v) for k, v in times.items()}


def usable_backends(wanted: list[str]) -> list[str]:
    from grader.sandbox.registry import get_backend

    ok = []
    for name in wanted:
        try:
            good, why = get_backend(name).available()
        except Exception as e:  # noqa: BLE001 - report and go on
            good, why = False, f"{type(e).__name__}: {e}"
        print(f"backend {name:7} {'available' if good else 'UNAVAILABLE'}: {why}")
        if good:
            ok.append(name)
    return ok


# --------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hw", default="hw99", help="assignment (default: the toy hw99)")
    ap.add_argument("--n", type=int, default=20, help="entries in the class folder (default 20)")
    ap.add_argument("--jobs", type=int, default=2, help="parallel workers, batch and baseline alike (default 2)")
    ap.add_argument("--backends", default="bwrap,docker", help="comma-separated, tried in this order")
    ap.add_argument("--keep", type=Path, default=None, help="build everything in this folder and keep it")
    args = ap.parse_args()
    if args.n < 1:
        raise SystemExit("--n must be at least 1")

    spec = find_assignment(args.hw)
    from grader.batch import batch
    from grader.course import Course
    from grader.notebook import write_notebook

    tmp = args.keep or Path(tempfile.mkdtemp(prefix="grader-rerun-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        print(f"assignment {spec.id} ({spec.short}) from {os.environ['GRADE_ASSIGNMENTS']}")
        print(f"N={args.n} entries, J={args.jobs}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}, "
              f"limits: wall {spec.execution.wall_s}s, {spec.execution.memory_mb} MB, {spec.execution.cpus:g} CPU")
        backends = usable_backends([b.strip() for b in args.backends.split(",") if b.strip()])
        course = make_course(tmp / "course", spec)
        notebook = write_notebook(spec.folder / spec.starter.source, tmp / spec.starter.notebook)

        print(f"\nbaseline: {args.n} x `python grader/notebook.py run {notebook.name}` unsandboxed")
        base_j, per_run, pred_path = baseline(spec, course, notebook, args.n, args.jobs, tmp / "plain-j")
        print(f"  J={args.jobs}: {base_j:7.2f} s wall, {base_j / args.n:6.3f} s per notebook "
              f"(one run: median {statistics.median(per_run):.3f} s)")
        base_seq = None
        if args.jobs > 1:
            base_seq, per_seq, _ = baseline(spec, course, notebook, args.n, 1, tmp / "plain-seq")
            print(f"  sequential: {base_seq:7.2f} s wall, {base_seq / args.n:6.3f} s per notebook "
                  f"(one run: median {statistics.median(per_seq):.3f} s)")

        plan = build_class(tmp / "class", spec, notebook, pred_path.read_bytes(), args.n)
        counts = {k: list(plan.values()).count(k) for k in EXPECTED if k in plan.values()}
        full = counts.get("honest", 0) + counts.get("mismatch", 0)
        print(f"\nclass folder {tmp / 'class'}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
        print(f"  {full} of {args.n} entries run the whole notebook (the crashing one stops at its second "
              f"code cell, the one without a notebook runs nothing); 'like for like' below scales the "
              f"baseline to {full} runs")
        like = base_j * full / args.n if full else None

        print(f"\none honest entry, phase by phase (`grade_code` in this process, median of up to 3; "
              f"unsandboxed single run above: {statistics.median(per_seq if base_seq else per_run):.3f} s)")
        one = statistics.median(per_seq if base_seq else per_run)
        for b in backends:
            ph = phases(course, spec, notebook, pred_path.read_bytes(), b, tmp / "phases",
                        repeats=3 if one < 10 else 1)
            print(f"  {b:7} " + ", ".join(f"{k} {v:.3f} s" for k, v in ph.items()))

        summary = []
        for b in backends:
            root = tmp / f"course-{b}"
            shutil.copytree(course.root, root)  # same secret and data; an empty store
            c = Course(root)
            t = time.perf_counter()
            outcomes = batch(c, spec.short, tmp / "class", jobs=args.jobs, rerun=True, backend=b)
            wall = time.perf_counter() - t
            print(f"\n=== backend {b}: batch(rerun=True, jobs={args.jobs}) ===")
            print(f"  total {wall:7.2f} s wall, {wall / args.n:6.3f} s per notebook; "
                  f"{wall / base_j:5.2f}x the unsandboxed baseline at J={args.jobs}"
                  + (f", {wall / base_seq:5.2f}x the sequential one" if base_seq else "")
                  + (f"; like for like {wall / like:5.2f}x" if like else ""))
            print(f"  {'student':8} {'variant':9} {'status':9} {'rerun':9} {'hidden':>6}  {'as expected':11} message")
            good = 0
            for o in outcomes:
                kind = plan.get(o.student, "?")
                ok = o.rerun == EXPECTED.get(kind) and o.status == "scored"
                good += ok
                hidden = "" if o.hidden_points is None else f"{o.hidden_points:g}"
                msg = short_message(o.rerun_message or o.message)
                print(f"  {o.student:8} {kind:9} {o.status:9} {o.rerun or '-':9} {hidden:>6}  "
                      f"{'yes' if ok else 'NO':11} {msg}")
            summary.append((b, wall, good, len(outcomes)))

        print(f"\nsummary ({spec.short}, N={args.n}, J={args.jobs}; baseline = unsandboxed "
              f"`notebook.py run` of the same notebook, J={args.jobs}: {base_j:.2f} s)")
        for b, wall, good, total in summary:
            print(f"  {b:7} {wall:7.2f} s  {wall / args.n:6.3f} s/notebook  {wall / base_j:5.2f}x baseline"
                  + (f"  ({wall / like:5.2f}x like for like)" if like else "")
                  + f"  ({good}/{total} entries as expected)")
        if not backends:
            print("  no sandbox backend works here: nothing to compare")
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
