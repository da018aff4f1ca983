"""HW13 public checks: run them next to your submission.csv (and student_best.ckpt) before you submit.

    pytest tests/public                        # checks ./submission.csv and ./student_best.ckpt
    GRADE_PRED=path/to/submission.csv pytest tests/public

The Ids are compared with sample_submission.csv, looked up in this order: $GRADE_SAMPLE, the folder
of the prediction file, the current folder, and the homework folder (two levels above this file).
The checkpoint is looked up next to the prediction file ($GRADE_CKPT overrides); its parameters are
counted as the graders count them (every tensor but BatchNorm's running statistics).
"""

import csv
import os
from collections import Counter
from pathlib import Path

import pytest

PRED = Path(os.environ.get("GRADE_PRED", "submission.csv"))
CKPT = Path(os.environ.get("GRADE_CKPT", PRED.parent / "student_best.ckpt"))
HEADER = ["Id", "Category"]
N_CLASSES = 11
PARAM_BUDGET = 25_000      # this course's ci scale (the course: 100,000)
BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


def _sample_path():
    candidates = [os.environ.get("GRADE_SAMPLE"), PRED.parent / "sample_submission.csv",
                  Path("sample_submission.csv"), Path(__file__).resolve().parents[2] / "sample_submission.csv"]
    for c in candidates:
        if c and Path(c).is_file():
            return Path(c)
    pytest.fail("sample_submission.csv not found: set GRADE_SAMPLE or put it next to your submission.csv")


def _read(path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.reader(f))


@pytest.fixture(scope="module")
def pred():
    if not PRED.is_file():
        pytest.fail(f"{PRED} not found: write submission.csv first, or set GRADE_PRED")
    return _read(PRED)


@pytest.fixture(scope="module")
def sample_ids():
    return [row[0] for row in _read(_sample_path())[1:]]


def test_header(pred):
    assert pred, "the file is empty"
    assert [h.strip() for h in pred[0]] == HEADER, f"header must be {','.join(HEADER)}, got {','.join(pred[0])}"


def test_two_columns_per_row(pred):
    bad = [n for n, row in enumerate(pred[1:], start=2) if len(row) != 2]
    assert not bad, f"every row needs exactly 2 fields (Id, Category); lines {bad[:5]} do not"


def test_row_count(pred, sample_ids):
    assert len(pred) - 1 == len(sample_ids), f"expected {len(sample_ids)} rows (one per evaluation image), got {len(pred) - 1}"


def test_ids_are_the_four_digit_evaluation_file_numbers(pred, sample_ids):
    ids = [row[0].strip() for row in pred[1:] if row]
    unpadded = [i for i in ids if i.isdigit() and len(i) < 4]
    assert not unpadded, f"Ids keep the 4-digit zero padding of the file names (0000, not 0); got {unpadded[:5]}"
    duplicates = sorted(i for i, n in Counter(ids).items() if n > 1)
    assert not duplicates, f"duplicate Ids: {duplicates[:5]}"
    missing, extra = set(sample_ids) - set(ids), set(ids) - set(sample_ids)
    assert not missing and not extra, \
        f"Ids differ from the evaluation set: missing {sorted(missing)[:5]}, unknown {sorted(extra)[:5]}"


def test_categories_are_class_indices(pred):
    bad = [n for n, row in enumerate(pred[1:], start=2)
           if len(row) < 2 or not (row[1].strip().isdigit() and int(row[1]) < N_CLASSES)]
    assert not bad, f"Category must be a class index 0-{N_CLASSES - 1}; lines {bad[:5]} are not"


def test_student_checkpoint_is_within_the_parameter_budget():
    if not CKPT.is_file():
        pytest.skip(f"no {CKPT} to count (hand it in with your notebook)")
    import torch
    state = torch.load(CKPT, map_location="cpu", weights_only=True)
    assert isinstance(state, dict), "student_best.ckpt must be a state dict (torch.save(model.state_dict(), ...))"
    total = sum(v.numel() for k, v in state.items() if hasattr(v, "numel") and not k.endswith(BUFFERS))
    assert total <= PARAM_BUDGET, f"student_best.ckpt holds {total:,} parameters, over the {PARAM_BUDGET:,} budget"
