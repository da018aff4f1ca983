"""`grade similarity HW`: copied code, found across a class's submitted notebooks.

Each student's code is their notebook's code cells (nbformat; a script is taken as it is), written as one
`.py` per student; the released starter notebook is the boilerplate, so the sample code everyone starts
from never counts. copydetect (winnowing fingerprints over tokenised code, the MOSS algorithm) compares
every pair; the report ranks pairs by similarity and highlights the shared regions, in one HTML file.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from .batch import _find, discover
from .errors import GradeError
from .notebook import build_notebook
from .submission import ArchiveRefused, safe_extract


@dataclass
class Pair:
    a: str
    b: str
    similarity_a: float  # share of a's code found in b
    similarity_b: float
    shared_tokens: int

    @property
    def score(self) -> float:
        return max(self.similarity_a, self.similarity_b)


def student_code(entry: Path, scratch: Path) -> str | None:
    """The code a student handed in: every notebook's code cells (magics dropped), or their .py files."""
    import nbformat

    root = entry
    if entry.is_file():
        try:
            safe_extract(entry, scratch)
        except ArchiveRefused:
            return None
        root = scratch
    parts = []
    for nb_path in sorted(_find(root, "*.ipynb")):
        try:
            nb = nbformat.read(str(nb_path), as_version=4)
        except Exception:  # noqa: BLE001 - an unreadable notebook has no code to compare
            continue
        for cell in nb.cells:
            if cell.cell_type == "code":
                parts.append("\n".join(ln for ln in cell.source.splitlines() if not ln.lstrip().startswith(("%", "!"))))
    if not parts:
        parts = [p.read_text(errors="replace") for p in sorted(_find(root, "*.py"))]
    code = "\n\n".join(parts).strip()
    return code or None


def compare(course, spec, folder: Path, report: Path, threshold: float = 0.5) -> list[Pair]:
    try:
        from copydetect import CopyDetector
    except ImportError:
        raise GradeError("grade similarity needs copydetect: pip install copydetect") from None
    entries, _ = discover(Path(folder), spec.short, spec.number)
    with tempfile.TemporaryDirectory(prefix="grade-similarity-") as tmp:
        code_dir, starter_dir = Path(tmp) / "code", Path(tmp) / "starter"
        code_dir.mkdir()
        starter_dir.mkdir()
        starter = build_notebook((spec.folder / spec.starter.source).read_text(encoding="utf-8"))
        (starter_dir / "starter.py").write_text("\n\n".join(c.source for c in starter.cells if c.cell_type == "code"))
        students = []
        for e in entries:
            code = student_code(e.path, Path(tmp) / "x" / e.student)
            if code:
                (code_dir / f"{e.student}.py").write_text(code)
                students.append(e.student)
        if len(students) < 2:
            return []
        det = CopyDetector(test_dirs=[str(code_dir)], boilerplate_dirs=[str(starter_dir)], extensions=["py"],
                           display_t=threshold, autoopen=False, silent=True, out_file=str(report))
        det.run()
        pairs = []
        for sim_a, sim_b, file_a, file_b, _code_a, _code_b, tokens in det.get_copied_code_list():
            pairs.append(Pair(Path(file_a).stem, Path(file_b).stem, float(sim_a), float(sim_b), int(tokens)))
        Path(report).parent.mkdir(parents=True, exist_ok=True)
        det.generate_html_report(output_mode="save")
    return sorted(pairs, key=lambda p: -p.score)
