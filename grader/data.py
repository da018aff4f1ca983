"""Prepared datasets: run an assignment's `data.py` with the course secret and cache the result.

    course/data/<hw>/
      release/            files students receive (train/test inputs, sample_submission.csv)
      hidden/answers.csv  the test answers, in the submission's two-column format
      hidden/public.npy   boolean mask (answers order): which rows score on the public board
      hidden_inputs/      inputs for hidden probes (mounted into the sandbox; never answers)
      manifest.json       source, edition, scale, generator hash and the dataset fingerprint

The public/private split is the platform's, not the homework's: a seeded permutation of the answer rows
(seed from the course secret), `public_fraction` of them public. The cache is reused while the
generator file, source, edition and scale are unchanged.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from .catalog import shared_data_dir
from .errors import GradeError
from .spec import AssignmentSpec

MANIFEST = "manifest.json"


@dataclass
class BuildContext:
    """What an assignment's `data.py build(ctx)` receives."""

    seed: int
    source: str
    edition: str
    scale: str
    shared_data: Path | None
    release_dir: Path
    hidden_dir: Path
    hidden_inputs_dir: Path  # inputs probes may use inside the sandbox: never answers
    options: dict[str, Any] = field(default_factory=dict)
    layout: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Answers:
    ids: np.ndarray
    values: np.ndarray
    public: np.ndarray  # bool mask
    hidden_dir: Path | None = None  # the prepared hidden folder (references, hidden models for grading.py)

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def private(self) -> np.ndarray:
        return ~self.public

    @cached_property
    def boards(self) -> dict[str, np.ndarray]:
        """The true values of each board's rows, split once per loaded answer set rather than per
        submission (np.compress is arr[mask] for 1-d arrays, several times faster on a scattered mask)."""
        return {"public": np.compress(self.public, self.values), "private": np.compress(self.private, self.values)}

    def boards_as(self, dtype) -> dict[str, np.ndarray]:
        """`boards` in another dtype (exact-match metrics score narrowed labels), converted once."""
        key = np.dtype(dtype).str
        cache = self.__dict__.setdefault("_boards_as", {})
        if key not in cache:
            cache[key] = {b: t.astype(dtype) for b, t in self.boards.items()}
        return cache[key]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fingerprint_dir(*dirs: Path) -> str:
    """sha256 over (relative path, file sha256) of every file: names and contents both count."""
    h = hashlib.sha256()
    for d in dirs:
        for p in sorted(d.rglob("*")):
            if p.is_file():
                h.update(f"{d.name}/{p.relative_to(d).as_posix()}\0{sha256_file(p)}\n".encode())
    return h.hexdigest()


def _load_generator(spec: AssignmentSpec):
    path = spec.folder / "data.py"
    mod_spec = importlib.util.spec_from_file_location(f"grader_assignment_{spec.short}_data", path)
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    if not hasattr(module, "build"):
        raise GradeError(f"{path}: defines no build(ctx) function")
    return module


def choice(course, spec: AssignmentSpec) -> tuple[str, str, str]:
    hw = course.hw(spec.short)
    source = hw.source or spec.data.source
    edition = hw.edition or spec.data.edition
    if source not in spec.data.sources:
        raise GradeError(f"{course.config_path}: homeworks.{spec.short}.source: {source!r} is not one of "
                         f"{sorted(spec.data.sources)} (see {spec.folder / 'assignment.yaml'})")
    return source, edition, spec.data.scale


