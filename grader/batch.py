"""TA batch grading of a class folder, in parallel and resumable.

A class folder holds one entry per student, in either of the layouts TAs meet:

    class/<student>/pred.csv ...     a folder per student
    class/<student>_hw1.zip          NTU COOL's export: one zip per student

Workers unpack and locate each student's file (zip rules: no `..`, no absolute paths, no links, capped
size and entry count); the parent process records every result in the store, so there is one writer.
An entry whose content (sha256) was already graded is skipped, which makes an interrupted batch safe to
re-run. One bad submission becomes a recorded status; it never stops the class.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete

from . import api
from .data import sha256_file
from .errors import GradeError
from .store import BatchResult, CheckResult, utcnow
from .submission import ArchiveRefused, safe_extract

MAX_ENTRY_BYTES = 50_000_000


@dataclass
class Entry:
    student: str
    path: Path
    sha256: str


@dataclass
class Outcome:
    student: str
    status: str  # scored | rejected | refused | error | skipped
    message: str = ""
    public: float | None = None
    private: float | None = None
    submission_id: int | None = None
    rerun: str = ""  # with --rerun: match | mismatch | missing | error | a sandbox status
    rerun_message: str = ""
    hidden_points: float | None = None


def _dir_digest(d: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(d.rglob("*")):
        if p.is_file() and not p.is_symlink():
            h.update(f"{p.relative_to(d).as_posix()}\0{sha256_file(p)}\n".encode())
    return h.hexdigest()


def discover(folder: Path, short: str, number: int) -> tuple[list[Entry], list[Outcome]]:
    part = re.escape(short[4:])  # hw14q: HW14's second part; its zips are <id>_hw14q.zip, never <id>_hw14.zip
    zip_name = re.compile(rf"^(?P<student>[^_/]+)_(?:hw0?{number}{part}|{short})\.zip$", re.IGNORECASE)
    entries, skipped = [], []
    for p in sorted(Path(folder).iterdir()):
        if p.name.startswith("."):
            continue
        if p.is_symlink():
            skipped.append(Outcome(p.name, "rejected", f"{p.name}: symbolic links are not graded"))
        elif p.is_dir():
            entries.append(Entry(p.name, p, _dir_digest(p)))
        elif m := zip_name.match(p.name):
            entries.append(Entry(m["student"], p, sha256_file(p)))
        else:
            skipped.append(Outcome(p.name, "rejected",
                                   f"{p.name}: neither a student folder nor a <student>_{short}.zip archive"))
    seen: dict[str, int] = {}
    for e in entries:
        seen[e.student] = seen.get(e.student, 0) + 1
    for sid in [k for k, n in seen.items() if n > 1]:
        skipped.append(Outcome(sid, "rejected", f"{sid}: both a folder and an archive; keep one"))
    entries = [e for e in entries if seen[e.student] == 1]
    return entries, skipped


def _find(root: Path, pattern: str) -> list[Path]:
    return [p for p in root.rglob(pattern) if p.is_file() and not p.is_symlink()
            and ".ipynb_checkpoints" not in p.parts and "__MACOSX" not in p.parts]


def _locate_in(root: Path, label: str, filename: str) -> tuple[bytes | None, str, str]:
    hits = _find(root, filename)
    if not hits:
        csvs = _find(root, "*.csv")
        hits = csvs if len(csvs) == 1 else []
    if not hits:
        return None, "", f"{label}: no {filename} found"
    if len(hits) > 1:
        names = ", ".join(str(h.relative_to(root)) for h in hits[:4])
        return None, "", f"{label}: several candidate files ({names}); expected one {filename}"
    f = hits[0]
    if f.stat().st_size > MAX_ENTRY_BYTES:
        return None, "", f"{label}: {f.name} is larger than {MAX_ENTRY_BYTES:,} bytes"
    return f.read_bytes(), f.name, ""


def work(entry_path: str, filename: str, rerun: dict | None = None):
    """Worker: unpack the entry, find the prediction file and, with `rerun`, re-execute the notebook.

    Returns (data, name, problem, code_result).
    """
    path = Path(entry_path)
    with tempfile.TemporaryDirectory(prefix="grade-batch-") as tmp:
        if path.is_file():
            try:
                safe_extract(path, Path(tmp) / "entry")
            except ArchiveRefused as e:
                return None, "", str(e), None
            root = Path(tmp) / "entry"
        else:
            root = path
        data, name, problem = _locate_in(root, path.name, filename)
        if not rerun:
            return data, name, problem, None
        from .course import Course
        from .execution import CodeResult, grade_code

        notebooks = _find(root, "*.ipynb")
        if len(notebooks) != 1:
            found = "no notebook" if not notebooks else f"{len(notebooks)} notebooks"
            return data, name, problem, CodeResult("missing", f"{path.name}: {found}; expected exactly one .ipynb")
        from .executors import gpu_ids_here

        from .catalog import resolve

        course = Course(rerun["course"])
        spec = resolve(rerun["hw"], Path(rerun["assignments"]))  # a worker on another node has no env of ours
        code = grade_code(course, spec, notebooks[0], data, Path(tmp) / "work", backend=rerun["backend"],
                          gpu_ids=gpu_ids_here())
        return data, name, problem, code


def batch(course, hw: str, folder: Path, jobs: int = 2, progress=None, rerun: bool = False,
          backend: str | None = None, executor: str = "local", address: str | None = None,
          only: set[str] | None = None, force: bool = False) -> list[Outcome]:
    """Grade every entry of a class folder. With `rerun`, also re-execute each notebook in the sandbox;
    `executor` says where the work runs (grader/executors.py); the results are recorded here either way."""
    from . import executors

    spec = api.assignment(hw)
    entries, outcomes = discover(Path(folder), spec.short, spec.number)
    if only is not None:  # a regrade of some students
        entries = [e for e in entries if e.student in only]
        outcomes = [o for o in outcomes if o.student in only]
    # An entry that ended in "error" (the grader failed, not the student) is graded again, and so is
    # one graded without re-execution when a re-execution is asked for now.
    graded = {r.student_id: r.sha256 for r in course.store.batch_results(spec.short)
              if r.status != "error" and (r.rerun_status not in ("", "error") or not rerun)}
    todo = [e for e in entries if force or graded.get(e.student) != e.sha256]
    outcomes += [Outcome(e.student, "skipped", "unchanged since the last batch") for e in entries if e not in todo]
    if progress:
        progress.start(len(todo))
    job = None
    if rerun:
        from .sandbox import cgroups
        from .sandbox.registry import available_backends

        if cgroups.usable()[0]:
            cgroups.sweep_stale()  # what an interrupted batch (kill -9) left behind

        backend = backend or next((b for b in available_backends() if b != "local"), None)
        if backend is None:
            raise GradeError("--rerun needs a sandbox backend (docker or bwrap); see `grade sandbox doctor`")
        job = {"course": str(course.root), "hw": spec.short, "backend": backend,
               "assignments": str(spec.folder.parent)}
    ex = executors.make(executor, jobs, address)
    need = executors.Resources(cpus=spec.execution.cpus if rerun else 1.0, gpus=1.0 if rerun and spec.execution.gpu else 0.0)

    def record(e: Entry, result, error) -> None:
        if error is None:
            data, name, problem, code = result
        else:  # a worker crash is one student's status, not the class's
            data, name, problem, code = None, "", f"{e.path.name}: could not be read ({type(error).__name__}: {error})", None
        outcomes.append(_record(course, spec, e, data, name, problem, code))
        if progress:
            progress.advance(e.student)

    # A stuck run is killed by its sandbox at wall_s; this bounds waiting for resources on a cluster too.
    timeout = (spec.execution.wall_s * 3 + 120) * max(1, -(-len(todo) // max(1, jobs))) if rerun else None
    ex.run(work, todo, [(str(e.path), spec.submission.filename, job) for e in todo], need, record, timeout)
    order = {e.student: i for i, e in enumerate(entries)}
    outcomes.sort(key=lambda o: order.get(o.student, len(order)))
    return outcomes


def _record(course, spec, e: Entry, data, name, problem, code=None) -> Outcome:
    if data is None:
        out = Outcome(e.student, "rejected", problem)
        sub_id = None
    else:
        try:
            r = api.submit(course, spec.short, Path(name), e.student, origin="batch", data=data, filename=name)
        except Exception as exc:  # one student's status, never the end of the class
            out = Outcome(e.student, "error", f"{e.path.name}: could not be graded ({type(exc).__name__}: {exc})")
            sub_id = None
        else:
            out = Outcome(e.student, r.status, r.message, r.public, r.private, submission_id=r.id)
            sub_id = r.id
    row = BatchResult(hw=spec.short, student_id=e.student, sha256=e.sha256, submission_id=sub_id,
                      status=out.status, message=out.message, graded_at=utcnow(), source=str(e.path.resolve()))
    if code is not None:
        rr = code.rerun
        out.rerun = rr.status if rr else code.run_status
        out.rerun_message = (rr.message if rr else code.run_message)[:2000]
        if rr and rr.examples:
            out.rerun_message += "; e.g. " + ", ".join(f"id {i}: uploaded {a:.6g} vs rerun {b:.6g}"
                                                       if isinstance(a, float) else f"id {i}: {a!r} vs {b!r}"
                                                       for i, a, b in rr.examples[:3])
        out.hidden_points = code.hidden_points
        row.rerun_status, row.rerun_message, row.hidden_points = out.rerun, out.rerun_message, out.hidden_points
    with course.store.session() as s:
        s.merge(row)
        if code is not None:
            s.execute(delete(CheckResult).where(CheckResult.hw == spec.short, CheckResult.student_id == e.student))
            for c in code.checks:
                s.add(CheckResult(hw=spec.short, student_id=e.student, submission_id=sub_id, test=c.test,
                                  status=c.status, message=c.message, points=c.points, max_points=c.max_points))
        course.store.log(s, "batch", actor="ta", hw=spec.short, student_id=e.student, status=out.status,
                         rerun=out.rerun)
    return out
