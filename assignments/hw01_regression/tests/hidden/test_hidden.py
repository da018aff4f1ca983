"""HW1 hidden checks — run on the HOST against the probe's plain outputs (never imported or unpickled).

The notebook's model class and feature selection were probed in the sandbox on hidden rows; here we
check shapes, determinism, and that the probed model is the one behind the uploaded pred.csv.
"""

import csv
import os
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox.artifacts import load_json, load_npy, load_state_dict

PROBE = Path(os.environ["GRADE_PROBE"])
RUN = Path(os.environ["GRADE_ARTIFACTS"])
N_HIDDEN = sum(1 for _ in open(Path(os.environ["GRADE_HIDDEN_INPUTS"]) / "probe.csv")) - 1


def test_feature_selection_keeps_every_row():
    x = load_npy(PROBE / "feat_x.npy")
    assert x.ndim == 2 and x.shape[0] == N_HIDDEN, f"select_feat returned {x.shape} for {N_HIDDEN} rows"
    assert 1 <= x.shape[1] <= 117


def test_model_input_matches_selected_features():
    ckpts = [p for p in RUN.rglob("*.ckpt")]
    assert ckpts, "the notebook saved no model checkpoint (config['save_path'])"
    state = load_state_dict(ckpts[0])
    first = next(v for k, v in state.items() if k.endswith("weight"))
    assert first.shape[1] == load_npy(PROBE / "feat_x.npy").shape[1]


def test_predictions_are_finite_one_per_row():
    p = load_npy(PROBE / "hidden_pred.npy")
    assert p.shape == (N_HIDDEN,) and np.isfinite(p).all()


def test_model_is_deterministic():
    np.testing.assert_array_equal(load_npy(PROBE / "hidden_pred.npy"), load_npy(PROBE / "hidden_pred_2.npy"))


def test_probed_model_made_the_uploaded_predictions():
    path = os.environ.get("GRADE_SUBMISSION")
    if not path:
        pytest.skip("no uploaded pred.csv to compare with")
    with open(path, newline="") as f:
        rows = sorted((int(i), float(v)) for i, v in list(csv.reader(f))[1:])
    uploaded = np.array([v for _, v in rows])
    probed = load_npy(PROBE / "test_pred.npy")
    assert probed.shape == uploaded.shape
    np.testing.assert_allclose(probed, uploaded, atol=1e-3, rtol=1e-4,
                               err_msg="the notebook's saved model does not produce the uploaded pred.csv")
