"""Public and private scores of a validated file, baselines passed and points earned."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..spec import BOARDS, LEVELS, AssignmentSpec
from . import metrics
from .validate import Checked, validate_csv


@dataclass(frozen=True)
class Scores:
    public: float
    private: float

    def board(self, board: str) -> float:
        return self.public if board == "public" else self.private


def align(checked: Checked, answers) -> np.ndarray:
    """The submitted values reordered to the answers' order (ids already proven to be the same set)."""
    if np.array_equal(checked.ids, answers.ids):
        return checked.values
    out = np.empty_like(checked.values)
    out[np.argsort(answers.ids, kind="stable")] = checked.values[np.argsort(checked.ids, kind="stable")]
    return out


def score_values(spec: AssignmentSpec, answers, pred: np.ndarray) -> Scores:
    m = metrics.get(spec.metric.name)
    pub = answers.public
    return Scores(public=m(answers.values[pub], pred[pub], **spec.metric.options),
                  private=m(answers.values[~pub], pred[~pub], **spec.metric.options))


def score_bytes(spec: AssignmentSpec, answers, data: bytes, filename: str) -> Scores:
    """Validate then score; raises `validate.Invalid` with the problems."""
    checked = validate_csv(data, filename, spec.submission, answers.ids)
    return score_values(spec, answers, align(checked, answers))


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
