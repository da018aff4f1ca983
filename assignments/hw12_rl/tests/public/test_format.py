"""HW12 public checks: run them next to your policy.pt before you upload it.

    pytest tests/public                          # checks ./policy.pt
    GRADE_PRED=path/to/policy.pt pytest tests/public

policy.pt must be `torch.save(network.state_dict())` of the course's PolicyGradientNetwork: layers
fc1 … fcN (nn.Linear), 8 state numbers in, 4 action probabilities out, tanh between the layers and a
softmax at the end — the form the course's grader plays. The last test plays your policy on the
notebook's 5 public test episodes (seed 543) and prints its mean total reward; the course scores it
on other, hidden episodes.
"""

import os
import re
from pathlib import Path

import pytest

PRED = Path(os.environ.get("GRADE_PRED", "policy.pt"))


@pytest.fixture(scope="module")
def state_dict():
    import torch

    if not PRED.is_file():
        pytest.fail(f"{PRED} not found: run the notebook first (it saves policy.pt), or set GRADE_PRED")
    assert PRED.stat().st_size <= 200_000, f"{PRED} is {PRED.stat().st_size:,} bytes, over the 200,000-byte limit"
    try:
        sd = torch.load(PRED, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file
        pytest.fail(f"{PRED} is not a state dict saved with torch.save(network.state_dict()): {e}")
    assert isinstance(sd, dict), f"expected a state dict, got a {type(sd).__name__}: save network.state_dict()"
    return sd


def test_layers_are_fc1_to_fcN(state_dict):
    names = list(state_dict)
    n = len(names) // 2
    want = [f"fc{k}.{p}" for k in range(1, n + 1) for p in ("weight", "bias")]
    assert n >= 2 and sorted(names) == sorted(want), \
        f"expected fc1.weight, fc1.bias, …, fcN.weight, fcN.bias (N ≥ 2), got {names}"


def shape_problem(state_dict):
    """Why the layers do not chain from 8 state numbers to 4 actions, or None."""
    import torch

    n = len(state_dict) // 2
    width = 8
    for k in range(1, n + 1):
        w, b = state_dict.get(f"fc{k}.weight"), state_dict.get(f"fc{k}.bias")
        if not (isinstance(w, torch.Tensor) and w.is_floating_point() and isinstance(b, torch.Tensor)):
            return f"fc{k}.weight / fc{k}.bias are not float tensors"
        if w.ndim != 2 or w.shape[1] != width:
            return f"fc{k}.weight has shape {tuple(w.shape)}, expected (*, {width})"
        if tuple(b.shape) != (w.shape[0],):
            return f"fc{k}.bias has shape {tuple(b.shape)}, expected ({w.shape[0]},)"
        if not (torch.isfinite(w).all() and torch.isfinite(b).all()):
            return f"fc{k} holds NaN or infinity"
        width = w.shape[0]
        if k < n and width > 256:
            return f"fc{k} is {width} wide, at most 256"
    return None if width == 4 else f"the last layer fc{n} gives {width} numbers, expected 4 (one per action)"


def test_shapes_chain_from_8_states_to_4_actions(state_dict):
    problem = shape_problem(state_dict)
    assert problem is None, problem


def test_plays_the_public_episodes(state_dict):
    import gymnasium as gym
    import numpy as np
    import torch

    problem = shape_problem(state_dict)
    if problem is not None:
        pytest.fail(f"not played: {problem}")
    n = len(state_dict) // 2
    layers = [(state_dict[f"fc{k}.weight"].double(), state_dict[f"fc{k}.bias"].double()) for k in range(1, n + 1)]
    env = gym.make("LunarLander-v3", max_episode_steps=1000)
    env.reset(seed=543)
    gen = torch.Generator().manual_seed(543)
    totals = []
    for _ in range(5):
        state, _ = env.reset()
        total, done = 0.0, False
        while not done:
            x = torch.as_tensor(state, dtype=torch.float64)
            for i, (w, b) in enumerate(layers):
                x = x @ w.T + b
                x = torch.tanh(x) if i < n - 1 else torch.softmax(x, dim=-1)
            action = int(torch.multinomial(x, 1, generator=gen))
            state, reward, terminated, truncated, _ = env.step(action)
            total += reward
            done = terminated or truncated
        totals.append(total)
    assert all(np.isfinite(totals))
    print(f"\npublic episodes (seed 543): mean total reward {np.mean(totals):.1f} "
          f"({', '.join(f'{t:.0f}' for t in totals)}); the board plays other, hidden episodes")
