"""HW8 public format checks: run them next to your prediction.csv before you submit.

    pytest tests/public                                # checks ./prediction.csv
    GRADE_PRED=path/to/prediction.csv pytest tests/public

The ids are compared with sample_submission.csv, looked up in this order: $GRADE_SAMPLE, the folder
of the prediction file, the current folder, and the homework folder (two levels above this file).
"""

import csv
import math
import os
from collections import Counter
from pathlib import Path

import pytest

PRED = Path(os.environ.get("GRADE_PRED", "prediction.csv"))
HEADER = ["ID", "score"]


def _sample_path():
    candidates = [os.environ.get("GRADE_SAMPLE"), PRED.parent / "sample_submission.csv",
                  Path("sample_submission.csv"), Path(__file__).resolve().parents[2] / "sample_submission.csv"]
    for c in candidates:
        if c and Path(c).is_file():
            return Path(c)
    pytest.fail("sample_submission.csv not found: set GRADE_SAMPLE or put it next to your prediction.csv")


def _read(path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.reader(f))


@pytest.fixture(scope="module")
def pred():
    if not PRED.is_file():
        pytest.fail(f"{PRED} not found: write prediction.csv first, or set GRADE_PRED")
    return _read(PRED)


@pytest.fixture(scope="module")
def sample_ids():
    return [row[0] for row in _read(_sample_path())[1:]]


def test_header(pred):
    assert pred, "the file is empty"
    assert [h.strip() for h in pred[0]] == HEADER, f"header must be {','.join(HEADER)}, got {','.join(pred[0])}"


def test_two_columns_per_row(pred):
    bad = [n for n, row in enumerate(pred[1:], start=2) if len(row) != 2]
    assert not bad, f"every row needs exactly 2 fields (ID, score); lines {bad[:5]} do not"


def test_row_count(pred, sample_ids):
    assert len(pred) - 1 == len(sample_ids), \
        f"expected {len(sample_ids)} rows (one per image of testingset.npy), got {len(pred) - 1}"


def test_ids_match_the_test_set(pred, sample_ids):
    ids = [row[0].strip() for row in pred[1:] if row]
    duplicates = sorted(i for i, n in Counter(ids).items() if n > 1)
    assert not duplicates, f"duplicate IDs: {duplicates[:5]}"
    missing, extra = set(sample_ids) - set(ids), set(ids) - set(sample_ids)
    assert not missing and not extra, \
        f"IDs differ from the test set (0 … {len(sample_ids) - 1}): missing {sorted(missing)[:5]}, unknown {sorted(extra)[:5]}"


def test_scores_are_finite_numbers(pred):
    bad = []
    for n, row in enumerate(pred[1:], start=2):
        try:
            ok = math.isfinite(float(row[1]))
        except (ValueError, IndexError):
            ok = False
        if not ok:
            bad.append(n)
    assert not bad, f"score must be a finite number; lines {bad[:5]} are not"


def test_scores_are_not_all_equal(pred):
    values = {row[1].strip() for row in pred[1:] if len(row) == 2}
    assert len(values) > 1, "every image has the same score: ROC AUC needs scores that rank the images (0.5 at best)"
