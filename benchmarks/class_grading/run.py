"""Grading one class with every tool, on the same machine (a script that prints numbers, not a test).

A 20-notebook class of the same homework (`hw95_bench`: ~1 s of gradient descent per notebook), 3 of them
buggy — one raises, one predicts the wrong shape, one loops forever — graded by:

    grade        `grade batch hw95 CLASS --rerun --jobs 2`: each notebook re-executed in the sandbox
                 (bwrap), its functions probed on hidden inputs in a second sandboxed run, the predictions
                 compared with the uploaded file, the hidden checks run on the host
    nbgrader     `nbgrader autograde` (one notebook at a time, as nbgrader does), tests in the notebook
    otter        `otter run -a autograder.zip` per notebook, without Docker, 2 at a time
    nbconvert    `jupyter nbconvert --execute` per notebook, 2 at a time
    nbclient x2  a bare loop of nbclient executions in 2 processes (the baseline: no grading at all)

Every tool gets a 30 s timeout per notebook, so the infinite loop costs each of them that. Prints wall time
per tool, ratios against nbgrader and the bare loop, and our per-notebook overhead (wall − student compute,
the time the notebook's own cells take, measured unsandboxed).

    python benchmarks/class_grading/run.py [--peers .venv-peers] [--n 20] [--tools grade,nbgrader,...]

The peers live in their own virtual environment (they pin other Jupyter versions):
    python3 -m venv .venv-peers && .venv-peers/bin/pip install nbgrader otter-grader nbconvert nbclient ipykernel numpy
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
TIMEOUT = 30
STEPS = 20000  # the honest notebooks' gradient-descent steps: about a second of numpy

SETUP = '''import os
import numpy as np
DATA = os.environ.get("GRADE_DATA_DIR", ".")
OUT = os.environ.get("GRADE_OUTPUT_DIR", ".")
x, y, test = (np.load(os.path.join(DATA, f"{n}.npy")) for n in ("x", "y", "test"))'''
FIT = f'''def fit(x, y, steps={STEPS}, lr=0.05):
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        w -= lr * x.T @ (x @ w - y) / len(x)
    return w

def predict(w, x):
    return x @ w'''
RUN = "w = fit(x, y)\npred = predict(w, test)"
SAVE = '''np.savetxt(os.path.join(OUT, "pred.csv"), np.column_stack([np.arange(len(test)), pred]), delimiter=",",
           header="id,y", comments="", fmt=["%d", "%.6f"])'''
TESTS = ["assert pred.shape == (1000,)", "assert np.isfinite(pred).all()"]
BUGS = {
    "s18": FIT.replace("    w = np.zeros(x.shape[1])", "    raise ValueError('diverged')"),
    "s19": FIT.replace("    return x @ w", "    return (x @ w)[:-1]"),
    "s20": FIT.replace("    w = np.zeros(x.shape[1])", "    while True:\n        pass"),
}
KERNEL = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}


def fit_code(student: str) -> str:
    return BUGS.get(student, FIT)


def plain_notebook(student: str) -> nbformat.NotebookNode:
    return new_notebook(cells=[new_code_cell(SETUP), new_code_cell(fit_code(student)), new_code_cell(RUN),
                               new_code_cell(SAVE)], metadata=KERNEL)


# ---- the tools ---------------------------------------------------------------------------------------

def run_grade(work: Path, students: list[str], data: Path) -> float:
    """Our batch: a course with the benchmark homework, a class folder of notebooks + uploaded files."""
    env = dict(os.environ, GRADE_ASSIGNMENTS=str(HERE), GRADE_NOW="2022-02-20T10:00:00")
    course = work / "course"
    grade = [sys.executable, "-c", "from grader.cli import main; main()"]
    subprocess.run([*grade, "init", str(course)], env=env, check=True, capture_output=True)
    (course / "course.yaml").write_text((course / "course.yaml").read_text().replace("hw01:", "hw95:"))
    subprocess.run([*grade, "prepare", "hw95", "--course", str(course)], env=env, check=True, capture_output=True)
    release = course / "data" / "hw95" / "release"
    cls = work / "class"
    for s in students:
        d = cls / s
        d.mkdir(parents=True)
        nbformat.write(plain_notebook(s), str(d / "HW95.ipynb"))
        # the file the student uploaded: what their notebook wrote on their machine
        honest = plain_notebook("s01") if s in ("s18", "s20") else plain_notebook(s)
        _execute_plain(honest, release, d)
    t = time.perf_counter()
    p = subprocess.run([*grade, "batch", "hw95", str(cls), "--rerun", "--backend", "bwrap", "--jobs", "2",
                        "--course", str(course), "--json"], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    rows = json.loads(p.stdout) if p.returncode == 0 else []
    flagged = [(r["student"], r["rerun"]) for r in rows if r["rerun"] != "match"]
    print(f"  grade: flagged {flagged}")
    return wall


def _execute_plain(nb, data: Path, out: Path) -> None:
    from nbclient import NotebookClient

    env_before = dict(os.environ)
    os.environ.update(GRADE_DATA_DIR=str(data), GRADE_OUTPUT_DIR=str(out))
    try:
        NotebookClient(nb, timeout=TIMEOUT, kernel_name="python3").execute()
    except Exception:  # noqa: BLE001 - a buggy notebook writes what it writes
        pass
    finally:
        os.environ.clear()
        os.environ.update(env_before)


def run_nbgrader(work: Path, students: list[str], data: Path, peers: Path) -> float:
    root = work / "nbgrader"
    src = root / "source" / "ps1"
    src.mkdir(parents=True)
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(root)!r}\nc.CourseDirectory.course_id = 'bench'\n"
        f"c.Execute.timeout = {TIMEOUT}\nc.ExecutePreprocessor.timeout = {TIMEOUT}\n")

    def meta(**kw):
        return {"nbgrader": {"schema_version": 3, "locked": False, "solution": False, "grade": False, **kw}}

    solution = FIT.replace("    w = np.zeros", "    ### BEGIN SOLUTION\n    w = np.zeros").replace(
        "    return w\n", "    return w\n    ### END SOLUTION\n")
    cells = [new_code_cell(SETUP, metadata=meta(grade_id="setup", locked=True)),
             new_code_cell(solution, metadata=meta(grade_id="fit", solution=True)),
             new_code_cell(RUN, metadata=meta(grade_id="run", locked=True))]
    cells += [new_code_cell(t, metadata=meta(grade_id=f"test{k}", grade=True, locked=True, points=1))
              for k, t in enumerate(TESTS)]
    nbformat.write(new_notebook(cells=cells, metadata=KERNEL), str(src / "ps1.ipynb"))
    nbg = [str(peers / "bin" / "nbgrader")]
    env = dict(os.environ, GRADE_DATA_DIR=str(data), GRADE_OUTPUT_DIR=str(work / "nbgrader-out"),
               PATH=f"{peers / 'bin'}:{os.environ['PATH']}")
    (work / "nbgrader-out").mkdir()
    subprocess.run([*nbg, "generate_assignment", "ps1", "--force"], cwd=root, env=env, check=True, capture_output=True)
    released = nbformat.read(str(root / "release" / "ps1" / "ps1.ipynb"), as_version=4)
    for s in students:
        nb = nbformat.from_dict(json.loads(json.dumps(released)))
        nb.cells[1].source = fit_code(s)
        d = root / "submitted" / s / "ps1"
        d.mkdir(parents=True)
        nbformat.write(nb, str(d / "ps1.ipynb"))
    t = time.perf_counter()
    p = subprocess.run([*nbg, "autograde", "ps1", "--create", "--force"], cwd=root, env=env, capture_output=True,
                       text=True)
    wall = time.perf_counter() - t
    if p.returncode:
        print("  nbgrader:", p.stderr[-600:])
    return wall


def run_otter(work: Path, students: list[str], data: Path, peers: Path) -> float:
    root = work / "otter"
    root.mkdir()
    cfg = "# ASSIGNMENT CONFIG\nname: bench\ninit_cell: false\ncheck_all_cell: false\nexport_cell: false\n"
    cells = [new_raw_cell(cfg), new_code_cell(SETUP), new_markdown_cell("Fit the model."),
             new_raw_cell("# BEGIN QUESTION\nname: q1\npoints: 2"),
             new_code_cell(FIT.replace("    w = np.zeros", "    # BEGIN SOLUTION\n    w = np.zeros").replace(
                 "    return w\n", "    return w\n    # END SOLUTION\n") + "\n" + RUN),
             new_raw_cell("# BEGIN TESTS")]
    cells += [new_code_cell(t) for t in TESTS]
    cells += [new_raw_cell("# END TESTS"), new_raw_cell("# END QUESTION")]
    nbformat.write(new_notebook(cells=cells, metadata=KERNEL), str(root / "master.ipynb"))
    otter = str(peers / "bin" / "otter")
    env = dict(os.environ, GRADE_DATA_DIR=str(data), GRADE_OUTPUT_DIR=str(root),
               PATH=f"{peers / 'bin'}:{os.environ['PATH']}")
    p = subprocess.run([otter, "assign", "master.ipynb", "dist"], cwd=root, env=env, capture_output=True, text=True)
    if p.returncode:
        print("  otter assign:", p.stderr[-800:])
        return float("nan")
    zip_path = next((root / "dist" / "autograder").glob("*.zip"))
    student_nb = nbformat.read(str(next((root / "dist" / "student").glob("*.ipynb"))), as_version=4)
    subs = []
    for s in students:
        nb = nbformat.from_dict(json.loads(json.dumps(student_nb)))
        for c in nb.cells:
            if c.cell_type == "code" and "def fit" in c.source:
                c.source = fit_code(s) + "\n" + RUN
        path = root / "subs" / s / "bench.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, str(path))
        subs.append(path)

    def one(path: Path):
        return subprocess.run(["timeout", str(TIMEOUT + 30), otter, "run", "-a", str(zip_path), "-o",
                               str(path.parent), str(path)], env=env, capture_output=True, text=True)

    t = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(one, subs))
    wall = time.perf_counter() - t
    failed = sum(r.returncode != 0 for r in results)
    if failed:
        print(f"  otter: {failed} runs exited non-zero; last stderr: {results[-1].stderr[-300:]}")
    return wall


def run_nbconvert(work: Path, students: list[str], data: Path, peers: Path) -> float:
    root = work / "nbconvert"
    paths = []
    for s in students:
        p = root / s / "HW95.ipynb"
        p.parent.mkdir(parents=True)
        nbformat.write(plain_notebook(s), str(p))
        paths.append(p)
    env = dict(os.environ, GRADE_DATA_DIR=str(data), GRADE_OUTPUT_DIR=str(root))

    def one(p: Path):
        return subprocess.run([str(peers / "bin" / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
                               f"--ExecutePreprocessor.timeout={TIMEOUT}", "--output", "executed.ipynb",
                               str(p)], env=env, capture_output=True)

    t = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(one, paths))
    return time.perf_counter() - t


def run_nbclient(work: Path, students: list[str], data: Path, peers: Path) -> float:
    root = work / "nbclient"
    lists = [[], []]
    for k, s in enumerate(students):
        p = root / s / "HW95.ipynb"
        p.parent.mkdir(parents=True)
        nbformat.write(plain_notebook(s), str(p))
        lists[k % 2].append(str(p))
    loop = ("import sys, nbformat\nfrom nbclient import NotebookClient\n"
            "for p in sys.argv[1:]:\n    nb = nbformat.read(p, as_version=4)\n    try:\n"
            f"        NotebookClient(nb, timeout={TIMEOUT}, kernel_name='python3').execute()\n"
            "    except Exception:\n        pass\n")
    env = dict(os.environ, GRADE_DATA_DIR=str(data), GRADE_OUTPUT_DIR=str(root))
    t = time.perf_counter()
    procs = [subprocess.Popen([str(peers / "bin" / "python"), "-c", loop, *ps], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for ps in lists]
    for p in procs:
        p.wait()
    return time.perf_counter() - t


def grade_phases(work: Path) -> dict:
    """Where our time goes: one honest entry through `grade_code` in this process, phase by phase (the
    helper of benchmarks/rerun_class.py), on the course the batch used."""
    os.environ.update(GRADE_ASSIGNMENTS=str(HERE), GRADE_NOW="2022-02-20T10:00:00")
    sys.path.insert(0, str(HERE.parent))
    from rerun_class import phases

    from grader import api

    course, d = api.open_course(work / "grade" / "course"), work / "grade" / "class" / "s01"
    return phases(course, api.assignment("hw95"), d / "HW95.ipynb", (d / "pred.csv").read_bytes(), "bwrap",
                  work / "phases")


def student_compute(data: Path) -> float:
    """The honest notebook's own cells, timed inside one Python (no kernel, no sandbox)."""
    import numpy as np  # noqa: F401  (imported before timing, as a warm kernel would have it)

    ns: dict = {}
    os.environ.update(GRADE_DATA_DIR=str(data), GRADE_OUTPUT_DIR=tempfile.mkdtemp())
    t = time.perf_counter()
    for code in (SETUP, FIT, RUN, SAVE):
        exec(code, ns)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--peers", default=str(REPO / ".venv-peers"))
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--tools", default="grade,nbgrader,otter,nbconvert,nbclient")
    ap.add_argument("--keep", default=None)
    a = ap.parse_args()
    peers = Path(a.peers)
    students = [f"s{k:02d}" for k in range(1, a.n - 2)] + ["s18", "s19", "s20"]
    work = Path(a.keep or tempfile.mkdtemp(prefix="grade-peers-"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / "data"
    data.mkdir(exist_ok=True)
    import numpy as np

    rng = np.random.default_rng(0)
    w, x = rng.normal(size=30), rng.normal(size=(5000, 30))
    np.save(data / "x.npy", x[:4000])
    np.save(data / "y.npy", x[:4000] @ w + rng.normal(scale=0.5, size=4000))
    np.save(data / "test.npy", x[4000:])
    compute = student_compute(data)
    n_running = len(students) - 1  # the infinite loop is killed at its timeout, not "computed"
    print(f"{len(students)} notebooks (3 buggy: exception, wrong shape, infinite loop), 2 at a time where the "
          f"tool allows, {TIMEOUT} s timeout; student compute {compute:.2f} s per honest notebook; "
          f"load {os.getloadavg()[0]:.1f}")
    walls = {}
    tools = {"grade": lambda: run_grade(work / "grade", students, data),
             "nbgrader": lambda: run_nbgrader(work, students, data, peers),
             "otter": lambda: run_otter(work, students, data, peers),
             "nbconvert": lambda: run_nbconvert(work, students, data, peers),
             "nbclient": lambda: run_nbclient(work, students, data, peers)}
    for name in a.tools.split(","):
        walls[name] = tools[name]()
        print(f"{name:10} {walls[name]:7.1f} s")
    if "grade" in walls:
        g = walls["grade"]
        # two notebooks at a time: the loop costs one slot TIMEOUT; the rest share the two slots
        per_nb = (2 * g - TIMEOUT) / n_running
        print(f"ours: {(2 * g - TIMEOUT) / n_running:.2f} s per notebook per slot, overhead over the student's "
              f"compute {per_nb - compute:.2f} s (target <= 0.3 s)")
        ph = grade_phases(work)
        print("  one honest entry, phase by phase: " + ", ".join(f"{k} {v:.2f} s" for k, v in ph.items()))
        print(f"  overhead of one entry over the student's compute: {ph['total'] - compute:.2f} s")
        for peer, target in (("nbgrader", 2.0), ("nbclient", 1.2)):
            if peer in walls:
                r = walls[peer] / g
                print(f"{peer} / grade = {r:.2f}x (target >= {target}x): {'ok' if r >= target else 'MISSED'}")
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
