"""HW12 host-side grading (course code, never released): the uploaded policy plays LunarLander on the
hidden episode seeds, on the host.

No student code runs here. The submission is a state dict of plain numbers (read by the core with
`torch.load(weights_only=True)` into {name: float32 array}); `check` makes sure it has the form of the
course's `PolicyGradientNetwork` and `represent` plays it with this file's own numpy forward pass:

    fc1 → tanh → fc2 → tanh → … → fcN → softmax        fcK.weight (out, in), fcK.bias (out,)

Episodes (hidden/answers.csv: episode,seed, one row per board item): `env.reset(seed=seed)`, at most
MAX_STEPS steps. Actions are *sampled* from the policy's probabilities, as the course's test loop does
(`agent.sample(state)`), with a host generator seeded from the episode's seed, so a score is
reproducible and a policy cannot be tuned against the draw. The row's number is the episode's total
reward; the metric (`mean`) averages the board's rows.

`replay_action_list` is the 2022 JudgeBoi check (an `Action_List.npy` replayed open-loop on seed 543),
kept for comparison with 2022 only.
"""

from __future__ import annotations

import csv
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

ENV_ID = "LunarLander-v3"
MAX_STEPS = 1000                 # the episode cap (the course's TimeLimit)
OBS_DIM, N_ACTIONS = 8, 4
MAX_LAYERS, MAX_WIDTH = 8, 256   # hidden widths are free within these bounds
PUBLIC_SEED = 543                # the course's `seed = 543 # Do not change this`
NUM_OF_TEST = 5


# ---------------------------------------------------------------------------------------------- the policy
def layers(values: dict) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(weight, bias) of fc1, fc2, …] from a checked state dict."""
    n = len(values) // 2
    return [(np.asarray(values[f"fc{k}.weight"], dtype=np.float64), np.asarray(values[f"fc{k}.bias"], dtype=np.float64))
            for k in range(1, n + 1)]


def forward(params: list[tuple[np.ndarray, np.ndarray]], obs: np.ndarray) -> np.ndarray:
    """Action probabilities for observations (..., 8) -> (..., 4): the course network's forward."""
    h = np.asarray(obs, dtype=np.float64)
    for w, b in params[:-1]:
        h = np.tanh(h @ w.T + b)
    w, b = params[-1]
    z = h @ w.T + b
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def check(values, ids, hidden_dir) -> list[str]:
    """The state dict is a `PolicyGradientNetwork`: fc1 … fcN (N ≥ 2), each a weight (out, in) and a bias
    (out,), chained from 8 inputs to 4 outputs, hidden widths at most MAX_WIDTH."""
    names = list(values)
    layer = [re.fullmatch(r"fc([1-9]\d*)\.(weight|bias)", k) for k in names]
    n = max((int(m[1]) for m in layer if m), default=0)
    expected = [f"fc{k}.{p}" for k in range(1, n + 1) for p in ("weight", "bias")]
    extra = sorted(k for k, m in zip(names, layer) if not m)
    missing = [k for k in expected if k not in values]
    if extra or missing or not 2 <= n <= MAX_LAYERS:
        return [f"expected the state dict of the course's PolicyGradientNetwork: fc1.weight, fc1.bias, …, "
                f"fcN.weight, fcN.bias with 2 ≤ N ≤ {MAX_LAYERS} (got {', '.join(names[:8])}"
                f"{', …' if len(names) > 8 else ''}"
                + (f"; unexpected {', '.join(extra[:4])}" if extra else "")
                + (f"; missing {', '.join(missing[:4])}" if missing else "") + ")"]
    problems, width = [], OBS_DIM
    for k in range(1, n + 1):
        w, b = np.asarray(values[f"fc{k}.weight"]), np.asarray(values[f"fc{k}.bias"])
        out = N_ACTIONS if k == n else (w.shape[0] if w.ndim == 2 else -1)
        if k < n and not 1 <= out <= MAX_WIDTH:
            problems.append(f"fc{k}.weight has shape {tuple(w.shape)}; a hidden layer has (width, {width}) "
                            f"with 1 ≤ width ≤ {MAX_WIDTH}")
            return problems
        if w.shape != (out, width):
            what = "the output layer (4 actions)" if k == n else ("the input layer (8 state numbers)" if k == 1 else "")
            problems.append(f"fc{k}.weight has shape {tuple(w.shape)}, expected ({out}, {width})"
                            + (f" for {what}" if what else f" (fc{k - 1} gives {width})"))
            return problems
        if b.shape != (out,):
            problems.append(f"fc{k}.bias has shape {tuple(b.shape)}, expected ({out},)")
            return problems
        width = out
    return problems


