"""Benchmark checks on the host: the probed predict gives one value per row; the upload was reproduced."""
import os
from pathlib import Path

import numpy as np

from grader.sandbox.artifacts import load_npy

PROBE = Path(os.environ["GRADE_PROBE"])
RUN = Path(os.environ["GRADE_ARTIFACTS"])


def test_predict_has_one_value_per_row():
    p = load_npy(PROBE / "pred.npy")
    assert p.shape == (50,) and np.isfinite(p).all()


def test_uploaded_file_reproduced():
    up = Path(os.environ.get("GRADE_SUBMISSION", ""))
    assert up.is_file() and (RUN / "pred.csv").is_file()
    a = np.loadtxt(up, delimiter=",", skiprows=1)
    b = np.loadtxt(RUN / "pred.csv", delimiter=",", skiprows=1)
    assert a.shape == b.shape and np.allclose(a, b, atol=1e-4)
