"""Compatibility boards: files in another grading system's format, scored for comparison only.

HW12's course graded on JudgeBoi with an action list replayed open-loop on the public seed 543; a list
made for that seed says nothing about a policy on other seeds, so this course ranks policies it plays
itself on hidden seeds. Instructors who want to compare with 2022, or TAs holding old submissions, can
still score such files: `grade compat hw12 FILES_OR_FOLDERS`. Nothing is stored and nothing earns
points; each file's failure is its own row.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import GradeError
from .scoring.score import _grading
from .spec import AssignmentSpec
from .submission import read_bounded

MAX_BYTES = 16 * 2**20


@dataclass
class CompatRow:
    student: str
    file: str
    score: float | None = None
    message: str = ""
    rank: int | None = None


def _files(spec: AssignmentSpec, paths: list[Path]) -> list[tuple[str, Path]]:
    """(student, file): a folder holds one `<student>/<filename>` (or `<student>_<filename>`) per student."""
    name = spec.compat.filename
    out = []
    for p in paths:
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.name.endswith(name))
            out += [(f.parent.name if f.name == name else f.name[: -len(name)].rstrip("_-. ") or f.stem, f)
                    for f in found]
        else:
            out.append((p.parent.name if p.name == name and p.parent.name else p.stem, p))
    return out


def board(spec: AssignmentSpec, paths: list[Path]) -> list[CompatRow]:
    if spec.compat is None:
        raise GradeError(f"{spec.short} has no compatibility board (no `compat:` in its assignment.yaml)")
    fn = getattr(_grading(spec), spec.compat.function, None)
    if fn is None:
        raise GradeError(f"{spec.folder / spec.grading}: defines no {spec.compat.function}() (compat.function)")
    rows = []
    for student, path in _files(spec, [Path(p) for p in paths]):
        row = CompatRow(student, str(path))
        try:
            data = read_bounded(path, MAX_BYTES)
            if len(data) > MAX_BYTES:
                raise ValueError(f"over the {MAX_BYTES:,}-byte cap")
            row.score = float(fn(data))
        except (GradeError, ValueError) as e:  # UnsafeNpy is a ValueError: a crafted pickle is refused
            row.message = f"{path.name}: {e}"
        except Exception as e:  # noqa: BLE001 -- one file's problem is its own row
            row.message = f"{path.name}: could not be scored ({type(e).__name__}: {e})"
        rows.append(row)
    scored = sorted((r for r in rows if r.score is not None),
                    key=lambda r: -r.score if spec.compat.direction == "higher" else r.score)
    for k, r in enumerate(scored, start=1):
        r.rank = k
    return scored + [r for r in rows if r.score is None]