# ------------------------------------------------------------------------------------------------ episodes
def episode_seeds(hidden_dir) -> tuple[np.ndarray, np.ndarray]:
    with open(Path(hidden_dir) / "answers.csv", newline="") as f:
        rows = list(csv.reader(f))[1:]
    return np.array([int(r[0]) for r in rows]), np.array([int(r[1]) for r in rows], dtype=np.int64)


def play(params, seed: int, max_steps: int = MAX_STEPS) -> float:
    """Total reward of one episode on `seed`, actions sampled from the policy with a generator seeded by
    the episode (inverse CDF of one uniform per step)."""
    import gymnasium as gym

    env = gym.make(ENV_ID, max_episode_steps=max_steps)
    rng = np.random.default_rng([int(seed), 12])
    obs, _ = env.reset(seed=int(seed))
    total = 0.0
    try:
        for _ in range(max_steps):
            p = forward(params, obs)
            action = min(int(np.searchsorted(np.cumsum(p), rng.random() * p.sum(), side="right")), N_ACTIONS - 1)
            obs, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            if terminated or truncated:
                break
    finally:
        env.close()
    return total


@lru_cache(maxsize=64)
def _rewards(hidden_dir: str, frozen: tuple) -> tuple:
    """One total reward per hidden episode; `frozen` (names, shapes, float32 bytes) is the cache key."""
    values = {name: np.frombuffer(buf, dtype=np.float32).reshape(shape) for name, shape, buf in frozen}
    params = layers(values)
    _, seeds = episode_seeds(hidden_dir)
    return tuple(play(params, s) for s in seeds)


def represent(values, hidden_dir) -> dict:
    """{"reward": total reward per episode of answers.csv}; the same weights scored twice cost nothing
    (cached by their bytes)."""
    frozen = tuple((n, tuple(np.shape(a)), np.ascontiguousarray(a, dtype=np.float32).tobytes()) for n, a in values.items())
    return {"reward": np.array(_rewards(str(hidden_dir), frozen))}


# ---------------------------------------------------------------------------------- 2022 JudgeBoi replay
def replay_action_list(data: bytes, seed: int = PUBLIC_SEED) -> float:
    """Mean total reward of the 5 episodes of a 2022 `Action_List.npy`, replayed open-loop as JudgeBoi did:
    `fix(env, 543)` (here `env.reset(seed=543)`), then each episode from `env.reset()`, its actions until
    the episode ends. Read with the restricted unpickler (only numpy's array reconstruction), never
    `np.load(allow_pickle=True)`. Raises ValueError with a message for a file that is not 5 action lists."""
    import gymnasium as gym

    from grader.scoring.npy import load_npy

    action_list = load_npy(data, allow_objects=True)
    action_list = action_list.tolist() if isinstance(action_list, np.ndarray) else action_list
    if not isinstance(action_list, list) or len(action_list) != NUM_OF_TEST:
        raise ValueError(f"Wrong format of file: expected {NUM_OF_TEST} action lists, got "
                         f"{len(action_list) if isinstance(action_list, list) else type(action_list).__name__}")
    for k, actions in enumerate(action_list):
        if not isinstance(actions, list) or not actions:
            raise ValueError(f"episode {k}: expected a non-empty list of actions")
        bad = [a for a in actions if isinstance(a, bool) or not isinstance(a, int) or not 0 <= a < N_ACTIONS]
        if bad:
            raise ValueError(f"episode {k}: actions must be integers 0-{N_ACTIONS - 1}, got {bad[0]!r}")
        if len(actions) > MAX_STEPS:
            raise ValueError(f"episode {k}: {len(actions)} actions, more than the {MAX_STEPS}-step episode")
    env = gym.make(ENV_ID, max_episode_steps=MAX_STEPS)
    env.reset(seed=int(seed))
    totals = []
    try:
        for actions in action_list:
            env.reset()
            total = 0.0
            for a in actions:
                _, reward, terminated, truncated, _ = env.step(a)
                total += float(reward)
                if terminated or truncated:
                    break
            totals.append(total)
    finally:
        env.close()
    return float(np.mean(totals))
