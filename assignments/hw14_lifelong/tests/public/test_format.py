"""HW14 public format checks: run them next to your pred.csv before you submit.

    pytest tests/public                        # checks ./pred.csv
    GRADE_PRED=path/to/pred.csv pytest tests/public

pred.csv has one row per test image per task: id = task * n_test + i (task 0..4 = 0°..80°), label
0..9. The ids are compared with sample_submission.csv, looked up in this order: $GRADE_SAMPLE, the
folder of the prediction file, the current folder, and the homework folder (two levels above this file).
"""

import csv
import os
from collections import Counter
from pathlib import Path

import pytest

PRED = Path(os.environ.get("GRADE_PRED", "pred.csv"))
HEADER = ["id", "label"]


def _sample_path():
    candidates = [os.environ.get("GRADE_SAMPLE"), PRED.parent / "sample_submission.csv",
                  Path("sample_submission.csv"), Path(__file__).resolve().parents[2] / "sample_submission.csv"]
    for c in candidates:
        if c and Path(c).is_file():
            return Path(c)
    pytest.fail("sample_submission.csv not found: set GRADE_SAMPLE or put it next to your pred.csv")


def _read(path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.reader(f))


@pytest.fixture(scope="module")
def pred():
    if not PRED.is_file():
        pytest.fail(f"{PRED} not found: write pred.csv first, or set GRADE_PRED")
    return _read(PRED)


@pytest.fixture(scope="module")
def sample_ids():
    return [row[0] for row in _read(_sample_path())[1:]]


def test_header(pred):
    assert pred, "the file is empty"
    assert [h.strip() for h in pred[0]] == HEADER, f"header must be {','.join(HEADER)}, got {','.join(pred[0])}"


def test_two_columns_per_row(pred):
    bad = [n for n, row in enumerate(pred[1:], start=2) if len(row) != 2]
    assert not bad, f"every row needs exactly 2 fields (id, label); lines {bad[:5]} do not"


def test_row_count(pred, sample_ids):
    assert len(pred) - 1 == len(sample_ids), \
        f"expected {len(sample_ids)} rows (5 tasks x {len(sample_ids) // 5} test images), got {len(pred) - 1}"


def test_ids_match_the_test_set(pred, sample_ids):
    ids = [row[0].strip() for row in pred[1:] if row]
    duplicates = sorted(i for i, n in Counter(ids).items() if n > 1)
    assert not duplicates, f"duplicate ids: {duplicates[:5]}"
    missing, extra = set(sample_ids) - set(ids), set(ids) - set(sample_ids)
    assert not missing and not extra, \
        f"ids differ from the test set: missing {sorted(missing)[:5]}, unknown {sorted(extra)[:5]}"


def test_labels_are_digits(pred):
    bad = [n for n, row in enumerate(pred[1:], start=2) if len(row) < 2 or row[1].strip() not in set("0123456789")]
    assert not bad, f"label must be a digit 0-9; lines {bad[:5]} are not"
