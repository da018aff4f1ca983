"""Kaggle's leaderboard rules, computed from the store's scored submissions.

* Public board: each student's best public score.
* Private board: the best private score among the student's selected finals; a student who selected
  none is judged on their 2 best-public submissions (Kaggle's fallback; the number is the course's
  `finals` setting).
* Ties rank the earlier submission first (then the lower submission id).
* Baseline rows (simple/medium/strong/boss) sit at their thresholds and take no rank.

Everything is vectorised with pandas, so rebuilding boards for 100k submissions stays well under a
second (benchmarks/leaderboard_rebuild.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd

from .scoring import metrics
from .scoring.score import board_extra, levels_passed
from .spec import LEVELS, AssignmentSpec


@dataclass
class Row:
    rank: int | None
    student_id: str
    name: str
    score: float
    entries: int
    last: datetime | None
    submission_id: int | None
    levels: list[str]
    points: float
    baseline: str | None = None  # level name for baseline rows
    also: dict[str, float] = field(default_factory=dict)  # the `also` metrics of the row's submission

    def as_dict(self) -> dict:
        d = asdict(self)
        d["last"] = self.last.isoformat() if self.last else None
        return d


@dataclass
class Board:
    hw: str
    board: str  # public | private
    metric: str
    higher_is_better: bool
    rows: list[Row]

    @property
    def students(self) -> list[Row]:
        return [r for r in self.rows if r.baseline is None]


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def frame(subs) -> pd.DataFrame:
    """Scored submissions as a DataFrame (id, student, created, public, private, t).

    `created` is a UTC datetime column; `t` is the same instant as int64 nanoseconds, the column every
    sort uses (a tz-aware column turns into an object array of Timestamps under `to_numpy()`, which is
    slow to sort and breaks on mixed time zones).
    """
    # Column lists rather than row tuples: 100k new tuples would wake the garbage collector repeatedly.
    scored = [s for s in subs if s.status == "scored"]
    ids, students, created = [s.id for s in scored], [s.student_id for s in scored], [s.created_at for s in scored]
    public, private = [s.public_score for s in scored], [s.private_score for s in scored]
    extra = np.empty(len(scored), dtype=object)
    extra[:] = [getattr(s, "extra_scores", None) for s in scored]  # fakes in tests may lack it
    df = pd.DataFrame({"id": np.asarray(ids, dtype=np.int64),
                       "student": np.asarray(students, dtype=object),
                       "created": pd.to_datetime(list(created), utc=True),
                       "public": np.asarray(public, dtype=float),
                       "private": np.asarray(private, dtype=float),
                       "extra": extra})
    df["t"] = _ticks(df["created"])
    return df


def _ticks(created: pd.Series) -> np.ndarray:
    """Instants as int64 nanoseconds since the epoch (naive values are taken as UTC)."""
    c = pd.to_datetime(created, utc=True)
    return c.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]").view(np.int64)


def _when(t: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(t) // 1000)


def _key(values: np.ndarray, higher: bool) -> np.ndarray:
    return -values if higher else values


def _ranked(key: np.ndarray, t: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Row positions, best first: better score, then the earlier submission, then the lower id."""
    return np.lexsort((ids, t, key))


def _first_per_student(order: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """From rows already in rank order, each student's first (best) row, still in rank order."""
    _, first = np.unique(codes[order], return_index=True)
    return order[np.sort(first)]


def _private_candidates(df: pd.DataFrame, codes: np.ndarray, finals: dict[str, list[int]], n_fallback: int,
                        higher: bool) -> np.ndarray:
    """Boolean mask of the rows that may count on the private board.

    A student with selected finals: exactly those submissions. A student without: their `n_fallback`
    best-public submissions (ties to the earlier, then the lower id), as Kaggle does.
    """
    owner = {i: st for st, sel in finals.items() for i in sel}
    students = df["student"].to_numpy()
    chosen = (df["id"].map(owner).to_numpy() == students) if owner else np.zeros(len(df), dtype=bool)
    has_finals = df["student"].isin([st for st, sel in finals.items() if sel]).to_numpy()
    public = df["public"].to_numpy()
    rest = np.flatnonzero(~has_finals & ~np.isnan(public))
    order = rest[_ranked(_key(public[rest], higher), df["t"].to_numpy()[rest], df["id"].to_numpy()[rest])]
    order = order[np.argsort(codes[order], kind="stable")]  # grouped by student, rank order within
    c = codes[order]
    pos = np.arange(len(order))
    group_start = np.maximum.accumulate(np.where(np.r_[True, c[1:] != c[:-1]], pos, 0)) if len(order) else pos
    mask = chosen.copy()
    mask[order[pos - group_start < n_fallback]] = True
    return mask


def build(spec: AssignmentSpec, subs, finals: dict[str, list[int]], thresholds: dict[tuple[str, str], float],
          names: dict[str, str], board: str = "public", n_fallback: int = 2) -> Board:
    m = metrics.get(spec.metric.name)
    higher = m.direction == "higher"
    if isinstance(subs, pd.DataFrame):
        df = subs.reset_index(drop=True)
        if "t" not in df:
            df = df.assign(t=_ticks(df["created"]))
    else:
        df = frame(subs)
    col = board
    codes, _ = pd.factorize(df["student"])
    t, ids, score = df["t"].to_numpy(), df["id"].to_numpy(), df[col].to_numpy(dtype=float)
    eligible = ~np.isnan(score)
    if board == "private":
        eligible &= _private_candidates(df, codes, finals, n_fallback, higher)
    rows_ = np.flatnonzero(eligible)
    best = _first_per_student(rows_[_ranked(_key(score[rows_], higher), t[rows_], ids[rows_])], codes)
    entries = np.bincount(codes, minlength=codes.max() + 1 if len(codes) else 0)
    last = pd.Series(t).groupby(codes).max().to_numpy() if len(codes) else np.zeros(0, dtype=np.int64)

    students = df["student"].to_numpy()
    extra = df["extra"].to_numpy() if "extra" in df else np.full(len(df), None, dtype=object)
    rows: list[Row] = []
    for rank, i in enumerate(best.tolist(), start=1):
        sid, value, c = students[i], float(score[i]), codes[i]
        also = board_extra(extra[i], board)
        lv = levels_passed(spec, thresholds, board, value, also)
        rows.append(Row(rank, sid, names.get(sid, sid), value, int(entries[c]), _when(last[c]), int(ids[i]), lv,
                        len(lv) * spec.points.per_level_per_board, also=also))
    for level in LEVELS:
        if (level, board) in thresholds:
            th = thresholds[(level, board)]
            also = {ms.name: thresholds[(level, board, ms.name)] for ms in spec.also
                    if (level, board, ms.name) in thresholds}
            rows.append(Row(None, f"baseline:{level}", f"{level} baseline", th, 0, None, None, [], 0.0, level,
                            also=also))
    # Baselines slot in among students; a baseline sorts after students with the same score.
    rows.sort(key=lambda r: ((-r.score if higher else r.score), r.baseline is not None))
    return Board(spec.short, board, spec.metric.name, higher, rows)
