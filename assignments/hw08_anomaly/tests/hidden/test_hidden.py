"""HW8 hidden checks — run on the HOST against the probe's plain outputs (never imported or unpickled).

The notebook's `anomaly_score` and model were probed in the sandbox on images the student never saw,
half normal faces and half planted anomalies of plain kinds; which is which is only here, in the
hidden folder (probe_labels.npy). We check what came back, that the planted anomalies score higher than the normal
faces (better than chance by a clear statistical margin), and that the probed model and function are
the ones behind the uploaded prediction.csv.
"""

import csv
import io
import math
import os
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox.artifacts import load_json, load_npy, read_bytes

PROBE = Path(os.environ["GRADE_PROBE"])
HIDDEN = Path(os.environ["GRADE_HIDDEN"])
LABELS = np.load(HIDDEN / "probe_labels.npy", allow_pickle=False)    # 1 = planted anomaly
HEADER = ["ID", "score"]
# How far above chance the hidden images' AUC must be: this many standard errors of the AUC of a
# score that knows nothing (the Mann-Whitney null: sqrt((n0 + n1 + 1) / (12 n0 n1))). With 500 + 500
# hidden images that is about 0.555. The planted anomalies are of the plainest kinds (pieces of two
# faces, other objects, swapped colour channels): the sample code's autoencoder ranks them well above it.
Z = 3.0


def probed(name: str, step: str) -> np.ndarray:
    """A probe output, or a failure that says why the probe could not write it."""
    path = PROBE / name
    if not path.is_file():
        info = load_json(PROBE / "probe.json") if (PROBE / "probe.json").is_file() else {}
        errs = info.get("errors", {})
        why = errs.get(step) or errs.get("model") or "; ".join(info.get("problems", [])[:3]) or "the probe did not finish"
        pytest.fail(f"{step} could not be probed: {why}")
    return load_npy(path)


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score
    return float(roc_auc_score(labels, scores))


def test_model_reconstructs_its_input():
    x, y = probed("forward_in.npy", "forward"), probed("forward_out.npy", "forward")
    assert y.shape[0] == x.shape[0] and y[0].size == x[0].size, \
        f"the model's forward gives {y.shape} for an input of {x.shape}: an autoencoder reconstructs its input"
    assert np.isfinite(y).all(), "the model's forward gave NaN or infinite values"


def test_anomaly_scores_are_finite_one_per_image():
    s = probed("probe_scores.npy", "anomaly_score")
    assert s.shape == LABELS.shape, f"anomaly_score gave {s.shape} scores for {len(LABELS)} images"
    assert np.isfinite(s).all(), f"{int((~np.isfinite(s)).sum())} anomaly scores are NaN or infinite"


def test_anomaly_score_is_deterministic():
    a, b = probed("probe_scores.npy", "anomaly_score"), probed("probe_scores_2.npy", "anomaly_score")
    assert a.shape == b.shape and np.allclose(a, b, rtol=1e-6, atol=1e-9), \
        ("anomaly_score gave different scores for the same images: a score must be a function of the image "
         "(evaluation mode, no random noise at test time)")


def test_planted_anomalies_score_higher_than_normal_faces():
    s = probed("probe_scores.npy", "anomaly_score")
    assert s.shape == LABELS.shape and np.isfinite(s).all(), "no usable anomaly scores (see the other checks)"
    n1, n0 = int(LABELS.sum()), int((1 - LABELS).sum())
    floor = 0.5 + Z * math.sqrt((n0 + n1 + 1) / (12 * n0 * n1))
    got = auc(LABELS, s)
    assert got >= floor, (f"on {n0} normal faces and {n1} planted anomalies the hidden images' ROC AUC is "
                          f"{got:.3f}, not clearly above chance (needs {floor:.3f}): anomalies must get higher scores")


def _uploaded() -> np.ndarray:
    path = os.environ.get("GRADE_SUBMISSION")
    if not path or not Path(path).is_file():
        pytest.fail("no uploaded prediction.csv to compare with")
    rows = list(csv.reader(io.StringIO(read_bytes(Path(path)).decode("utf-8-sig", errors="replace"))))
    assert rows and [h.strip() for h in rows[0]] == HEADER, "the uploaded file's header is not ID,score"
    try:
        pairs = sorted((int(i), float(v)) for i, v in rows[1:])
    except ValueError as e:
        pytest.fail(f"the uploaded prediction.csv is not ID,score numbers: {e}")
    return np.array([v for _, v in pairs])


def test_probed_model_made_the_uploaded_predictions():
    probed_scores, uploaded = probed("test_scores.npy", "test"), _uploaded()
    assert probed_scores.shape == uploaded.shape, \
        f"the probed anomaly_score gave {probed_scores.shape} scores, the upload has {uploaded.shape}"
    far = np.abs(probed_scores - uploaded) > 1e-3 + 1e-4 * np.abs(uploaded)
    assert not far.any(), (f"{int(far.sum())} of {len(far)} uploaded scores differ from what the notebook's saved "
                           f"model and anomaly_score give, e.g. ID {int(np.flatnonzero(far)[0])}: uploaded "
                           f"{uploaded[far][0]:.6g}, probed {probed_scores[far][0]:.6g}")
