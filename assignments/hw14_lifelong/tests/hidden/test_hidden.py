"""HW14 hidden checks — run on the HOST against the probe's plain outputs (never imported or unpickled).

The notebook's `ewc`, `mas` and `si` were called in the sandbox on a hidden model and batch; here
their importances are compared with the course formulas' values on the same inputs, which data.py
computed and kept in the hidden folder (probe_reference.npz). The last check runs the model the
notebook saved on the test images and compares with the uploaded pred.csv.
"""

import csv
import os
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox.artifacts import load_json, load_npy

PROBE = Path(os.environ["GRADE_PROBE"])
HIDDEN = Path(os.environ["GRADE_HIDDEN"])
REF = np.load(HIDDEN / "probe_reference.npz", allow_pickle=False)


def probed(name):
    path = PROBE / name
    if not path.is_file():
        problems = load_json(PROBE / "probe.json").get("problems", []) if (PROBE / "probe.json").is_file() else []
        pytest.fail(f"the probe wrote no {name}; problems: {problems[-3:] or 'none recorded'}")
    return load_npy(path)


def close(got, want, what):
    got = np.asarray(got, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    assert np.isfinite(got).all(), f"{what}: not finite"
    scale = float(np.abs(want).max())
    bad = ~np.isclose(got, want, rtol=2e-3, atol=1e-5 * scale)
    assert not bad.any(), (f"{what}: {int(bad.sum())} of {bad.size} values differ from the course formula's, "
                           f"e.g. {got[bad][0]:.6g} instead of {want[bad][0]:.6g}")


def test_ewc_fisher_matches_the_course_formula():
    close(probed("ewc_sums.npy"), REF["fisher_sums"], "EWC Fisher, summed per parameter tensor")
    close(probed("ewc_sample.npy"), REF["fisher"], "EWC Fisher at the hidden indices")


def test_ewc_penalty_is_the_fisher_weighted_squared_distance():
    close(probed("ewc_penalty.npy"), REF["penalty"], "ewc.penalty(moved model)")


def test_mas_omega_matches_the_course_formula():
    close(probed("mas_sums.npy"), REF["omega_sums"], "MAS Omega, summed per parameter tensor")
    close(probed("mas_sample.npy"), REF["omega"], "MAS Omega at the hidden indices")


def test_si_omega_matches_the_course_formula():
    close(probed("si_sums.npy"), REF["si_sums"], "SI omega, summed per parameter tensor")
    close(probed("si_sample.npy"), REF["si"], "SI omega at the hidden indices")


def test_saved_model_made_the_uploaded_predictions():
    path = os.environ.get("GRADE_SUBMISSION")
    if not path:
        pytest.skip("no uploaded pred.csv to compare with")
    with open(path, newline="") as f:
        rows = sorted((int(i), int(v)) for i, v in list(csv.reader(f))[1:])
    uploaded = np.array([v for _, v in rows])
    probed_labels = probed("test_pred.npy")
    assert probed_labels.shape == uploaded.shape, \
        f"the saved model labelled {probed_labels.shape[0]} test images, pred.csv has {uploaded.shape[0]} rows"
    differ = np.flatnonzero(probed_labels != uploaded)
    assert differ.size == 0, (f"model.ckpt does not produce the uploaded pred.csv: {differ.size} labels differ "
                              f"(ids {differ[:5].tolist()})")
