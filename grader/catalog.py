"""Finding assignments and resolving names: `hw1`, `hw01`, `1` and `hw01_regression` are one homework."""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

from .errors import ConfigError, NotFound
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
def _load_all(root: Path) -> tuple[tuple[AssignmentSpec, ...], dict[str, ConfigError]]:
    """Every assignment under `root`, and the folders whose assignment.yaml does not validate: one broken
    homework is reported when it is named, and does not take the others down with it."""
    specs, broken = [], {}
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        if (folder / "assignment.yaml").is_file():
            try:
                specs.append(load_spec(folder))
            except ConfigError as e:
                broken[folder.name] = e
    return tuple(specs), broken


def all_specs(root: Path | None = None) -> list[AssignmentSpec]:
    return list(_load_all(root or assignments_root())[0])


def problems(root: Path | None = None) -> dict[str, ConfigError]:
    """Assignment folders that could not be loaded, by folder name."""
    return dict(_load_all(root or assignments_root())[1])


def resolve(name: str, root: Path | None = None) -> AssignmentSpec:
    key = name.strip().lower()
    specs, broken = _load_all(root or assignments_root())
    for spec in specs:
        if key in spec.aliases:
            return spec
    for folder, error in broken.items():
        m = re.match(r"hw(\d+)_", folder)
        if key == folder or (m and key in {f"hw{m[1]}", f"hw{int(m[1])}", str(int(m[1]))}):
            raise error
    known = ", ".join(s.id for s in specs) or "none"
    raise NotFound(f"no assignment named {name!r} (known: {known})")