def prepare(course, spec: AssignmentSpec, force: bool = False) -> dict:
    """Build (or reuse) the homework's data in the course; return its manifest."""
    source, edition, scale = choice(course, spec)
    out = course.data_dir(spec.short)
    key = {"source": source, "edition": edition, "scale": scale,
           "generator": sha256_file(spec.folder / "data.py"),
           "public_fraction": spec.data.public_fraction}
    if not force and (out / MANIFEST).is_file():
        manifest = json.loads((out / MANIFEST).read_text())
        if all(manifest.get(k) == v for k, v in key.items()):
            return manifest

    src = spec.data.sources[source]
    ed = src.editions.get(edition)
    if src.kind == "files" and ed is None:
        raise GradeError(f"{spec.folder / 'assignment.yaml'}: data.sources.{source}.editions has no {edition!r}")
    shared = shared_data_dir()
    if src.kind == "files":
        _check_files(spec, source, edition, ed.files, shared)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{spec.short}-", dir=out.parent))
    try:
        ctx = BuildContext(seed=course.seed_for(spec.short, "data", source, edition), source=source,
                           edition=edition, scale=scale, shared_data=shared,
                           release_dir=tmp / "release", hidden_dir=tmp / "hidden",
                           hidden_inputs_dir=tmp / "hidden_inputs",
                           options=dict(spec.data.options), layout=dict(ed.layout) if ed else {})
        for d in (ctx.release_dir, ctx.hidden_dir, ctx.hidden_inputs_dir):
            d.mkdir()
        _load_generator(spec).build(ctx)
        answers_path = ctx.hidden_dir / "answers.csv"
        if not answers_path.is_file():
            raise GradeError(f"{spec.folder / 'data.py'}: build() wrote no hidden/answers.csv")
        ids, values = _read_answers(answers_path, spec)
        rng = np.random.default_rng(course.seed_for(spec.short, "split"))
        n_public = int(round(len(ids) * spec.data.public_fraction))
        public = np.zeros(len(ids), dtype=bool)
        public[rng.permutation(len(ids))[:n_public]] = True
        np.save(ctx.hidden_dir / "public.npy", public, allow_pickle=False)
        if not (ctx.release_dir / spec.submission.sample_name).exists():
            _write_sample(ctx.release_dir / spec.submission.sample_name, spec, ids)
        manifest = {**key, "fingerprint": fingerprint_dir(ctx.release_dir, ctx.hidden_dir, ctx.hidden_inputs_dir),
                    "rows": len(ids), "public_rows": int(public.sum())}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _check_files(spec, source, edition, files, shared: Path | None) -> None:
    where = f"{spec.folder / 'assignment.yaml'}: data.sources.{source}.editions.{edition}"
    if shared is None:
        raise GradeError(f"{where}: needs the course data folder (../shared/data), which is absent; "
                         "use the generated source instead")
    for ref in files:
        p = shared / ref.path
        if not p.is_file():
            raise GradeError(f"{where}: {p} is missing")
        if sha256_file(p) != ref.sha256:
            raise GradeError(f"{where}: {p} has sha256 {sha256_file(p)[:12]}…, expected {ref.sha256[:12]}…")


def _read_answers(path: Path, spec: AssignmentSpec) -> tuple[np.ndarray, np.ndarray]:
    sub = spec.submission
    types = {"int": pa.int64(), "float": pa.float64(), "str": pa.string()}
    t = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
        column_types={c: types[k] for c, k in sub.columns.items()}, strings_can_be_null=False))
    return (t.column(sub.id_column).to_numpy(zero_copy_only=False),
            t.column(sub.value_column).to_numpy(zero_copy_only=False))


def _write_sample(path: Path, spec: AssignmentSpec, ids: np.ndarray) -> None:
    sub = spec.submission
    if sub.kind == "lines":  # one placeholder line per test item (empty lines are refused)
        path.write_text("-\n" * len(ids), encoding="utf-8")
        return
    if sub.kind == "choices":  # every question, unanswered
        path.write_text(json.dumps({str(i): "" for i in ids.tolist()}, indent=1) + "\n", encoding="utf-8")
        return
    if sub.kind == "weights":  # only the homework knows its network's shapes
        raise GradeError(f"{spec.folder / 'data.py'}: a weights homework's build() must write "
                         f"release/{sub.sample_name} (a state dict of the course's network)")
    if sub.kind == "archive":  # every expected member, as a black image of the right size
        from .scoring.archive import write_archive

        im = sub.archive.image
        shape = (im.height, im.width) + (() if im.mode == "L" else (len(im.mode),))
        path.write_bytes(write_archive({str(i): np.zeros(shape, dtype=np.uint8) for i in ids.tolist()}))
        return
    filler = {"int": "0", "float": "0", "str": ""}[sub.columns[sub.value_column]]
    with open(path, "w", newline="") as f:
        f.write(",".join(sub.columns) + "\n")
        id_first = list(sub.columns)[0] == sub.id_column
        for i in ids.tolist():
            f.write(f"{i},{filler}\n" if id_first else f"{filler},{i}\n")


@lru_cache(maxsize=16)
def _answers_cached(hidden: str, mtime: float, spec_id: str, spec_folder: str) -> Answers:
    from .spec import load_spec

    spec = load_spec(Path(spec_folder))
    ids, values = _read_answers(Path(hidden) / "answers.csv", spec)
    public = np.load(Path(hidden) / "public.npy", allow_pickle=False)
    return Answers(ids, values, public, Path(hidden))


def load_answers(course, spec: AssignmentSpec) -> Answers:
    """The hidden answers and split. Prepares the data first if needed."""
    prepare(course, spec)
    hidden = course.data_dir(spec.short) / "hidden"
    mtime = (hidden / "answers.csv").stat().st_mtime
    return _answers_cached(str(hidden), mtime, spec.id, str(spec.folder))
