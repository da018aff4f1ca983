"""HW11 hidden checks — run on the HOST against the probe's plain outputs (never imported or unpickled).

The notebook's gradient-reversal layer and networks were probed in the sandbox on tensors and drawings
the student never saw; here we check what came back against what a gradient-reversal layer must do
(forward: the identity; backward: -lambda times the upstream gradient), that the uploaded
DaNN_submission.csv is complete, and that the re-executed notebook wrote the same predictions. Files
written by the sandboxed runs are read only through grader.sandbox.artifacts.
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
INPUTS = Path(os.environ["GRADE_HIDDEN_INPUTS"])
N_CLASSES = 10
HEADER = ["id", "label"]


def probed(name: str, step: str) -> np.ndarray:
    """A probe output, or a failure that says why the probe could not write it."""
    path = PROBE / name
    if not path.is_file():
        info = load_json(PROBE / "probe.json") if (PROBE / "probe.json").is_file() else {}
        why = info.get("errors", {}).get(step) or "; ".join(info.get("problems", [])[:3]) or "the probe did not finish"
        pytest.fail(f"{step} could not be probed: {why}")
    return load_npy(path)


def read_submission(data: bytes, what: str) -> dict[str, str]:
    """id -> label text of a submission file, with its format checked."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig", errors="replace"))))
    assert rows and [h.strip() for h in rows[0]] == HEADER, \
        f"{what}: the header must be {','.join(HEADER)}, got {','.join(rows[0]) if rows else 'an empty file'}"
    bad = [n for n, r in enumerate(rows[1:], start=2) if len(r) != 2]
    assert not bad, f"{what}: lines {bad[:5]} do not have 2 fields"
    return {i.strip(): c.strip() for i, c in rows[1:]}


def uploaded() -> dict[str, str]:
    path = os.environ.get("GRADE_SUBMISSION")
    if not path or not Path(path).is_file():
        pytest.fail("no uploaded DaNN_submission.csv to check")
    return read_submission(read_bytes(Path(path)), "uploaded DaNN_submission.csv")


def test_uploaded_file_is_a_complete_submission():
    sub = uploaded()
    with open(RELEASE / "sample_submission.csv", newline="") as f:
        ids = [r[0] for r in list(csv.reader(f))[1:]]
    missing, extra = sorted(set(ids) - set(sub)), sorted(set(sub) - set(ids))
    assert not missing and not extra, f"ids differ from the test set: missing {missing[:5]}, unknown {extra[:5]}"
    bad = [i for i, c in sub.items() if not (c.isdigit() and int(c) < N_CLASSES)]
    assert not bad, f"label must be a class index 0-{N_CLASSES - 1}; ids {bad[:5]} are not"


def test_notebook_reproduces_the_uploaded_predictions():
    path = RUN / "DaNN_submission.csv"
    assert path.is_file(), "the re-executed notebook wrote no DaNN_submission.csv"
    rerun, sub = read_submission(read_bytes(path), "re-executed DaNN_submission.csv"), uploaded()
    differ = sorted((i for i in sub if rerun.get(i) != sub[i]), key=lambda i: (len(i), i))
    assert not differ, (f"{len(differ)} of {len(sub)} predictions differ from the re-executed notebook's, e.g. "
                        + ", ".join(f"id {i}: uploaded {sub[i]}, re-run {rerun.get(i)}" for i in differ[:3]))


def test_grad_reverse_forward_is_the_identity():
    x = np.load(INPUTS / "grl_x.npy")
    y = probed("grl_forward.npy", "grad_reverse")
    assert y.shape == x.shape, f"grad_reverse(x, lamb) must keep x's shape {x.shape[1:]}, got {y.shape[1:]}"
    err = float(np.abs(y - x).max())
    assert err <= 1e-6, f"grad_reverse(x, lamb) must return x unchanged in the forward pass; it differs by up to {err:.3g}"


def test_grad_reverse_backward_is_minus_lambda_times_the_gradient():
    g, lambdas = np.load(INPUTS / "grl_grad.npy"), np.load(INPUTS / "grl_lambda.npy")
    got = probed("grl_backward.npy", "grad_reverse")
    want = -lambdas[:, None, None] * g
    assert got.shape == want.shape, f"the gradient of x must have x's shape {want.shape[1:]}, got {got.shape[1:]}"
    for k, lamb in enumerate(lambdas):
        scale = float((got[k] * g[k]).sum() / (g[k] * g[k]).sum())     # what the layer multiplied by
        err = float(np.abs(got[k] - want[k]).max())
        assert err <= 1e-5 * max(1.0, float(np.abs(want[k]).max())), \
            (f"backward through grad_reverse(x, lamb={lamb:g}) must give -lamb * grad = {-lamb:g} * grad; "
             f"the gradient that came back is {scale:.4g} * grad (off by up to {err:.3g})")


def test_models_give_features_class_logits_and_a_domain_logit():
    n = len(np.load(INPUTS / "probe_images.npy"))
    h = probed("features.npy", "models")
    c, d = probed("class_logits.npy", "models"), probed("domain_logits.npy", "models")
    assert h.ndim == 2 and h.shape[0] == n, f"FeatureExtractor must give one feature vector per image: ({n}, D), got {h.shape}"
    assert c.shape == (n, N_CLASSES), f"LabelPredictor must give ({n}, {N_CLASSES}) class logits, got {c.shape}"
    assert d.shape in ((n, 1), (n,)), f"DomainClassifier must give one domain logit per image ({n}, 1), got {d.shape}"
    assert np.isfinite(h).all() and np.isfinite(c).all() and np.isfinite(d).all(), "the networks gave NaN or infinite values"
