"""HW10 hidden checks — run on the HOST against the probe's plain outputs (never imported or unpickled).

The notebook's `fgsm` and `ifgsm` were called in the sandbox on a model and images the student never
saw; here the gradient of that model is recomputed from the same weights (course code, the released
proxy_models.py architecture), and the probed steps must stay within epsilon and follow its sign. The
re-executed notebook's archive must be a valid submission and reproduce the uploaded one. Files
written by the sandboxed runs are read only through grader.sandbox.artifacts and the platform's
in-memory archive validator.
"""

import csv
import importlib.util
import json
import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox.artifacts import load_json, load_npy, load_state_dict, read_bytes

ASSIGNMENT = Path(__file__).resolve().parents[2]
PROBE = Path(os.environ["GRADE_PROBE"])
RUN = Path(os.environ["GRADE_ARTIFACTS"])
HIDDEN = Path(os.environ["GRADE_HIDDEN"])
INPUTS = Path(os.environ["GRADE_HIDDEN_INPUTS"])
OUTPUT = "submission.tgz"
TOL = 1e-4  # float32 rounding of x + eps * sign in normalised units (eps is ~0.16)


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@lru_cache(maxsize=1)
def reference():
    """x (N, 3, 32, 32), sign of the loss gradient at x, eps and alpha (1, 3, 1, 1), the valid range."""
    import torch
    import torch.nn.functional as F

    pm = _load("hw10_hidden_proxy_models", ASSIGNMENT / "proxy_models.py")
    mean = torch.tensor(pm.cifar_10_mean).view(1, 3, 1, 1)
    std = torch.tensor(pm.cifar_10_std).view(1, 3, 1, 1)
    family = json.loads((INPUTS / "probe_model.json").read_text())["family"]
    net = pm.FAMILIES[family]()
    net.load_state_dict(load_state_dict(INPUTS / "probe_model.pt"))
    net.eval()
    images = np.load(INPUTS / "probe_images.npy", allow_pickle=False)
    y = torch.from_numpy(np.load(INPUTS / "probe_labels.npy", allow_pickle=False)).long()
    x = ((torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255) - mean) / std
    x.requires_grad_(True)
    F.cross_entropy(net(x), y).backward()
    return {"x": x.detach().numpy(), "sign": x.grad.sign().numpy(), "zero": (x.grad == 0).numpy(),
            "eps": (8 / 255 / std).numpy(), "alpha": (0.8 / 255 / std).numpy(),
            "lo": ((0 - mean) / std).numpy(), "hi": ((1 - mean) / std).numpy()}


def probed(name: str, step: str) -> np.ndarray:
    """A probe output, or a failure that says why the probe could not write it."""
    path = PROBE / name
    if not path.is_file():
        info = load_json(PROBE / "probe.json") if (PROBE / "probe.json").is_file() else {}
        why = info.get("errors", {}).get(step) or "; ".join(info.get("problems", [])[:3]) or "the probe did not finish"
        pytest.fail(f"{step} could not be probed: {why}")
    out = load_npy(path)
    x = reference()["x"]
    assert out.shape == x.shape, f"{step} returned an array of shape {out.shape} for images of shape {x.shape}"
    assert np.isfinite(out).all(), f"{step} returned NaN or infinite values"
    return out.astype(np.float32)


def assert_step(out: np.ndarray, size: np.ndarray, what: str) -> None:
    """out == x + size * sign(grad) wherever the gradient is not zero; a clamp to the valid pixel range
    (a variant of the sample code) is accepted where it applies."""
    r = reference()
    want = r["x"] + size * r["sign"]
    clamped = np.clip(want, r["lo"], r["hi"])
    ok = (np.abs(out - want) <= TOL) | (np.abs(out - clamped) <= TOL) | r["zero"]
    share = float(ok.mean())
    if share < 0.999:
        delta = (out - r["x"]) / size
        along = float((np.sign(delta) == r["sign"])[~r["zero"]].mean())
        pytest.fail(f"{what}: only {share:.1%} of the values are x + {'alpha' if size is r['alpha'] else 'epsilon'} "
                    f"* sign(gradient of the loss); {along:.1%} of them move in the gradient's sign direction, "
                    f"mean |step| is {float(np.abs(delta).mean()):.3g} of the expected size")


def test_fgsm_stays_within_epsilon():
    out, r = probed("fgsm.npy", "fgsm"), reference()
    over = np.abs(out - r["x"]) - r["eps"]
    assert over.max() <= TOL, (f"fgsm moved {int((over > TOL).sum())} values beyond epsilon = 8/255/std, by up to "
                               f"{float(over.max() / r['eps'].min()):.1%} of epsilon")


def test_fgsm_steps_along_the_sign_of_the_gradient():
    assert_step(probed("fgsm.npy", "fgsm"), reference()["eps"], "fgsm")


def test_ifgsm_step_is_alpha_times_the_sign_clipped_to_epsilon():
    r = reference()
    assert_step(probed("ifgsm_step.npy", "ifgsm_step"), r["alpha"], "ifgsm with num_iter=1")
    assert_step(probed("ifgsm_clip.npy", "ifgsm_clip"), r["eps"], "ifgsm with num_iter=1 and alpha = 3 epsilon "
                "(the step must be clipped back to epsilon)")
    many = probed("ifgsm_many.npy", "ifgsm_many")
    over = np.abs(many - r["x"]) - r["eps"]
    assert over.max() <= TOL, f"ifgsm with num_iter=15 left the epsilon ball by up to {float(over.max()):.3g}"


# ---- the re-executed notebook's archive ---------------------------------------------------------

def _spec():
    from grader.spec import load_spec

    return load_spec(ASSIGNMENT)


def _ids() -> np.ndarray:
    with open(HIDDEN / "answers.csv", newline="") as f:
        return np.array([r[0] for r in list(csv.reader(f))[1:]], dtype=object)


def _images(path: Path, what: str) -> np.ndarray:
    """The archive's images in answers order, validated in memory (no member touches the disk)."""
    from grader.scoring.validate import Invalid, validate

    if not path.is_file():
        pytest.fail(f"{what}: no {OUTPUT}")
    ids = _ids()
    try:
        checked = validate(read_bytes(path), what, _spec().submission, ids)
    except Invalid as e:
        pytest.fail(str(e))
    order = {n: k for k, n in enumerate(checked.ids.tolist())}
    return checked.values[[order[i] for i in ids.tolist()]]


def test_rerun_archive_is_complete_and_within_epsilon():
    images = _images(RUN / OUTPUT, f"the re-executed notebook's {OUTPUT}")
    grading = _load("hw10_hidden_grading", ASSIGNMENT / "grading.py")
    problems = grading.check(images, _ids(), HIDDEN)
    assert not problems, problems[0]


def test_notebook_reproduces_the_uploaded_images():
    path = os.environ.get("GRADE_SUBMISSION")
    if not path:
        pytest.fail(f"no uploaded {OUTPUT} to compare with")
    up = _images(Path(path), f"uploaded {OUTPUT}")
    rerun = _images(RUN / OUTPUT, f"the re-executed notebook's {OUTPUT}")
    diff = np.abs(up.astype(np.int16) - rerun.astype(np.int16)).reshape(len(up), -1).max(axis=1)
    differ = np.flatnonzero(diff > 1)  # one level: rounding
    ids = _ids()
    assert not differ.size, (f"{differ.size} of {len(ids)} images differ from the re-executed notebook's by more than "
                             "one level, e.g. " + ", ".join(f"{ids[k]} (up to {diff[k]})" for k in differ[:3]))
