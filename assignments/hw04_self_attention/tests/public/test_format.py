"""HW4 public format checks: run them next to your output.csv before you submit.

    pytest tests/public                          # checks ./output.csv
    GRADE_PRED=path/to/output.csv pytest tests/public

The test ids come from sample_submission.csv and the speaker names from Dataset/mapping.json, looked up
in this order: $GRADE_SAMPLE / $GRADE_MAPPING, the folder of the prediction file, the current folder, and
the homework folder (two levels above this file).
"""

import csv
import json
import os
from collections import Counter
from pathlib import Path

import pytest

PRED = Path(os.environ.get("GRADE_PRED", "output.csv"))
HEADER = ["Id", "Category"]


def _find(env: str, *relative: str) -> Path:
    candidates = [os.environ.get(env)] + [base / rel for base in (PRED.parent, Path("."), Path(__file__).resolve().parents[2])
                                          for rel in relative]
    for c in candidates:
        if c and Path(c).is_file():
            return Path(c)
    pytest.fail(f"{relative[0]} not found: set {env} or run next to the homework folder")


def _read(path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.reader(f))


@pytest.fixture(scope="module")
def pred():
    if not PRED.is_file():
        pytest.fail(f"{PRED} not found: write output.csv first, or set GRADE_PRED")
    return _read(PRED)


@pytest.fixture(scope="module")
def test_ids():
    return [row[0] for row in _read(_find("GRADE_SAMPLE", "sample_submission.csv"))[1:]]


@pytest.fixture(scope="module")
def speakers():
    path = _find("GRADE_MAPPING", "Dataset/mapping.json", "mapping.json")
    return set(json.loads(path.read_text())["speaker2id"])


def test_header(pred):
    assert pred, "the file is empty"
    assert [h.strip() for h in pred[0]] == HEADER, f"header must be {','.join(HEADER)}, got {','.join(pred[0])}"


def test_two_columns_per_row(pred):
    bad = [n for n, row in enumerate(pred[1:], start=2) if len(row) != 2]
    assert not bad, f"every row needs exactly 2 fields (Id, Category); lines {bad[:5]} do not"


def test_row_count(pred, test_ids):
    assert len(pred) - 1 == len(test_ids), f"expected {len(test_ids)} rows (one per test utterance), got {len(pred) - 1}"


def test_ids_are_the_test_feature_files(pred, test_ids):
    ids = [row[0].strip() for row in pred[1:] if row]
    duplicates = sorted(i for i, n in Counter(ids).items() if n > 1)
    assert not duplicates, f"duplicate ids: {duplicates[:5]}"
    missing, extra = set(test_ids) - set(ids), set(ids) - set(test_ids)
    assert not missing and not extra, (
        f"ids must be the feature_path values of testdata.json (uttr-….pt): "
        f"missing {sorted(missing)[:3]}, unknown {sorted(extra)[:3]}")


def test_categories_are_speaker_names(pred, speakers):
    bad = [(n, row[1]) for n, row in enumerate(pred[1:], start=2) if len(row) == 2 and row[1].strip() not in speakers]
    assert not bad, (
        f"{len(bad)} row(s) with an unknown speaker: Category must be a speaker name of mapping.json (a "
        "speaker2id key such as id00012, not a class number): " + ", ".join(f"line {n}: {v!r}" for n, v in bad[:5]))
