"""Helpers for hidden probes. Runs INSIDE the sandbox, next to `probe.py`; standard library + numpy only.

A probe needs the student's functions and classes without re-running their training: `load_definitions`
executes only the imports, function and class definitions and a few configuration assignments of a
notebook (or script), never its top-level work. Everything a probe writes goes to /out as plain files
(`save_npy` refuses object arrays, so nothing that needs pickle leaves the sandbox).
"""

from __future__ import annotations

import ast
import json
import types
from pathlib import Path

KEEP_ASSIGN = {"config", "device"}


def code_cells(path: str | Path) -> list[str]:
    """The code cells of a notebook (magics dropped), or a script as one cell."""
    path = Path(path)
    if path.suffix != ".ipynb":
        return [path.read_text(encoding="utf-8")]
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            src = cell.get("source", "")
            src = "".join(src) if isinstance(src, list) else src
            cells.append("\n".join(ln for ln in src.splitlines() if not ln.lstrip().startswith(("%", "!"))))
    return cells


def _wanted(node: ast.stmt, keep: set[str]) -> bool:
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names = [t.id for t in targets if isinstance(t, ast.Name)]
        return len(names) == len(targets) and all(n in keep or n.isupper() for n in names)
    return False


def load_definitions(path: str | Path, name: str = "submission",
                     keep: set[str] | frozenset[str] = frozenset()) -> tuple[types.ModuleType, list[str]]:
    """The notebook's definitions as a module, and the problems met (statements that failed). Besides
    imports, functions, classes and UPPER_CASE / `config` / `device` assignments, the assignments to the
    names in `keep` run too (a course notebook's lower-case hyper-parameters, `train_tfm = …`)."""
    keep = KEEP_ASSIGN | set(keep)
    module = types.ModuleType(name)
    problems: list[str] = []
    for cell in code_cells(path):
        try:
            tree = ast.parse(cell)
        except SyntaxError as e:
            problems.append(f"syntax error: {e}")
            continue
        for node in tree.body:
            if not _wanted(node, keep):
                continue
            code = compile(ast.Module(body=[node], type_ignores=[]), f"<{name}>", "exec")
            try:
                exec(code, module.__dict__)
            except Exception as e:  # one broken statement must not hide the others
                problems.append(f"line {node.lineno}: {type(e).__name__}: {e}")
    return module, problems


def save_npy(path: str | Path, array) -> None:
    import numpy as np

    arr = np.asarray(array)
    if arr.dtype == object:
        raise TypeError(f"{path}: object arrays need pickle; convert to numbers first")
    np.save(path, arr, allow_pickle=False)


def save_json(path: str | Path, obj) -> None:
    Path(path).write_text(json.dumps(obj))
