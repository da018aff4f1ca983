"""A correct HW9 notebook: the starter with its TODO methods replaced by the course's implementations
(reference_solutions/hw09/explain.py) and, optionally, ANSWERS filled in — what a student who did the
homework hands in. The hidden-check tests run it through the sandbox next to the unchanged starter.

    python tools/hw09_solved.py --data RELEASE_DIR --out HW09.py     # answers from the release's photos
"""
from __future__ import annotations

import argparse
import ast
import importlib.util
import inspect
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STARTER = REPO / "assignments" / "hw09_explainable" / "starter" / "hw09.py"
TODO = ("compute_saliency_maps", "smooth_grad", "IntegratedGradients", "euclidean_distance", "cosine_similarity")


def reference():
    spec = importlib.util.spec_from_file_location("hw09_explain", REPO / "reference_solutions" / "hw09" / "explain.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def solved_source(answers: dict | None = None, starter: str | None = None) -> str:
    """The starter's percent-format source with the TODO definitions swapped for the reference's."""
    ref = reference()
    src = starter if starter is not None else STARTER.read_text(encoding="utf-8")
    lines = src.splitlines(keepends=True)
    tree = ast.parse(src)
    # replace from the last definition upwards, so the line numbers of the others stay valid
    nodes = sorted((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name in TODO),
                   key=lambda n: n.lineno, reverse=True)
    assert {n.name for n in nodes} == set(TODO), f"the starter lacks {set(TODO) - {n.name for n in nodes}}"
    for n in nodes:
        lines[n.lineno - 1: n.end_lineno] = [inspect.getsource(getattr(ref, n.name))]
    out = "".join(lines)
    if answers is not None:
        out = out.replace("ANSWERS = {\n", "ANSWERS = {\n" + "".join(f"    {q!r}: {a!r},\n" for q, a in answers.items()), 1)
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", help="a prepared release folder: fill ANSWERS with the reference's sheet")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    sheet = reference().answer_sheet(args.data) if args.data else None
    Path(args.out).write_text(solved_source(sheet), encoding="utf-8")
    print(f"wrote {args.out}")
