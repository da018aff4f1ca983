"""HW12 hidden checks — run on the HOST against the probe's plain outputs (never imported or unpickled).

The uploaded policy.pt must be the course's network and be what the notebook trains (its re-execution
saves the very same weights); the notebook's `accumulated_discounted_reward` was called in the sandbox
on reward sequences the student never saw, and is compared here with the formula
G_t = r_t + γ G_{t+1}; the notebook's own PolicyGradientNetwork, with the weights it saved, must give
the action probabilities that the course's forward gives for the uploaded weights — what ties the file
the host plays to the notebook's network. Files written by the sandboxed runs are read only through
grader.sandbox.artifacts (state dicts with weights_only=True).
"""

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox.artifacts import load_json, load_npy, load_state_dict

PROBE = Path(os.environ["GRADE_PROBE"])
RUN = Path(os.environ["GRADE_ARTIFACTS"])
INPUTS = Path(os.environ["GRADE_HIDDEN_INPUTS"])
HIDDEN = Path(os.environ["GRADE_HIDDEN"])


def grading():
    path = Path(__file__).resolve().parents[2] / "grading.py"
    spec = importlib.util.spec_from_file_location("hw12_grading_hidden", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def probed(name: str, step: str) -> np.ndarray:
    """A probe output, or a failure that says why the probe could not write it."""
    path = PROBE / name
    if not path.is_file():
        info = load_json(PROBE / "probe.json") if (PROBE / "probe.json").is_file() else {}
        why = info.get("errors", {}).get(step) or "; ".join(info.get("problems", [])[:3]) or "the probe did not finish"
        pytest.fail(f"{step} could not be probed: {why}")
    return load_npy(path)


def weights(path: Path, what: str) -> dict:
    if not path.is_file():
        pytest.fail(f"no {what}")
    sd = load_state_dict(path)
    bad = [str(k) for k, v in sd.items() if not hasattr(v, "numpy")]
    assert not bad, f"{what}: entries that are not tensors: {bad[:3]}"
    return {k: v.detach().float().numpy() for k, v in sd.items()}


def uploaded() -> dict:
    path = os.environ.get("GRADE_SUBMISSION")
    return weights(Path(path) if path else Path("/nonexistent"), "uploaded policy.pt")


def test_uploaded_policy_is_the_course_network():
    problems = grading().check(uploaded(), None, HIDDEN)
    assert not problems, "; ".join(problems)


def test_notebook_reproduces_the_uploaded_policy():
    up, re = uploaded(), weights(RUN / "policy.pt", "policy.pt from the re-executed notebook")
    assert list(up) == list(re), f"the re-executed notebook saved tensors {list(re)}, the upload has {list(up)}"
    for k in up:
        assert up[k].shape == re[k].shape, f"{k}: uploaded {up[k].shape}, re-run {re[k].shape}"
        dev = float(np.abs(up[k] - re[k]).max()) if up[k].size else 0.0
        assert dev == 0.0, f"{k}: the re-executed notebook's weights differ from the uploaded ones by up to {dev:.4g}"


def test_accumulated_discounted_reward_on_hidden_rewards():
    rewards, lengths = np.load(INPUTS / "rewards.npy"), np.load(INPUTS / "reward_lengths.npy")
    gammas = np.load(INPUTS / "gammas.npy")
    got = probed("discounted.npy", "accumulated_discounted_reward")
    sizes = probed("discounted_lengths.npy", "accumulated_discounted_reward")
    assert sizes.tolist() == lengths.tolist(), \
        f"accumulated_discounted_reward must give one number per reward: lengths {sizes.tolist()[:5]} for {lengths.tolist()[:5]}"
    start = 0
    for k, (n, g) in enumerate(zip(lengths.tolist(), gammas.tolist())):
        r = rewards[start:start + n]
        want = np.zeros(n)
        running = 0.0
        for t in range(n - 1, -1, -1):   # G_t = r_t + gamma * G_{t+1}
            running = r[t] + g * running
            want[t] = running
        have = got[start:start + n]
        start += n
        bad = np.flatnonzero(~np.isclose(have, want, rtol=1e-6, atol=1e-6))
        assert not len(bad), (f"sequence {k} ({n} rewards, gamma {g}): at step {bad[0]} got {have[bad[0]]:.6g}, "
                              f"expected r_t + gamma * G_(t+1) = {want[bad[0]]:.6g}")


def test_notebook_network_gives_the_uploaded_policy():
    g = grading()
    up = uploaded()
    problems = g.check(up, None, HIDDEN)
    assert not problems, "the uploaded file is not the course network: " + "; ".join(problems)
    states = np.load(INPUTS / "observations.npy")
    probs = probed("action_probs.npy", "PolicyGradientNetwork")
    want = g.forward(g.layers(up), states)
    assert probs.shape == want.shape, f"PolicyGradientNetwork gives {probs.shape[1:]} per state, expected {want.shape[1:]}"
    err = float(np.abs(probs - want).max())
    assert err <= 1e-5, (f"the notebook's PolicyGradientNetwork with the weights it saved gives action "
                         f"probabilities that differ by up to {err:.3g} from the course's forward of the "
                         "uploaded weights (fc1 → tanh → … → fcN → softmax)")
