"""
HW1 reference solution, level "medium": the sample code + feature selection (course hint).

    python reference_solutions/hw01/medium.py --data DATA_DIR --out OUT_DIR/pred.csv [--seed 5201314]

DATA_DIR holds covid.train.csv and covid.test.csv; the script writes pred.csv
(id,tested_positive). Everything is the sample code (network 16 -> 8 -> 1, SGD lr 1e-5
momentum 0.9, same config and split) except select_feat: instead of all 117 columns the
network only sees tested_positive of the previous days (4 columns in the 2022 layout,
2 in 2021/2023). Today's positive rate is mostly yesterday's, while id, the state
one-hots and the large-valued survey columns (wearing_mask ~50, shop ~66) only slow
down and mislead the unscaled SGD. Clearly better than simple, but the tiny SGD net on
raw inputs is still under-trained and linear-ish. About 9 s on one CPU thread, 4 s of it
importing torch.
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


def select_feat(train_data, valid_data, test_data, columns):
    """The sample code's select_feat with select_all=False, filled in.

    columns names the input columns (the header minus the target).
    (N, C) arrays -> (N, F) features and (N,) targets.
    """
    y_train, y_valid = train_data[:, -1], valid_data[:, -1]
    raw_x_train, raw_x_valid, raw_x_test = train_data[:, :-1], valid_data[:, :-1], test_data
    # "tested_positive", "tested_positive.1", ... of the days before the target day
    feat_idx = [i for i, name in enumerate(columns) if name.split(".")[0] == "tested_positive"]
    return raw_x_train[:, feat_idx], raw_x_valid[:, feat_idx], raw_x_test[:, feat_idx], y_train, y_valid


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

    x_train, x_valid, x_test, y_train, y_valid = select_feat(
        train_data, valid_data, test_data, list(test_df.columns))                            # (N, F)
    print(f"number of features: {x_train.shape[1]}")

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
