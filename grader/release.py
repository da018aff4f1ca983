"""The student bundle, and the guard that nothing hidden ever leaves in it.

    <out>/<hw>/
      README.md               the handout
      HWNN.ipynb              starter notebook, built with nbformat from starter/hwNN.py
      <data files>            released train/test inputs and the sample submission
      tests/public/           public tests students may run themselves
      assignment.json         what `grade check` / `grade submit` need: format, metric, limits, deadline

`scan_bundle` proves by content, not by name, that the bundle holds none of: the hidden answers (as a
file, as id→answer rows inside any CSV), the course secret, hidden tests, reference solutions or the
data generator. `release` refuses to finish when the scan finds anything.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from . import data as datamod
from .catalog import REPO_ROOT
from .errors import GradeError
from .notebook import write_notebook
from .spec import AssignmentSpec

MIN_SHARED_LINES = 4  # a hidden source file "leaks" when this many of its distinctive lines appear


@dataclass
class Leak:
    file: str
    what: str


def release(course, spec: AssignmentSpec, out: Path) -> Path:
    datamod.prepare(course, spec)
    dest = Path(out) / spec.short
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for f in sorted((course.data_dir(spec.short) / "release").iterdir()):
        shutil.copy2(f, dest / f.name) if f.is_file() else shutil.copytree(f, dest / f.name)
    shutil.copy2(spec.folder / "README.md", dest / "README.md")
    write_notebook(spec.folder / spec.starter.source, dest / spec.starter.notebook)
    public_tests = spec.folder / "tests" / "public"
    if public_tests.is_dir():
        shutil.copytree(public_tests, dest / "tests" / "public",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    deadline = course.deadline(spec.short)
    (dest / "assignment.json").write_text(json.dumps({
        "id": spec.id, "short": spec.short, "title": spec.title, "course": course.config.name,
        "submission": spec.submission.model_dump(), "metric": spec.metric.model_dump(),
        "daily_limit": course.limit_daily(spec), "finals": course.limit_finals(spec),
        "deadline": deadline.isoformat() if deadline else None,
    }, indent=2, ensure_ascii=False))
    leaks = scan_bundle(course, spec, dest)
    if leaks:
        shutil.rmtree(dest)
        raise GradeError("release refused, the bundle would leak hidden material:\n  "
                         + "\n  ".join(f"{lk.file}: {lk.what}" for lk in leaks))
    with course.store.session() as s:
        course.store.log(s, "release", actor="instructor", hw=spec.short, out=str(dest))
    return dest


# ---- the scan -------------------------------------------------------------------------------------

def _hidden_sources(spec: AssignmentSpec) -> list[Path]:
    files = [spec.folder / "data.py"] + ([spec.folder / spec.grading] if spec.grading else [])
    for d in (spec.folder / "tests" / "hidden", REPO_ROOT / "reference_solutions" / spec.short):
        if d.is_dir():
            files += [p for p in d.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return files


def _distinctive_lines(text: str) -> set[str]:
    """Lines specific enough that finding several elsewhere means the file was copied."""
    out = set()
    for line in text.splitlines():
        s = line.strip()
        if len(s) >= 25 and not s.startswith(("#", "import ", "from ", '"""')):
            out.add(s)
    return out


def scan_bundle(course, spec: AssignmentSpec, bundle: Path) -> list[Leak]:
    data = course.data_dir(spec.short)
    hidden_files = [p for d in ("hidden", "hidden_inputs") for p in (data / d).rglob("*") if p.is_file()]
    forbidden_hashes = {datamod.sha256_file(p): f"the hidden file {p.name}" for p in hidden_files}
    sources = _hidden_sources(spec)
    for p in sources:
        forbidden_hashes[datamod.sha256_file(p)] = f"{p.relative_to(REPO_ROOT)}"
    source_lines = {p: _distinctive_lines(p.read_text(errors="replace")) for p in sources}
    # Public tests and the starter may legitimately share lines with hidden checks (imports, helpers):
    # only lines that are not also in released sources count.
    released_text = "\n".join(p.read_text(errors="replace") for p in
                              [spec.folder / spec.starter.source, *(spec.folder / "tests" / "public").rglob("*.py")])
    released_lines = _distinctive_lines(released_text)
    secret = course.secret.encode()
    answers = datamod.load_answers(course, spec)
    answer_map = {str(i): v for i, v in zip(answers.ids.tolist(), answers.values.tolist())}
    # a text answer (a translation) leaks when it appears as a line of any released file, in any order
    answer_lines = ({str(v).strip() for v in answers.values.tolist()} - {""}
                    if spec.submission.kind == "lines" else set())

    leaks: list[Leak] = []
    for f in sorted(p for p in bundle.rglob("*") if p.is_file()):
        rel = str(f.relative_to(bundle))
        raw = f.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        if digest in forbidden_hashes:
            leaks.append(Leak(rel, f"is byte-identical to {forbidden_hashes[digest]}"))
            continue
        if secret in raw:
            leaks.append(Leak(rel, "contains the course secret"))
        text = raw.decode("utf-8", errors="replace")
        lines = {ln.strip() for ln in text.splitlines()}
        for src, dl in source_lines.items():
            shared = (dl - released_lines) & lines
            if len(shared) >= MIN_SHARED_LINES:
                leaks.append(Leak(rel, f"shares {len(shared)} lines with {src.relative_to(REPO_ROOT)}"))
        if f.suffix.lower() == ".csv":
            hit = _answer_overlap(text, spec.submission.id_column, answer_map)
            if hit:
                leaks.append(Leak(rel, hit))
        if spec.submission.kind == "lines" and answer_lines:
            hits = len(answer_lines & lines)
            if hits >= 5 and hits >= 0.5 * len(answer_lines):
                leaks.append(Leak(rel, f"holds {hits} of the {len(answer_lines)} hidden answer lines"))
    return leaks


def _same(a: str, b) -> bool:
    """Equal as text, or as numbers up to rounding (a leak may have been reformatted)."""
    if isinstance(b, float):
        try:
            return abs(float(a) - b) <= 1e-3 * max(1.0, abs(b))
        except ValueError:
            return False
    return a == str(b)


def _answer_overlap(text: str, id_column: str, answer_map: dict) -> str | None:
    """Does any column of this CSV give the hidden answer for most test ids?"""
    rows = list(csv.reader(text.splitlines()))
    if len(rows) < 2 or id_column not in rows[0]:
        return None
    header, body = rows[0], rows[1:]
    id_idx = header.index(id_column)
    keyed = [r for r in body if len(r) == len(header) and r[id_idx] in answer_map]
    if not keyed:
        return None
    for j, name in enumerate(header):
        if j == id_idx:
            continue
        hits = sum(_same(r[j], answer_map[r[id_idx]]) for r in keyed)
        if hits >= 5 and hits >= 0.5 * len(keyed):
            return f"column {name!r} holds the hidden answer for {hits} of {len(keyed)} test ids"
    return None
