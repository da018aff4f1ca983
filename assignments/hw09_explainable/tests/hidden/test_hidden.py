"""HW9 hidden checks — run on the HOST against the probe's plain outputs (never imported or unpickled).

The probe ran the notebook's own methods on hidden photos; each check compares one method with the
course's implementation (reference maps computed at prepare time, in the hidden folder). Saliency maps,
Integrated Gradients and the distances are deterministic and must agree to float precision. SmoothGrad
is random: it must agree with the course's map computed with the same seed, or — noise drawn another
way — correlate with it as closely as two seeds of the course's own code do (>= 0.95 per photo; two
seeds give 0.97-0.99, 10 noisy copies instead of 100 ~0.93, a wrong noise level ~0.75).
"""

import os
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox.artifacts import load_json, load_npy

PROBE = Path(os.environ["GRADE_PROBE"])
HIDDEN = Path(os.environ["GRADE_HIDDEN"])


def probed(name: str) -> np.ndarray:
    path = PROBE / f"{name}.npy"
    if not path.is_file():
        why = load_json(PROBE / "probe.json").get("failed", {}).get(name) if (PROBE / "probe.json").is_file() else None
        pytest.fail(f"the probe got no result from the notebook's method: {why or 'it was not defined'}")
    v = load_npy(path)
    assert np.isfinite(v).all(), f"{name}: the method returned NaN or infinite values"
    return v


def reference(name: str) -> np.ndarray:
    return load_npy(HIDDEN / f"ref_{name}.npy").astype(np.float64)


def test_saliency_maps_match_the_course():
    got, want = probed("saliency"), reference("saliency")
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-4, err_msg="compute_saliency_maps differs from the course's "
                               "(max |gradient of the loss| over the channels, min-max normalised per image)")


def test_smooth_grad_matches_the_course():
    got, want = probed("smooth"), reference("smooth")
    assert got.shape == want.shape
    if np.allclose(got, want, atol=1e-4):
        return
    assert got.min() >= -1e-6 and got.max() <= 1 + 1e-6, "smooth_grad's result is not normalized to [0, 1]"
    corr = np.array([np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(got, want)])
    assert np.isfinite(corr).all() and corr.min() >= 0.95, (
        f"smooth_grad correlates with the course's SmoothGrad only {np.nan_to_num(corr).round(3).tolist()} per photo")


def test_integrated_gradients_match_the_course():
    got, want = probed("ig"), reference("ig")
    assert got.shape == want.shape
    scale = np.abs(want).max(axis=(1, 2, 3), keepdims=True)
    worst = float((np.abs(got - want) / scale).max())
    assert worst <= 1e-3, f"generate_integrated_gradients differs from the course's by up to {worst:.3g} of the map's scale"


def test_euclidean_distance():
    got, want = probed("distances")[:, 0], reference("dist")[:, 0]
    np.testing.assert_allclose(got, want, rtol=1e-4, err_msg="euclidean_distance is not the L2 norm of a - b")


def test_cosine_similarity():
    got, want = probed("distances")[:, 1], reference("dist")[:, 1]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6, err_msg="cosine_similarity is not a.b / (|a| |b|)")
