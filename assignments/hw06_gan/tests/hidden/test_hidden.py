"""HW6 hidden checks — run on the HOST against the probe's plain outputs (never imported or unpickled).

The notebook's gradient penalty was called in the sandbox on the graders' critics and images; here the
same penalty is computed from the same inputs and compared, whatever λ the student chose (one common
positive factor). The uploaded archive and the re-executed notebook's archive are decoded in memory by the
platform's archive validator (bomb-safe, no files written) and compared pixel by pixel. Files written by
the sandboxed runs are read only through grader.sandbox.artifacts.
"""

import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from grader.sandbox.artifacts import load_json, load_npy, read_bytes
from grader.scoring.archive import read_members
from grader.scoring.validate import Invalid, validate
from grader.spec import load_spec

PROBE = Path(os.environ["GRADE_PROBE"])
RUN = Path(os.environ["GRADE_ARTIFACTS"])
HI = Path(os.environ["GRADE_HIDDEN_INPUTS"])
RELEASE = Path(os.environ["GRADE_RELEASE"])
SPEC = load_spec(Path(__file__).resolve().parents[2])
RTOL = 1e-3  # float32 arithmetic in a different order (a sum instead of a mean is off by the batch size)


def probed(name: str, step: str) -> np.ndarray:
    """A probe output, or a failure that says why the probe could not write it."""
    path = PROBE / name
    info = load_json(PROBE / "probe.json") if (PROBE / "probe.json").is_file() else {}
    why = info.get("errors", {}).get(step)
    if why or not path.is_file():
        why = why or "; ".join(info.get("problems", [])[:3]) or "the probe did not finish"
        pytest.fail(f"TrainerGAN.gp could not be probed: {why}")
    return load_npy(path)


# ---------------------------------------------------------------------------------------- the reference

def conv_critic(size: int) -> nn.Module:
    net = nn.Sequential(nn.Conv2d(3, 8, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(8, 16, 4, 2, 1), nn.LeakyReLU(0.2),
                        nn.Flatten(), nn.Linear(16 * (size // 4) ** 2, 1), nn.Flatten(0))
    net.load_state_dict(torch.load(HI / "gp_critic.pt", map_location="cpu", weights_only=True))
    return net


def reference() -> tuple[np.ndarray, np.ndarray]:
    """mean((|grad D(x)| - 1)^2) per batch, and its gradient with respect to the critic's weights."""
    values, grads = [], []
    for k in range(3):
        x = torch.from_numpy(np.load(HI / f"gp_batch_{k}.npy", allow_pickle=False)).requires_grad_(True)
        D = conv_critic(x.shape[-1])
        g = torch.autograd.grad(D(x).sum(), x, create_graph=True)[0]
        value = ((g.flatten(1).norm(2, dim=1) - 1) ** 2).mean()
        values.append(float(value.detach()))
        params = list(D.parameters())
        # allow_unused: the last layer's bias does not move the input gradient (its gradient is zero)
        g = torch.autograd.grad(value, params, allow_unused=True)
        grads.append(torch.cat([(gi if gi is not None else torch.zeros_like(q)).reshape(-1)
                                for gi, q in zip(g, params)]).numpy())
    return np.array(values), np.stack(grads).astype(np.float64)


def common_factor(got: np.ndarray, want: np.ndarray) -> tuple[float, float]:
    """The least-squares λ with got ≈ λ·want, and the relative size of what λ·want leaves unexplained."""
    lam = float((got * want).sum() / (want * want).sum())
    return lam, float(np.linalg.norm(got - lam * want) / max(np.linalg.norm(lam * want), 1e-12))


def test_gradient_penalty_matches_the_reference():
    got, (want, _) = probed("gp_values.npy", "gp"), reference()
    assert got.shape == want.shape and np.isfinite(got).all(), f"gp gave {got} for three batches"
    lam, err = common_factor(got, want)
    assert lam > 0, f"gp gave {np.round(got, 5).tolist()}; expected a positive multiple of {np.round(want, 5).tolist()}"
    assert err <= RTOL, (f"gp on three batches gave {np.round(got, 5).tolist()}, but λ·mean((‖∇D(x̂)‖₂ − 1)²) "
                         f"is {np.round(lam * want, 5).tolist()} (best λ {lam:.4g}): not the gradient penalty "
                         f"(per-image gradient norm over all pixels, two-sided, averaged over the batch)")


def test_gradient_penalty_backpropagates_to_the_critic():
    got, (_, want) = probed("gp_grads.npy", "grad"), reference()
    assert got.shape == want.shape, f"expected gradients for {want.shape[1]} critic weights, got {got.shape}"
    lam, err = common_factor(got.ravel(), want.ravel())
    assert lam > 0 and err <= 10 * RTOL, \
        (f"the penalty's gradient with respect to the critic's weights is off by {err:.1%} (create_graph=True "
         f"in torch.autograd.grad keeps the penalty differentiable, so the critic learns from it)")


def test_gradient_penalty_uses_points_between_real_and_fake():
    at_v, between = probed("gp_quadratic.npy", "quadratic")
    assert at_v > 0, f"gp(v, v) on a critic with gradient norm 3 gave {at_v}, expected a positive penalty"
    ratio = between / at_v
    # per-image mixing weights give E[(3|2α-1| - 1)^2] / (3 - 1)^2 = 1/4; per-pixel ones about 0.13;
    # a penalty taken at the real or at the fake images gives 1
    assert 0.08 <= ratio <= 0.5, \
        (f"with real = v and fake = -v the penalty is {ratio:.3f} of the one at v itself: it is not taken at "
         f"random points between the real and the fake images (expected about 0.25)")


# --------------------------------------------------------------------------------------- the archives

def expected_names() -> np.ndarray:
    with open(RELEASE / SPEC.submission.sample_name, "rb") as f:
        members = read_members(f.read(), SPEC.submission.sample_name, SPEC.submission)
    return np.array(sorted(members, key=lambda n: int(n.split(".")[0])), dtype=object)


def images(data: bytes, what: str) -> np.ndarray:
    try:
        return validate(data, what, SPEC.submission, expected_names()).values
    except Invalid as e:
        pytest.fail(str(e))


def uploaded() -> np.ndarray:
    path = os.environ.get("GRADE_SUBMISSION")
    if not path or not Path(path).is_file():
        pytest.fail("no uploaded images.tgz to check")
    return images(read_bytes(Path(path)), "uploaded images.tgz")


def test_uploaded_archive_is_complete():
    imgs = uploaded()
    flat = imgs.reshape(len(imgs), -1)
    blank = int((flat == flat[:, :1]).all(axis=1).sum())
    assert blank < len(imgs), "every uploaded image is a single colour (the sample submission?)"


def test_notebook_reproduces_the_uploaded_images():
    path = RUN / SPEC.execution.output
    assert path.is_file(), f"the re-executed notebook wrote no {SPEC.execution.output}"
    rerun, up = images(read_bytes(path), "re-executed images.tgz"), uploaded()
    dev = np.abs(rerun.astype(int) - up.astype(int)).reshape(len(up), -1).max(axis=1)
    bad = np.flatnonzero(dev > SPEC.execution.rerun_tolerance)
    names = expected_names()
    assert not bad.size, (f"{bad.size} of {len(up)} images differ from the re-executed notebook's by more than "
                          f"{SPEC.execution.rerun_tolerance:g} pixel levels, e.g. "
                          + ", ".join(f"{names[i]} (largest difference {dev[i]})" for i in bad[:3]))
