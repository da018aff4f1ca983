"""
HW1 reference solution, level "boss": strong + L2 regularisation + tuned hyper-parameters
(course hint).

    python reference_solutions/hw01/boss.py --data DATA_DIR --out OUT_DIR/pred.csv [--seed 5201314]

DATA_DIR holds covid.train.csv and covid.test.csv; the script writes pred.csv
(id,tested_positive). Changes against strong:
  * tuned feature selection: the k survey columns most correlated with the target
    (|Pearson r| on the training data) instead of tested_positive alone. For the 2022
    layout these are tested_positive and the four COVID-like-illness items of every day:
    they also see the next day's growth, but they are noisy and strongly correlated;
  * L2 regularisation: weight_decay in Adam (adds wd * w to every gradient), so the
    network does not lean on any single one of those correlated columns;
  * tuned size and schedule: a smaller network, bigger batches, a higher learning rate;
  * k-fold ensemble: every fold trains one model, early-stopped on its own held-out fold,
    and the test prediction is the mean of the fold models. All labelled rows are used
    for training, and averaging cancels much of each model's variance.
About 12 s on one CPU thread, 4 s of it importing torch.
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


@dataclass
class Config:
    seed: int = 5201314
    n_features: int = 24        # k of the correlation-based feature selection
    n_folds: int = 5
    n_epochs: int = 200
    batch_size: int = 256
    learning_rate: float = 5e-3
    weight_decay: float = 1e-2  # L2 strength
    early_stop: int = 20
    hidden: tuple = (16, 8)


class Model(nn.Module):
    def __init__(self, input_dim, hidden):
        super().__init__()
        layers, width = [], input_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.layers = nn.Sequential(*layers, nn.Linear(width, 1))

    def forward(self, x):           # (B, F) -> (B,)
        return self.layers(x).squeeze(1)


def select_feat(columns, x, y, k):
    """Indices of the k survey columns with the largest |corr(feature, target)|.

    Survey columns are everything but id and the two-letter state one-hots; x: (N, C), y: (N,).
    """
    survey = [i for i, name in enumerate(columns) if name != "id" and not (len(name) == 2 and name.isupper())]
    corr = [abs(np.corrcoef(x[:, i], y)[0, 1]) for i in survey]
    return sorted(survey[j] for j in np.argsort(corr)[::-1][:k])


def train(model, x_train, y_train, x_valid, y_valid, cfg, seed):
    """Adam + L2 on shuffled mini-batches, early stopping on the held-out fold; returns the best weights."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    best_loss, best_state, bad_epochs = math.inf, None, 0
    for epoch in range(cfg.n_epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        for start in range(0, len(order), cfg.batch_size):
            idx = order[start:start + cfg.batch_size]
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(x_train[idx]), y_train[idx])
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            valid_loss = nn.functional.mse_loss(model(x_valid), y_valid).item()
        if valid_loss < best_loss:
            best_loss, best_state, bad_epochs = valid_loss, copy.deepcopy(model.state_dict()), 0
        else:
            bad_epochs += 1
        if bad_epochs >= cfg.early_stop:
            break
    print(f"  stopped after {epoch + 1} epochs, best valid MSE {best_loss:.4f}")
    return best_state


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="folder with covid.train.csv and covid.test.csv")
    parser.add_argument("--out", required=True, help="where to write pred.csv")
    parser.add_argument("--seed", type=int, default=Config.seed)
    args = parser.parse_args()
    cfg = Config(seed=args.seed)

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))

    train_df = pd.read_csv(os.path.join(args.data, "covid.train.csv"))
    test_df = pd.read_csv(os.path.join(args.data, "covid.test.csv"))
    data, target = train_df.values[:, :-1], train_df.values[:, -1]                    # (N, C), (N,)
    feat_idx = select_feat(test_df.columns, data, target, cfg.n_features)
    print("features:", ", ".join(test_df.columns[feat_idx]))

    x, x_test = data[:, feat_idx], test_df.values[:, feat_idx]
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-8
    to_tensor = lambda a: torch.tensor(a, dtype=torch.float32)
    x, x_test, y = to_tensor((x - mean) / std), to_tensor((x_test - mean) / std), to_tensor(target)   # (N, F)

    fold = np.random.default_rng(cfg.seed).permutation(len(x)) % cfg.n_folds     # fold id of every row
    preds = []
    for k in range(cfg.n_folds):
        torch.manual_seed(cfg.seed + k)     # a different init per fold model
        held_out = torch.from_numpy(fold == k)
        model = Model(x.shape[1], cfg.hidden)
        model.load_state_dict(train(model, x[~held_out], y[~held_out], x[held_out], y[held_out], cfg, cfg.seed + k))
        model.eval()
        with torch.no_grad():
            preds.append(model(x_test))                                                 # (M,)
    preds = torch.stack(preds).mean(dim=0).numpy()

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "tested_positive"])
        writer.writerows(zip(test_df["id"], preds))


if __name__ == "__main__":
    main()
