"""Defences against probing the public leaderboard.

Public scores are computed on a fixed half of the test set, so every score a student sees leaks a little
about those answers; with enough submissions the public labels can be read back (Whitehill 2017 reached
rank 4 of 848 on Kaggle without a model). Three options in `course.yaml` → `public_scores`:

    digits          round every public score shown to this many digits (Kaggle shows 5)
    ladder_margin   the Ladder (Blum & Hardt, "The Ladder: A Reliable Leaderboard for Machine Learning
                    Competitions", ICML 2015): a new public score is shown only when it beats the student's
                    best shown score by more than the margin; otherwise the best shown score stays. Small
                    random gains, the signal a probing attack climbs on, stay invisible.
    suspicious_gap  after the deadline, `grade probing HW` lists students whose public score beats their
                    private one by more than this many robust standard deviations of the class's gaps

Points and levels always come from the true scores; these only change what is shown.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def rounded(value: float | None, digits: int | None) -> float | None:
    return value if value is None or digits is None else round(float(value), digits)


def ladder(scores: list[float | None], higher: bool, margin: float | None, digits: int | None) -> list[float | None]:
    """What each of a student's submissions (in time order) shows: its rounded score when it is released,
    None when it is not (it did not beat the best shown score by more than `margin`)."""
    out: list[float | None] = []
    best: float | None = None
    for s in scores:
        if s is None or np.isnan(s):
            out.append(None)
            continue
        if margin is None:
            out.append(rounded(s, digits))
            continue
        better = best is None or (s - best > margin if higher else best - s > margin)
        if better:
            best = rounded(s, digits)
            out.append(best)
        else:
            out.append(None)
    return out


@dataclass
class Gap:
    student_id: str
    public: float  # best public score
    private: float  # the private board's score
    gap: float  # how much better public is than private (in the metric's favourable direction)
    z: float  # robust z-score of the gap within the class
    entries: int
    flagged: bool


def suspicious(rows: list[tuple[str, float, float, int]], higher: bool, threshold: float) -> list[Gap]:
    """(student, best public, private, entries) → gaps, largest first. A robust z-score (median and MAD)
    so one prober cannot hide behind the spread they cause themselves."""
    if not rows:
        return []
    gaps = np.array([(p - q) if higher else (q - p) for _, p, q, _ in rows], dtype=float)
    med = float(np.median(gaps))
    mad = float(np.median(np.abs(gaps - med))) * 1.4826 or float(np.std(gaps)) or 1.0
    out = [Gap(sid, p, q, float(g), float((g - med) / mad), n, bool((g - med) / mad > threshold))
           for (sid, p, q, n), g in zip(rows, gaps)]
    return sorted(out, key=lambda g: -g.z)
