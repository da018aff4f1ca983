"""HW2 public format checks: run them next to your prediction.csv before you submit.

    pytest tests/public                              # checks ./prediction.csv
    GRADE_PRED=path/to/prediction.csv pytest tests/public

The ids are compared with sample_submission.csv, looked up in this order: $GRADE_SAMPLE, the folder
of the prediction file, the current folder, and the homework folder (two levels above this file).
The frame count is also checked against the test features when libriphone/ is found next to it.
"""

import csv
import os
from collections import Counter
from pathlib import Path

import pytest

PRED = Path(os.environ.get("GRADE_PRED", "prediction.csv"))
HEADER = ["Id", "Class"]
N_CLASSES = 41


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
    assert not bad, f"every row needs exactly 2 fields (Id, Class); lines {bad[:5]} do not"


def test_one_row_per_test_frame(pred, sample_ids):
    assert len(pred) - 1 == len(sample_ids), \
        f"expected {len(sample_ids)} rows (one per test frame), got {len(pred) - 1}: did a frame get dropped?"


def test_ids_match_the_test_frames(pred, sample_ids):
    ids = [row[0].strip() for row in pred[1:] if row]
    duplicates = sorted(i for i, n in Counter(ids).items() if n > 1)
    assert not duplicates, f"duplicate ids: {duplicates[:5]}"
    missing, extra = set(sample_ids) - set(ids), set(ids) - set(sample_ids)
    assert not missing and not extra, \
        f"ids differ from the test frames: missing {sorted(missing)[:5]}, unknown {sorted(extra)[:5]}"


def test_classes_are_phoneme_ids(pred):
    bad = []
    for n, row in enumerate(pred[1:], start=2):
        try:
            ok = 0 <= int(row[1]) < N_CLASSES
        except (ValueError, IndexError):
            ok = False
        if not ok:
            bad.append(n)
    assert not bad, f"Class must be an integer 0..{N_CLASSES - 1}; lines {bad[:5]} are not"


def test_frame_count_matches_the_test_features(sample_ids):
    """One row per frame of the utterances in libriphone/test_split.txt (when the data is at hand)."""
    root = next((d for d in (PRED.parent, Path("."), Path(__file__).resolve().parents[2])
                 if (d / "libriphone" / "test_split.txt").is_file()), None)
    if root is None:
        pytest.skip("libriphone/ not found next to the prediction file")
    torch = pytest.importorskip("torch")
    split = (root / "libriphone" / "test_split.txt").read_text().split()
    frames = sum(len(torch.load(root / "libriphone" / "feat" / "test" / f"{u}.pt")) for u in split)
    assert frames == len(sample_ids), f"the test utterances have {frames} frames, sample_submission.csv {len(sample_ids)}"
