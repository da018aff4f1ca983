"""
HW1 reference solution, level "simple": the course's sample code, unchanged.

    python reference_solutions/hw01/simple.py --data DATA_DIR --out OUT_DIR/pred.csv [--seed 5201314]

DATA_DIR holds covid.train.csv and covid.test.csv. The script trains the sample network
(all 117 input columns, id included -> 16 -> 8 -> 1, SGD lr 1e-5 momentum 0.9) and writes
pred.csv (id,tested_positive). Model, optimizer, config, data split, batch order and
early stopping are exactly those of the starter notebook (starter/hw01.py), so with the
same seed the unchanged starter writes the same predictions and scores the same MSE.
It is deliberately weak: raw, unscaled inputs (id runs to ~2700) and a tiny learning
rate leave SGD far from converged. About 9 s on one CPU thread, 4 s of it importing torch.
"""
import argparse
import copy
import csv
import math
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset, random_split


@dataclass
class Config:
    seed: int = 5201314
    valid_ratio: float = 0.2
    n_epochs: int = 200         # course: 3000 (scaled down for the CPU budget)
    batch_size: int = 256
    learning_rate: float = 1e-5
    momentum: float = 0.9
    early_stop: int = 100       # course: 400


class COVID19Dataset(Dataset):
    """x: (N, D) features; y: (N,) targets, or None for the test set."""

    def __init__(self, x, y=None):
        self.y = None if y is None else torch.FloatTensor(y)
        self.x = torch.FloatTensor(x)

    def __getitem__(self, idx):
        return self.x[idx] if self.y is None else (self.x[idx], self.y[idx])

    def __len__(self):
        return len(self.x)


class My_Model(nn.Module):
    def __init__(self, input_dim):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(input_dim, 16),
            nn.ReLU(),
            nn.Linear(16, 8),
            nn.ReLU(),
            nn.Linear(8, 1),
        )

    def forward(self, x):           # (B, D) -> (B,)
        return self.layers(x).squeeze(1)


def train_valid_split(data, valid_ratio, seed):
    """Same seeded random_split as the sample code: (N, C) -> (N - V, C), (V, C)."""
    valid_size = int(valid_ratio * len(data))
    train_set, valid_set = random_split(data, [len(data) - valid_size, valid_size],
                                        generator=torch.Generator().manual_seed(seed))
    return np.array(train_set), np.array(valid_set)


def evaluate(model, loader, criterion):
    """Mean of per-batch MSE, as the sample code logs it."""
    model.eval()
    losses = []
    with torch.no_grad():
        for x, y in loader:
            losses.append(criterion(model(x), y).item())
    return sum(losses) / len(losses)


def train(model, train_loader, valid_loader, cfg):
    """SGD with early stopping on the validation loss; returns the best weights."""
    criterion = nn.MSELoss(reduction="mean")
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.learning_rate, momentum=cfg.momentum)
    best_loss, best_state, bad_epochs = math.inf, None, 0
    for epoch in range(cfg.n_epochs):
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
        valid_loss = evaluate(model, valid_loader, criterion)
        if valid_loss < best_loss:
            best_loss, best_state, bad_epochs = valid_loss, copy.deepcopy(model.state_dict()), 0
        else:
            bad_epochs += 1
        if bad_epochs >= cfg.early_stop:
            break
    print(f"stopped after {epoch + 1} epochs, best valid MSE {best_loss:.4f}")
    return best_state


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="folder with covid.train.csv and covid.test.csv")
    parser.add_argument("--out", required=True, help="where to write pred.csv")
    parser.add_argument("--seed", type=int, default=Config.seed)
    args = parser.parse_args()
    cfg = Config(seed=args.seed)

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    torch.manual_seed(cfg.seed)     # the model init below draws from the global generator, as in the notebook

    train_df = pd.read_csv(os.path.join(args.data, "covid.train.csv"))
    test_df = pd.read_csv(os.path.join(args.data, "covid.test.csv"))
    train_data, valid_data = train_valid_split(train_df.values, cfg.valid_ratio, cfg.seed)   # (N, 118)
    test_data = test_df.values                                                                # (M, 117)

    # select_all: every column but the target, id included (117 inputs for the 2022 layout)
    x_train, x_valid, x_test = train_data[:, :-1], valid_data[:, :-1], test_data
    y_train, y_valid = train_data[:, -1], valid_data[:, -1]

    train_loader = DataLoader(COVID19Dataset(x_train, y_train), batch_size=cfg.batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(cfg.seed))
    valid_loader = DataLoader(COVID19Dataset(x_valid, y_valid), batch_size=cfg.batch_size, shuffle=False)
    test_loader = DataLoader(COVID19Dataset(x_test), batch_size=cfg.batch_size, shuffle=False)

    model = My_Model(input_dim=x_train.shape[1])
    model.load_state_dict(train(model, train_loader, valid_loader, cfg))
    model.eval()
    with torch.no_grad():
        preds = torch.cat([model(x) for x in test_loader]).numpy()                           # (M,)

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "tested_positive"])
        writer.writerows(zip(test_df["id"], preds))


if __name__ == "__main__":
    main()
