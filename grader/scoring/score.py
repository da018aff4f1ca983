"""Public and private scores of a validated file, baselines passed and points earned."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..spec import BOARDS, LEVELS, AssignmentSpec
from . import metrics
from .validate import Checked, _contiguous_start, validate_csv


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


def _compact_labels(truth: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if truth.dtype.kind not in "iu" or pred.dtype.kind not in "iu" or not len(truth) or not len(pred):
        return truth, pred
    lo, hi = min(int(truth.min()), int(pred.min())), max(int(truth.max()), int(pred.max()))
    for dt in (np.int8, np.int16, np.int32):
        info = np.iinfo(dt)
        if info.min <= lo and hi <= info.max:
            if info.bits // 8 < max(truth.itemsize, pred.itemsize):
                return truth.astype(dt), pred.astype(dt)
            break
    return truth, pred


def score_values(spec: AssignmentSpec, answers, pred: np.ndarray) -> Scores:
    m = metrics.get(spec.metric.name)
    truth = answers.values
    if m.name in _EXACT_MATCH:
        truth, pred = _compact_labels(truth, pred)
    pub, priv = answers.public, ~answers.public
    # np.compress is arr[mask] for 1-d arrays, several times faster on a scattered mask.
    return Scores(public=m(np.compress(pub, truth), np.compress(pub, pred), **spec.metric.options),
                  private=m(np.compress(priv, truth), np.compress(priv, pred), **spec.metric.options))


def score_bytes(spec: AssignmentSpec, answers, data: bytes, filename: str) -> Scores:
    """Validate then score; raises `validate.Invalid` with the problems."""
    checked = validate_csv(data, filename, spec.submission, answers.ids)
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
