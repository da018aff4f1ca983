"""Metric registry: name -> (library function, direction). No metric here is hand-written.

Libraries are imported on first use, so `grade --help` stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np


@dataclass(frozen=True)
class Metric:
    name: str
    direction: Literal["higher", "lower"]
    fn: Callable[[np.ndarray, np.ndarray, dict], float]
    description: str
    # paired: truth and prediction row by row (the answers file). Unpaired: the board's predictions
    # as a whole, against a hidden reference set (needs_reference) or on their own.
    paired: bool = True
    needs_reference: bool = False
    needs_ids: bool = False  # gets the board's ids as options["ids"] (e.g. points per question)
    additive: bool = False  # the two boards' scores add up to the score over all items

    def __call__(self, y_true, y_pred, **options) -> float:
        return float(self.fn(np.asarray(y_true), np.asarray(y_pred), options))

    def better(self, a: float, b: float) -> bool:
        """True when score `a` is strictly better than `b`."""
        return a > b if self.direction == "higher" else a < b

    def reaches(self, score: float, threshold: float) -> bool:
        """A baseline is passed when the score is at least as good as the threshold (Kaggle's rule)."""
        return score >= threshold if self.direction == "higher" else score <= threshold

    def warm(self) -> None:
        """Import the backing library now (a server does this at start, not in its first request)."""
        truth, pred = _EXAMPLES[self.name]
        self(truth, pred, **({"ids": ["q1", "q2"]} if self.needs_ids else {}))


def _mse(t, p, o):
    from sklearn.metrics import mean_squared_error
    return mean_squared_error(t, p)


def _mae(t, p, o):
    from sklearn.metrics import mean_absolute_error
    return mean_absolute_error(t, p)


def _accuracy(t, p, o):
    from sklearn.metrics import accuracy_score
    return accuracy_score(t, p)


def _auc(t, p, o):
    from sklearn.metrics import roc_auc_score
    return roc_auc_score(t, p)


def _fid(reference, features, o):
    """Fréchet distance between Gaussians fitted to two feature sets (the FID formula): the matrix square
    root from scipy.linalg.sqrtm, the statistics from numpy."""
    from scipy import linalg

    a, b = np.asarray(reference, dtype=np.float64), np.asarray(features, dtype=np.float64)
    mu1, mu2 = a.mean(axis=0), b.mean(axis=0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():  # near-singular product: the usual regularisation
        eps = np.eye(len(s1)) * 1e-6
        covmean = linalg.sqrtm((s1 + eps) @ (s2 + eps))
    covmean = np.real(covmean)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def _acceptance(_unused, accepted, o):
    """Share of items a hidden judge accepts (HW6's AFD: faces the detector finds)."""
    from sklearn.metrics import accuracy_score
    accepted = np.asarray(accepted).astype(bool)
    return accuracy_score(np.ones(len(accepted), dtype=bool), accepted)


def _mean(_unused, values, o):
    """The mean of a number per item that the homework's grading.py computed (HW12: an episode's total
    reward, from the host's own run of the environment)."""
    values = np.asarray(values, dtype=float)
    return float(np.mean(values)) if len(values) else float("nan")


def _choice_points(t, p, o):
    """Points for questions answered with exactly the right set of options (the course's all-correct
    rule): sklearn accuracy_score with each question's points as its weight, not normalised."""
    from sklearn.metrics import accuracy_score

    weights = np.array([_points_of(str(q), o.get("points", {}), o.get("default_points", 1.0)) for q in o["ids"]])
    return accuracy_score(t, p, sample_weight=weights, normalize=False) if len(t) else 0.0


def _points_of(question: str, by_prefix: dict, default: float) -> float:
    best = max((k for k in by_prefix if question.startswith(k)), key=len, default=None)
    return float(by_prefix[best]) if best is not None else float(default)


def _bleu(t, p, o):
    import sacrebleu
    return sacrebleu.corpus_bleu([str(x) for x in p], [[str(x) for x in t]],
                                 tokenize=o.get("tokenize", "zh")).score


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("mse", "lower", _mse, "mean squared error (sklearn.metrics.mean_squared_error)"),
    Metric("mae", "lower", _mae, "mean absolute error (sklearn.metrics.mean_absolute_error)"),
    Metric("accuracy", "higher", _accuracy, "share of exact matches (sklearn.metrics.accuracy_score)"),
    Metric("auc", "higher", _auc, "ROC AUC (sklearn.metrics.roc_auc_score)"),
    Metric("bleu", "higher", _bleu, "corpus BLEU (sacrebleu.corpus_bleu, zh tokenizer by default)"),
    Metric("attack_accuracy", "lower", _accuracy,
           "accuracy of the hidden models on attacked inputs: lower is a stronger attack (sklearn accuracy_score)"),
    Metric("fid", "lower", _fid, "Fréchet distance of feature statistics against a hidden reference set (scipy)",
           paired=False, needs_reference=True),
    Metric("acceptance", "higher", _acceptance, "share of items a hidden judge accepts (sklearn accuracy_score)",
           paired=False),
    Metric("mean", "higher", _mean, "mean of a per-item number computed on the host (numpy.mean), e.g. an "
           "episode's total reward", paired=False),
    Metric("choice_points", "higher", _choice_points,
           "points of the questions answered exactly right (sklearn accuracy_score, weighted, not normalised)",
           needs_ids=True, additive=True),
)}


# A tiny valid input per metric, to load its library ahead of the first real score.
_EXAMPLES = {"mse": ([0.0, 1.0], [0.0, 1.0]), "mae": ([0.0, 1.0], [0.0, 1.0]), "accuracy": ([0, 1], [0, 1]),
             "auc": ([0, 1], [0.2, 0.8]), "bleu": (["一 二 三 四"], ["一 二 三 四"]),
             "attack_accuracy": ([0, 1], [0, 1]), "fid": ([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]]),
             "acceptance": ([], [True, False]), "mean": ([], [1.0, 2.0]), "choice_points": (["A", "BC"], ["A", "B"])}


def get(name: str) -> Metric:
    return METRICS[name]
