"""Public and private scores of a validated file, baselines passed and points earned."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ..spec import LEVELS, AssignmentSpec
from . import metrics
from .validate import Checked, Invalid, _contiguous_start, validate


@dataclass(frozen=True)
class Scores:
    public: float
    private: float
    extra: dict[str, tuple[float, float]] = field(default_factory=dict)  # `also` metrics: (public, private)

    def board(self, board: str) -> float:
        return self.public if board == "public" else self.private


def align(checked: Checked, expected_ids: np.ndarray) -> np.ndarray:
    """The submitted values reordered to `expected_ids` (ids already proven to be the same set)."""
    if np.array_equal(checked.ids, expected_ids):
        return checked.values
    out = np.empty_like(checked.values)
    lo = _contiguous_start(expected_ids)
    if lo is not None and checked.ids.dtype.kind in "iu":  # ids lo..lo+n-1: an id is its own position
        out[checked.ids - lo] = checked.values
    else:  # ids are distinct, so any sort will do
        out[np.argsort(expected_ids)] = checked.values[np.argsort(checked.ids)]
    return out


# Metrics that only compare labels for equality. For them, integer labels may travel in the smallest
# integer type that holds them all: the score is identical and sklearn's label checks (np.unique) run
# several times faster (HW2: 41 classes in int64 → int8). Arithmetic metrics (mse…) never get this.
_EXACT_MATCH = frozenset({"accuracy"})


def _compact_dtype(*arrays: np.ndarray):
    """The smallest integer type holding every value of `arrays` when it is narrower than theirs, else None."""
    if any(a.dtype.kind not in "iu" or not len(a) for a in arrays):
        return None
    lo, hi = min(int(a.min()) for a in arrays), max(int(a.max()) for a in arrays)
    for dt in (np.int8, np.int16, np.int32):
        info = np.iinfo(dt)
        if info.min <= lo and hi <= info.max:
            return dt if info.bits // 8 < max(a.itemsize for a in arrays) else None
    return None


# A file this long has its two boards scored at once, the private one on a second thread: the library
# metrics spend most of their time in numpy (label checks, comparisons), which runs without the GIL.
_PARALLEL_ROWS = 100_000
_pool: list[ThreadPoolExecutor] = []


def _board_pool() -> ThreadPoolExecutor:
    if not _pool:
        _pool.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix="grade-score"))
    return _pool[0]


def score_values(spec: AssignmentSpec, answers, pred: np.ndarray) -> Scores:
    """Every metric of the homework on both boards, from values already aligned to the answers' ids."""
    inputs = represent(spec, answers, pred)
    public, private = _on_boards(spec.metric, answers, inputs[spec.metric.input])
    extra = {ms.name: _on_boards(ms, answers, inputs[ms.input]) for ms in spec.also}
    return Scores(public, private, extra)


def _on_boards(ms, answers, pred: np.ndarray) -> tuple[float, float]:
    m = metrics.get(ms.name)
    if m.paired:
        truth = answers.boards
        if m.name in _EXACT_MATCH and (dt := _compact_dtype(answers.values, pred)) is not None:
            # Narrow before splitting: the split then moves a fraction of the bytes.
            pred = pred.astype(dt)
            truth = answers.boards_as(dt)
    else:  # the whole board against one hidden reference set (or nothing)
        ref = reference(answers, ms.reference) if ms.reference else None
        truth = {"public": ref, "private": ref}
    opts = ms.options

    def on(board: str, mask: np.ndarray) -> float:
        extra = {"ids": np.compress(mask, answers.ids)} if m.needs_ids else {}
        return m(truth[board], np.compress(mask, pred, axis=0), **opts, **extra)

    later = _board_pool().submit(on, "private", answers.private) if len(pred) >= _PARALLEL_ROWS else None
    public = on("public", answers.public)
    return public, later.result() if later else on("private", answers.private)


def represent(spec: AssignmentSpec, answers, values: np.ndarray) -> dict[str, np.ndarray]:
    """The forms of the submission the metrics read: the values themselves, plus what the homework's
    host-side grading.py makes of them (its hidden models see pixels and numbers, never student code)."""
    inputs = {"values": values}
    if spec.grading:
        made = _grading(spec).represent(values, answers.hidden_dir)
        for name, arr in made.items():
            if len(arr) != len(answers.ids):
                raise ValueError(f"{spec.folder / spec.grading}: represent() gave {len(arr)} rows of {name!r} "
                                 f"for {len(answers.ids)} items")
        inputs.update(made)
    return inputs


@lru_cache(maxsize=32)
def _grading_module(path: str, mtime: float):
    import importlib.util

    mod_spec = importlib.util.spec_from_file_location(f"grader_grading_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    return module


def _grading(spec: AssignmentSpec):
    path = spec.folder / spec.grading
    return _grading_module(str(path), path.stat().st_mtime)


@lru_cache(maxsize=32)
def _reference(path: str, mtime: float) -> np.ndarray:
    return np.load(path, allow_pickle=False)


def reference(answers, name: str) -> np.ndarray:
    path = answers.hidden_dir / name
    return _reference(str(path), path.stat().st_mtime)


def check_submission(spec: AssignmentSpec, answers, data: bytes, filename: str) -> Checked:
    """The format (`validate`), then the homework's own rules on the values, if its grading.py has
    `check(values, ids, hidden_dir) -> [problem, …]` (HW10: every pixel within ε of the benign image).
    Raises `validate.Invalid` with every problem found."""
    checked = validate(data, filename, spec.submission, answers.ids)
    rule = getattr(_grading(spec), "check", None) if spec.grading else None
    if rule is not None:
        problems = list(rule(align(checked, answers.ids), answers.ids, answers.hidden_dir))
        if problems:
            raise Invalid(filename, problems)
    return checked


def score_bytes(spec: AssignmentSpec, answers, data: bytes, filename: str) -> Scores:
    """Check then score; raises `validate.Invalid` with the problems."""
    checked = check_submission(spec, answers, data, filename)
    return score_values(spec, answers, align(checked, answers.ids))


def levels_passed(spec: AssignmentSpec, thresholds: dict[tuple, float], board: str, score: float | None,
                  extra: dict[str, float] | None = None) -> list[str]:
    """Levels reached on `board`, in ladder order: the main metric reaches its threshold, and so does every
    `also` metric (thresholds keyed (level, board, metric); `extra` holds this board's scores of them)."""
    if score is None:
        return []
    m = metrics.get(spec.metric.name)
    out = []
    for lv in LEVELS:
        if (lv, board) not in thresholds or not m.reaches(score, thresholds[(lv, board)]):
            continue
        ok = True
        for ms in spec.also:
            th = thresholds.get((lv, board, ms.name))
            value = (extra or {}).get(ms.name)
            if th is not None and (value is None or not metrics.get(ms.name).reaches(value, th)):
                ok = False
        if ok:
            out.append(lv)
    return out


def board_extra(extra_scores: dict | None, board: str) -> dict[str, float]:
    """One board's scores of the `also` metrics from a submission's stored {name: [public, private]}."""
    k = 0 if board == "public" else 1
    return {name: v[k] for name, v in (extra_scores or {}).items() if v is not None}
