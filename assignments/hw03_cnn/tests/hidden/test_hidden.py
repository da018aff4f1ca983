"""HW3 hidden checks — run on the HOST against the probe's plain outputs (never imported or unpickled).

The notebook's transforms and model were probed in the sandbox on photos the student never saw; here
we check what came back, that the uploaded submission.csv is complete, and that the re-executed
notebook wrote the same predictions. Files written by the sandboxed runs are read only through
grader.sandbox.artifacts.
"""

import csv
import io
import os
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox.artifacts import load_json, load_npy, read_bytes

PROBE = Path(os.environ["GRADE_PROBE"])
RUN = Path(os.environ["GRADE_ARTIFACTS"])
RELEASE = Path(os.environ["GRADE_RELEASE"])
N_PHOTOS = len(list((Path(os.environ["GRADE_HIDDEN_INPUTS"]) / "probe").glob("*.png")))
N_CLASSES = 11
HEADER = ["Id", "Category"]


def probed(name: str, step: str) -> np.ndarray:
    """A probe output, or a failure that says why the probe could not write it."""
    path = PROBE / name
    if not path.is_file():
        info = load_json(PROBE / "probe.json") if (PROBE / "probe.json").is_file() else {}
        why = info.get("errors", {}).get(step) or "; ".join(info.get("problems", [])[:3]) or "the probe did not finish"
        pytest.fail(f"{step} could not be probed: {why}")
    return load_npy(path)


def read_submission(data: bytes, what: str) -> dict[str, str]:
    """Id -> Category text of a submission file, with its format checked."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig", errors="replace"))))
    assert rows and [h.strip() for h in rows[0]] == HEADER, \
        f"{what}: the header must be {','.join(HEADER)}, got {','.join(rows[0]) if rows else 'an empty file'}"
    bad = [n for n, r in enumerate(rows[1:], start=2) if len(r) != 2]
    assert not bad, f"{what}: lines {bad[:5]} do not have 2 fields"
    return {i.strip(): c.strip() for i, c in rows[1:]}


def sample_ids() -> list[str]:
    with open(RELEASE / "sample_submission.csv", newline="") as f:
        return [r[0] for r in list(csv.reader(f))[1:]]


def uploaded() -> dict[str, str]:
    path = os.environ.get("GRADE_SUBMISSION")
    if not path or not Path(path).is_file():
        pytest.fail("no uploaded submission.csv to check")
    return read_submission(read_bytes(Path(path)), "uploaded submission.csv")


def test_uploaded_file_is_a_complete_submission():
    sub, ids = uploaded(), sample_ids()
    missing, extra = sorted(set(ids) - set(sub)), sorted(set(sub) - set(ids))
    assert not missing and not extra, f"Ids differ from the test set: missing {missing[:5]}, unknown {extra[:5]}"
    bad = [i for i, c in sub.items() if not (c.isdigit() and int(c) < N_CLASSES)]
    assert not bad, f"Category must be a class index 0-{N_CLASSES - 1}; Ids {bad[:5]} are not"


def test_notebook_reproduces_the_uploaded_predictions():
    path = RUN / "submission.csv"
    assert path.is_file(), "the re-executed notebook wrote no submission.csv"
    rerun, sub = read_submission(read_bytes(path), "re-executed submission.csv"), uploaded()
    differ = sorted(i for i in sub if rerun.get(i) != sub[i])
    assert not differ, (f"{len(differ)} of {len(sub)} predictions differ from the re-executed notebook's, e.g. "
                        + ", ".join(f"Id {i}: uploaded {sub[i]}, re-run {rerun.get(i)}" for i in differ[:3]))


def test_transforms_return_image_tensors():
    x, views = probed("test_x.npy", "test_tfm"), probed("train_views.npy", "train_tfm")
    assert x.ndim == 4 and x.shape[0] == N_PHOTOS and x.shape[1] == 3, \
        f"test_tfm must return a [3, H, W] tensor per photo; {N_PHOTOS} photos gave {x.shape}"
    assert views.shape[1:] == x.shape[1:], \
        f"train_tfm gives {views.shape[1:]} but test_tfm {x.shape[1:]}: the model must get one image size"
    assert np.isfinite(x).all() and np.isfinite(views).all(), "the transforms returned NaN or infinite values"


def test_test_tfm_is_deterministic():
    a, b = probed("test_x.npy", "test_tfm"), probed("test_x_2.npy", "test_tfm")
    assert a.shape == b.shape and np.array_equal(a, b), \
        "test_tfm gave different tensors for the same photo: keep augmentation out of test_tfm"


def test_classifier_gives_11_logits_per_image():
    logits = probed("logits.npy", "Classifier")
    assert logits.shape == (N_PHOTOS, N_CLASSES), \
        f"Classifier()(batch) must give ({N_PHOTOS}, {N_CLASSES}) logits for {N_PHOTOS} photos, got {logits.shape}"
    assert np.isfinite(logits).all(), "Classifier gave NaN or infinite logits"


def test_train_tfm_gives_five_distinct_outputs():
    """The course's report question Q1: train_tfm produces 5+ different results from one image."""
    views = probed("train_views.npy", "train_tfm")
    distinct = len(np.unique(views.reshape(len(views), -1).round(4), axis=0))
    assert distinct >= 5, f"train_tfm gave {distinct} distinct result(s) in {len(views)} calls on one photo; Q1 asks for 5+"
