"""Public and private scores of a validated file, baselines passed and points earned."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..spec import BOARDS, LEVELS, AssignmentSpec
from . import metrics
from .validate import Checked, _contiguous_start, validate


@dataclass(frozen=True)
class Scores:
    public: float
    private: float

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
    m = metrics.get(spec.metric.name)
    truth = answers.boards
    if m.name in _EXACT_MATCH and (dt := _compact_dtype(answers.values, pred)) is not None:
        # Narrow before splitting: the split then moves a fraction of the bytes.
        pred = pred.astype(dt)
        truth = answers.boards_as(dt)
    opts = spec.metric.options

    def private() -> float:
        return m(truth["private"], np.compress(answers.private, pred), **opts)

    later = _board_pool().submit(private) if len(pred) >= _PARALLEL_ROWS else None
    public = m(truth["public"], np.compress(answers.public, pred), **opts)
    return Scores(public=public, private=later.result() if later else private())


def score_bytes(spec: AssignmentSpec, answers, data: bytes, filename: str) -> Scores:
    """Validate then score; raises `validate.Invalid` with the problems."""
    checked = validate(data, filename, spec.submission, answers.ids)
    return score_values(spec, answers, align(checked, answers.ids))


def levels_passed(spec: AssignmentSpec, thresholds: dict[tuple[str, str], float], board: str,
                  score: float | None) -> list[str]:
    """Levels whose threshold on `board` the score reaches, in ladder order."""
    if score is None:
        return []
    m = metrics.get(spec.metric.name)
    return [lv for lv in LEVELS if (lv, board) in thresholds and m.reaches(score, thresholds[(lv, board)])]


def points(spec: AssignmentSpec, thresholds, public: float | None, private: float | None) -> float:
    per = spec.points.per_level_per_board
    return per * sum(len(levels_passed(spec, thresholds, b, s)) for b, s in zip(BOARDS, (public, private)))
