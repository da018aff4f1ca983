"""Finding assignments and resolving names: `hw1`, `hw01`, `1` and `hw01_regression` are one homework."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from .errors import NotFound
from .spec import AssignmentSpec, load_spec

REPO_ROOT = Path(__file__).resolve().parent.parent


def assignments_root() -> Path:
    return Path(os.environ.get("GRADE_ASSIGNMENTS", REPO_ROOT / "assignments")).resolve()


def shared_data_dir() -> Path | None:
    """The real course data (`../shared/data` beside the checkout), or None: generated data is the default."""
    env = os.environ.get("GRADE_SHARED_DATA")
    if env is not None:
        p = Path(env)
        return p if env and p.is_dir() else None
    for cand in (REPO_ROOT.parent / "shared" / "data", REPO_ROOT / "shared" / "data"):
        if cand.is_dir():
            return cand
    return None


@lru_cache(maxsize=None)
def _load_all(root: Path) -> tuple[AssignmentSpec, ...]:
    specs = []
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        if (folder / "assignment.yaml").is_file():
            specs.append(load_spec(folder))
    return tuple(specs)


def all_specs(root: Path | None = None) -> list[AssignmentSpec]:
    return list(_load_all(root or assignments_root()))


def resolve(name: str, root: Path | None = None) -> AssignmentSpec:
    key = name.strip().lower()
    specs = all_specs(root)
    for spec in specs:
        if key in spec.aliases:
            return spec
    known = ", ".join(s.id for s in specs) or "none"
    raise NotFound(f"no assignment named {name!r} (known: {known})")
