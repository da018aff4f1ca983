"""HW12 data: LunarLander has no data files; what a course draws from its secret is the *episodes*.

The environment is gymnasium's `LunarLander-v3` (the course used gym's `LunarLander-v2`), unchanged:
the same physics and rewards for every course. `build(ctx)` writes

    release/sample_submission.pt     the format to upload: a state dict of the course's
                                     PolicyGradientNetwork (8→16→16→4), randomly initialised
    hidden/answers.csv               episode,seed — the board's episodes: their ids are the episode
                                     numbers, their seeds are drawn from the course secret (never 543,
                                     the public seed of the notebook's test loop), so a policy cannot be
                                     tuned to them and an open-loop action list is worthless
    hidden_inputs/rewards.npy        reward sequences for the probe of `accumulated_discounted_reward`
    hidden_inputs/reward_lengths.npy (flat float64, their lengths, and one gamma per sequence): shaping
    hidden_inputs/gammas.npy         rewards of a few tenths and the ±100 of a landing or a crash, as the
                                     environment gives, of lengths 1-300
    hidden_inputs/observations.npy   (64, 8) states met by a random lander: the probe feeds them to the
                                     notebook's own network, the host to its numpy copy of the forward

ci: 100 episodes (50 public, 50 private after the platform's split); full: 400.

What pays on these episodes is the course's ladder, because of how LunarLander rewards: the shaping
reward of a step says little about the action taken (the immediate-reward policy gradient of the
sample code barely moves away from a random, crashing lander in its budget); the ±100 at the end and
the approach to the pad are reached only through many steps, so crediting each action with the
discounted reward that follows it (medium) is what first makes the lander fly towards the pad; a
learned baseline V(s) removes the part of that return the state already predicts (strong: the
gradient's variance falls, the same batches go further); an actor-critic's bootstrapped advantages
(boss: TD(λ) with the critic) assign credit within an episode, and it lands. Measured with
tools/hw12_ladder.py over data seeds 1-3 (public/private halves), training seeds 543 and 1: simple
-236 to -274 and -169 to -192, medium -114 to -142 and -94 to -116, strong -26 to -45 and -22 to -35,
boss +4 to +30 and +48 to +65 (and +47 to +62 with training seed 2).
"""

from __future__ import annotations

import io

import numpy as np

N_EPISODES = {"ci": 100, "full": 400}
PUBLIC_SEED = 543
HIDDEN = (8, 16, 16, 4)  # the course's PolicyGradientNetwork


def sample_state_dict(rng) -> bytes:
    """A randomly initialised PolicyGradientNetwork's state dict, as torch.save writes it (nn.Linear's own
    init: uniform ±1/sqrt(fan_in))."""
    import torch

    sd = {}
    for k, (i, o) in enumerate(zip(HIDDEN, HIDDEN[1:]), start=1):
        bound = 1.0 / np.sqrt(i)
        sd[f"fc{k}.weight"] = torch.from_numpy(rng.uniform(-bound, bound, (o, i)).astype(np.float32))
        sd[f"fc{k}.bias"] = torch.from_numpy(rng.uniform(-bound, bound, o).astype(np.float32))
    buf = io.BytesIO()
    torch.save(sd, buf)
    return buf.getvalue()


def reward_sequences(rng, n: int = 24):
    """Reward sequences like LunarLander's: small shaping rewards, engine costs, a final ±100."""
    lengths = np.concatenate([[1, 2], rng.integers(3, 300, size=n - 2)])
    seqs = []
    for L in lengths:
        r = rng.normal(0.0, 2.0, size=L) - 0.3 * (rng.random(L) < 0.4)
        r[-1] = rng.choice([-100.0, 100.0, rng.normal(0, 5)])
        seqs.append(r)
    gammas = rng.choice([0.99, 0.99, 0.9, 0.95, 0.5, 1.0], size=n)
    return np.concatenate(seqs), lengths.astype(np.int64), gammas.astype(np.float64)


def random_states(rng, n: int = 64) -> np.ndarray:
    """States a random lander meets (the probe's inputs), from episodes on hidden seeds."""
    import gymnasium as gym

    env = gym.make("LunarLander-v3")
    states = []
    while len(states) < n:
        obs, _ = env.reset(seed=int(rng.integers(2**31 - 1)))
        for _ in range(int(rng.integers(1, 120))):
            obs, _, term, trunc, _ = env.step(int(rng.integers(4)))
            if term or trunc:
                break
        states.append(obs)
    env.close()
    return np.array(states, dtype=np.float32)


def build(ctx) -> None:
    rng = np.random.default_rng(ctx.seed)
    n = int(ctx.options.get("n_episodes", N_EPISODES[ctx.scale]))
    seeds: list[int] = []
    while len(seeds) < n:  # distinct seeds, never the notebook's public 543
        s = int(rng.integers(1_000, 2**31 - 1))
        if s not in seeds:
            seeds.append(s)
    with open(ctx.hidden_dir / "answers.csv", "w") as f:
        f.write("episode,seed\n" + "".join(f"{k},{s}\n" for k, s in enumerate(seeds)))
    (ctx.release_dir / "sample_submission.pt").write_bytes(sample_state_dict(rng))
    rewards, lengths, gammas = reward_sequences(rng)
    np.save(ctx.hidden_inputs_dir / "rewards.npy", rewards, allow_pickle=False)
    np.save(ctx.hidden_inputs_dir / "reward_lengths.npy", lengths, allow_pickle=False)
    np.save(ctx.hidden_inputs_dir / "gammas.npy", gammas, allow_pickle=False)
    np.save(ctx.hidden_inputs_dir / "observations.npy", random_states(rng), allow_pickle=False)
