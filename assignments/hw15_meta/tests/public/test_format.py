"""HW15 public format checks: run them next to your output.csv before you submit.

    pytest tests/public                             # checks ./output.csv
    GRADE_PRED=path/to/output.csv pytest tests/public

The ids are compared with sample_submission.csv, looked up in this order: $GRADE_SAMPLE, the folder
of the prediction file, the current folder, and the homework folder (two levels above this file).
"""

import csv
import os
from collections import Counter
from pathlib import Path

import pytest

PRED = Path(os.environ.get("GRADE_PRED", "output.csv"))
HEADER = ["id", "class"]
N_CLASSES = 5  # 5-way: the class of a query is the index of its support image


def _sample_path():
    candidates = [os.environ.get("GRADE_SAMPLE"), PRED.parent / "sample_submission.csv",
                  Path("sample_submission.csv"), Path(__file__).resolve().parents[2] / "sample_submission.csv"]
    for c in candidates:
        if c and Path(c).is_file():
            return Path(c)
    pytest.fail("sample_submission.csv not found: set GRADE_SAMPLE or put it next to your output.csv")


def _read(path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.reader(f))


@pytest.fixture(scope="module")
def pred():
    if not PRED.is_file():
        pytest.fail(f"{PRED} not found: write output.csv first, or set GRADE_PRED")
    return _read(PRED)


@pytest.fixture(scope="module")
def sample_ids():
    return [row[0] for row in _read(_sample_path())[1:]]


def test_header(pred):
    assert pred, "the file is empty"
    assert [h.strip() for h in pred[0]] == HEADER, f"header must be {','.join(HEADER)}, got {','.join(pred[0])}"


def test_two_columns_per_row(pred):
    bad = [n for n, row in enumerate(pred[1:], start=2) if len(row) != 2]
    assert not bad, f"every row needs exactly 2 fields (id, class); lines {bad[:5]} do not"


def test_row_count(pred, sample_ids):
    assert len(pred) - 1 == len(sample_ids), f"expected {len(sample_ids)} rows (one per query image: 5 per task), got {len(pred) - 1}"


def test_ids_are_the_test_image_positions(pred, sample_ids):
    ids = [row[0].strip() for row in pred[1:] if row]
    duplicates = sorted(i for i, n in Counter(ids).items() if n > 1)
    assert not duplicates, f"duplicate ids: {duplicates[:5]}"
    missing, extra = set(sample_ids) - set(ids), set(ids) - set(sample_ids)
    assert not missing and not extra, \
        f"ids differ from the test set (0 .. {len(sample_ids) - 1}): missing {sorted(missing)[:5]}, unknown {sorted(extra)[:5]}"


def test_classes_are_support_indices(pred):
    bad = [n for n, row in enumerate(pred[1:], start=2)
           if len(row) < 2 or not (row[1].strip().isdigit() and int(row[1]) < N_CLASSES)]
    assert not bad, f"class must be a support index 0-{N_CLASSES - 1}; lines {bad[:5]} are not"
