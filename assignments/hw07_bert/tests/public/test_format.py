"""HW7 public format checks: run them next to your result.csv before you submit.

    pytest tests/public                          # checks ./result.csv
    GRADE_PRED=path/to/result.csv pytest tests/public

The ids are compared with sample_submission.csv, looked up in this order: $GRADE_SAMPLE, the folder
of the prediction file, the current folder, and the homework folder (two levels above this file).
"""

import csv
import os
from collections import Counter
from pathlib import Path

import pytest

PRED = Path(os.environ.get("GRADE_PRED", "result.csv"))
HEADER = ["ID", "Answer"]


def _sample_path():
    candidates = [os.environ.get("GRADE_SAMPLE"), PRED.parent / "sample_submission.csv",
                  Path("sample_submission.csv"), Path(__file__).resolve().parents[2] / "sample_submission.csv"]
    for c in candidates:
        if c and Path(c).is_file():
            return Path(c)
    pytest.fail("sample_submission.csv not found: set GRADE_SAMPLE or put it next to your result.csv")


def _read(path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.reader(f))


@pytest.fixture(scope="module")
def pred():
    if not PRED.is_file():
        pytest.fail(f"{PRED} not found: write result.csv first, or set GRADE_PRED")
    try:
        return _read(PRED)
    except UnicodeDecodeError as e:
        pytest.fail(f"{PRED} is not UTF-8 ({e}): write it with encoding='utf-8'")


@pytest.fixture(scope="module")
def sample_ids():
    return [row[0] for row in _read(_sample_path())[1:]]


def test_header(pred):
    assert pred, "the file is empty"
    assert pred[0] == HEADER, f"header must be {','.join(HEADER)}, got {','.join(pred[0])}"


def test_two_fields_per_row(pred):
    bad = [n for n, row in enumerate(pred[1:], start=2) if len(row) != 2]
    assert not bad, (f"every row needs exactly 2 fields (ID, Answer); lines {bad[:5]} do not. Remove the "
                     "commas from your answers, as the sample code does (answer.replace(',', ''))")


def test_row_count(pred, sample_ids):
    assert len(pred) - 1 == len(sample_ids), f"expected {len(sample_ids)} rows (one per test question), got {len(pred) - 1}"


def test_ids_match_the_test_set(pred, sample_ids):
    ids = [row[0].strip() for row in pred[1:] if row]
    duplicates = sorted(i for i, n in Counter(ids).items() if n > 1)
    assert not duplicates, f"duplicate ids: {duplicates[:5]}"
    missing, extra = set(sample_ids) - set(ids), set(ids) - set(sample_ids)
    assert not missing and not extra, \
        f"ids differ from the test set: missing {sorted(missing)[:5]}, unknown {sorted(extra)[:5]}"


def test_answers_have_no_commas(pred):
    bad = [n for n, row in enumerate(pred[1:], start=2) if len(row) == 2 and "," in row[1]]
    assert not bad, (f"answers are compared with their commas removed (12,500 -> 12500), as the course did; "
                     f"lines {bad[:5]} still have commas")


def test_some_answers_are_not_empty(pred):
    empty = sum(1 for row in pred[1:] if len(row) == 2 and not row[1].strip())
    assert empty < len(pred) - 1, "every answer is empty: an empty answer is never right"
