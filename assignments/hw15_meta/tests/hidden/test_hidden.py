"""HW15 hidden checks — run on the HOST against the probe's plain outputs (never imported or unpickled).

The notebook's solver was probed in the sandbox on a hidden task with a hidden inner learning rate;
here the recorded parameters are checked against the SGD update the host computes itself (the
sample's network, written out below, on the recorded initial weights), the predicted labels are
checked for form, the uploaded output.csv for completeness, and the re-executed notebook must have
written the same predictions. Files written by the sandboxed runs are read only through
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
INPUTS = Path(os.environ["GRADE_HIDDEN_INPUTS"])
N_WAY = 5
HEADER = ["id", "class"]
# the sample's Classifier: four conv blocks (conv, batch norm) and a linear layer
PARAMS = [f"conv{b}.{layer}.{kind}" for b in (1, 2, 3, 4) for layer in (0, 1) for kind in ("weight", "bias")] \
    + ["logits.weight", "logits.bias"]


def probe_info() -> dict:
    return load_json(PROBE / "probe.json") if (PROBE / "probe.json").is_file() else {}


def why(step: str) -> str:
    info = probe_info()
    return info.get("errors", {}).get(step) or "; ".join(info.get("problems", [])[:3]) or "the probe did not finish"


def params(folder: str, step: str) -> dict[str, np.ndarray]:
    found = {p.name[:-4]: p for p in (PROBE / folder).glob("*.npy")} if (PROBE / folder).is_dir() else {}
    if not found:
        pytest.fail(f"{step} could not be probed: {why(step)}")
    missing = [k for k in PARAMS if k not in found]
    if missing:
        pytest.fail(f"the notebook's Classifier lacks the sample's parameters {missing[:4]} "
                    f"(it has {sorted(found)[:6]}); the hidden check needs the sample's network")
    return {k: load_npy(found[k]) for k in PARAMS}


def read_submission(data: bytes, what: str) -> dict[str, str]:
    """id -> class text of a submission file, with its format checked."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig", errors="replace"))))
    assert rows and [h.strip() for h in rows[0]] == HEADER, \
        f"{what}: the header must be {','.join(HEADER)}, got {','.join(rows[0]) if rows else 'an empty file'}"
    bad = [n for n, r in enumerate(rows[1:], start=2) if len(r) != 2]
    assert not bad, f"{what}: lines {bad[:5]} do not have 2 fields"
    return {i.strip(): c.strip() for i, c in rows[1:]}


def uploaded() -> dict[str, str]:
    path = os.environ.get("GRADE_SUBMISSION")
    if not path or not Path(path).is_file():
        pytest.fail("no uploaded output.csv to check")
    return read_submission(read_bytes(Path(path)), "uploaded output.csv")


def test_uploaded_file_is_a_complete_submission():
    sub = uploaded()
    with open(RELEASE / "sample_submission.csv", newline="") as f:
        ids = [r[0] for r in list(csv.reader(f))[1:]]
    missing, extra = sorted(set(ids) - set(sub)), sorted(set(sub) - set(ids))
    assert not missing and not extra, f"ids differ from the test set: missing {missing[:5]}, unknown {extra[:5]}"
    bad = [i for i, c in sub.items() if not (c.isdigit() and int(c) < N_WAY)]
    assert not bad, f"class must be the support index 0-{N_WAY - 1}; ids {bad[:5]} are not"


def test_notebook_reproduces_the_uploaded_predictions():
    path = RUN / "output.csv"
    assert path.is_file(), "the re-executed notebook wrote no output.csv"
    rerun, sub = read_submission(read_bytes(path), "re-executed output.csv"), uploaded()
    differ = sorted((i for i in sub if rerun.get(i) != sub[i]), key=lambda i: (len(i), i))
    assert not differ, (f"{len(differ)} of {len(sub)} predictions differ from the re-executed notebook's, e.g. "
                        + ", ".join(f"id {i}: uploaded {sub[i]}, re-run {rerun.get(i)}" for i in differ[:3]))


def _sgd_step(init: dict[str, np.ndarray], support: np.ndarray, lr: float) -> tuple[dict, dict]:
    """The reference inner step on the host: the sample's functional forward, cross-entropy on the
    support set (support image j is class j), and param - lr * grad for every parameter."""
    import torch
    import torch.nn.functional as F

    p = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in init.items()}
    x = torch.tensor(support, dtype=torch.float64)
    for b in (1, 2, 3, 4):
        x = F.conv2d(x, p[f"conv{b}.0.weight"], p[f"conv{b}.0.bias"], padding=1)
        x = F.batch_norm(x, None, None, weight=p[f"conv{b}.1.weight"], bias=p[f"conv{b}.1.bias"], training=True)
        x = F.max_pool2d(F.relu(x), kernel_size=2, stride=2)
    logits = F.linear(x.reshape(x.shape[0], -1), p["logits.weight"], p["logits.bias"])
    loss = F.cross_entropy(logits, torch.arange(N_WAY))
    grads = torch.autograd.grad(loss, [p[k] for k in PARAMS])
    grad = {k: g.numpy() for k, g in zip(PARAMS, grads)}
    return {k: init[k] - lr * grad[k] for k in PARAMS}, grad


def test_inner_step_is_the_sgd_update_of_every_parameter():
    init, fast = params("init", "inner_step"), params("fast", "inner_step")
    task = np.load(INPUTS / "probe_task.npy")
    lr = float(np.load(INPUTS / "probe_lr.npy"))
    want, grad = _sgd_step(init, task[:N_WAY].astype(np.float64), lr)
    wrong = []
    for k in PARAMS:
        if fast[k].shape != want[k].shape:
            pytest.fail(f"{k}: the fast weights have shape {fast[k].shape}, the parameter {want[k].shape}")
        scale = max(float(np.abs(want[k] - init[k]).max()), 1e-12)
        err = float(np.abs(fast[k] - want[k]).max())
        # float32 in the sandbox, float64 here: 1e-5 absolute covers the rounding (conv biases before
        # a batch norm have a zero gradient, up to rounding); a wrong step is off by a share of the step
        if err > 2e-3 * scale + 1e-5:
            g = grad[k].ravel()
            step = float(-(fast[k] - init[k]).ravel() @ g / max(float(g @ g), 1e-30))
            wrong.append(f"{k} moved by {step:.4g} x grad (off by up to {err:.3g})")
    assert not wrong, (f"one inner step with inner_lr={lr:g} must give param - {lr:g} * grad of the support loss "
                       f"for every parameter; " + "; ".join(wrong[:3]) + (f" (and {len(wrong) - 3} more)" if len(wrong) > 3 else ""))


def test_solver_predicts_a_class_for_every_query():
    path = PROBE / "labels.npy"
    if not path.is_file():
        pytest.fail(f"the solver could not be probed with return_labels=True: {why('labels')}")
    labels = load_npy(path)
    assert labels.shape == (N_WAY,), f"return_labels=True must give one class per query image ({N_WAY},), got {labels.shape}"
    assert ((labels >= 0) & (labels < N_WAY)).all(), f"the classes must be 0-{N_WAY - 1}, got {labels.tolist()}"
