"""HW12 simple: the course's sample policy gradient, unchanged — the starter notebook's training.

    python reference_solutions/hw12/simple.py --data RELEASE_DIR --out OUT/policy.pt

REINFORCE with the *immediate* reward of each step as its weight (normalised over the batch), SGD
lr 0.001, 5 episodes per update, 60 updates (the course: 500). This is the starter's code with its
seed and config, step for step (the exploration cells' draws from the environment included), so the
unchanged notebook saves the very same policy.pt. Expected: a mean total reward of about -250 on the
hidden episodes (-236 to -274 over three data seeds; -169 to -192 with training seed 1): the lander
still crashes, as a random one does (about -200) — an immediate reward says almost nothing about the
action that earned it. 15 s of CPU on one thread (the sample's per-step autograd graph), torch import
included.
"""

import argparse
import os
import random
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.distributions import Categorical


@dataclass
class Config:
    seed: int = 543              # the course's `seed = 543 # Do not change this`
    episode_per_batch: int = 5   # EPISODE_PER_BATCH
    num_batch: int = 60          # NUM_BATCH (500 in the course, scaled to the CPU budget)
    lr: float = 0.001            # the sample's SGD
    max_steps: int = 1000        # the grader's episode cap


def fix(env, seed):
    env.reset(seed=seed)  # gym's env.seed(seed)
    env.action_space.seed(seed)
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)
    torch.use_deterministic_algorithms(True)


class PolicyGradientNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 16)
        self.fc3 = nn.Linear(16, 4)

    def forward(self, state):                   # (..., 8) -> (..., 4) action probabilities
        hid = torch.tanh(self.fc1(state))
        hid = torch.tanh(self.fc2(hid))
        return F.softmax(self.fc3(hid), dim=-1)


class PolicyGradientAgent:
    def __init__(self, network, lr):
        self.network = network
        self.optimizer = optim.SGD(self.network.parameters(), lr=lr)

    def learn(self, log_probs, rewards):
        loss = (-log_probs * rewards).sum()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()

    def sample(self, state):
        action_prob = self.network(torch.FloatTensor(state))
        action_dist = Categorical(action_prob)
        action = action_dist.sample()
        return action.item(), action_dist.log_prob(action)


def explore(env):
    """The notebook's look at the environment before training: one reset and step, one random episode.
    They draw from the environment's generator, so the same draws here give the same training episodes."""
    env.reset()
    env.step(env.action_space.sample())
    env.reset()
    done = False
    while not done:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        done = terminated or truncated


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=Config.seed)
    args = ap.parse_args()
    cfg = Config(seed=args.seed)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))

    env = gym.make("LunarLander-v3", max_episode_steps=cfg.max_steps)
    fix(env, cfg.seed)
    explore(env)
    agent = PolicyGradientAgent(PolicyGradientNetwork(), cfg.lr)
    agent.network.train()
    for batch in range(cfg.num_batch):
        log_probs, rewards, totals = [], [], []
        for _ in range(cfg.episode_per_batch):
            state, _ = env.reset()
            total = 0.0
            while True:
                action, log_prob = agent.sample(state)            # a_t, log pi(a_t | s_t)
                state, reward, terminated, truncated, _ = env.step(action)
                log_probs.append(log_prob)
                rewards.append(reward)                              # the immediate reward r_t
                total += reward
                if terminated or truncated:
                    totals.append(total)
                    break
        if batch % 10 == 0:
            print(f"batch {batch}: total {np.mean(totals):.1f}", flush=True)
        rewards = np.array(rewards)
        rewards = (rewards - np.mean(rewards)) / (np.std(rewards) + 1e-9)  # the sample's normalisation
        agent.learn(torch.stack(log_probs), torch.from_numpy(rewards))

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    torch.save(agent.network.state_dict(), args.out)


if __name__ == "__main__":
    main()
