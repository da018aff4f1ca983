"""
HW2 reference solution, level "strong": medium + batch normalisation + dropout, trained at a
higher learning rate (course hint: concat n frames, batchnorm, dropout, more layers).

    python reference_solutions/hw02/strong.py --data DATA_DIR --out OUT_DIR/prediction.csv [--seed 0]

DATA_DIR holds libriphone/; the script writes prediction.csv (Id,Class). Changes against medium
(same 11-frame window, 429 -> 256 x 4 -> 41, split, seeds and epochs):
  * every BasicBlock is Linear -> BatchNorm1d -> ReLU -> Dropout(0.25) (the notebook's TODO);
  * learning rate 1e-3 instead of 1e-4: the sample's step leaves the net under-trained after its
    10 epochs, and batchnorm (every layer's inputs kept on one scale) makes the larger step pay;
  * dropout: at that learning rate the plain net peaks after ~7 epochs and then memorises the few
    hundred training utterances; dropping a quarter of the units keeps it improving.
Each change is needed (ci corpus, data seed 1, all test frames): medium 0.677; lr 1e-3 alone 0.724,
+ batchnorm only 0.720, + dropout only 0.735; batchnorm + dropout at lr 1e-4 0.682; this file 0.747
(the strong threshold is that minus 1 %). About 17 s on one CPU thread, 4 s of it importing torch.
"""
import argparse
import os
import random
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset


@dataclass
class Config:
    seed: int = 0
    concat_nframes: int = 11    # frames per input: the centre frame and 5 on each side (sample: 1)
    train_ratio: float = 0.8
    batch_size: int = 512
    num_epoch: int = 10         # course: 5 epochs over 2.1M frames; this corpus is far smaller
    learning_rate: float = 1e-3  # sample: 1e-4, which leaves 10 epochs under-trained
    hidden_layers: int = 3      # sample: 1
    hidden_dim: int = 256
    dropout: float = 0.25


def shift(x, n):
    """(T, D) -> (T, D): frame t becomes frame t+n; the edge frame fills in."""
    if n < 0:
        return torch.cat((x[0].repeat(-n, 1), x[:n]), dim=0)
    if n > 0:
        return torch.cat((x[n:], x[-1].repeat(n, 1)), dim=0)
    return x


def concat_feat(x, concat_n):
    """(T, D) -> (T, concat_n * D): each frame with its (concat_n - 1) / 2 past and future frames."""
    assert concat_n % 2 == 1
    if concat_n < 2:
        return x
    seq_len, feature_dim = x.size(0), x.size(1)
    x = x.repeat(1, concat_n).view(seq_len, concat_n, feature_dim).permute(1, 0, 2)   # (n, T, D)
    mid = concat_n // 2
    for r in range(1, mid + 1):
        x[mid + r, :] = shift(x[mid + r], r)
        x[mid - r, :] = shift(x[mid - r], -r)
    return x.permute(1, 0, 2).view(seq_len, concat_n * feature_dim)


def preprocess_data(split, feat_dir, phone_path, concat_nframes, train_ratio=0.8, train_val_seed=1337):
    """The sample code's loader: frames of the split's utterances, (N, 39 * n) and labels (N,)."""
    mode = "train" if split in ("train", "val") else "test"
    label_dict = {}
    if mode == "train":
        for line in open(os.path.join(phone_path, "train_labels.txt")).readlines():
            line = line.strip("\n").split(" ")
            label_dict[line[0]] = [int(p) for p in line[1:]]
        usage_list = open(os.path.join(phone_path, "train_split.txt")).readlines()
        random.seed(train_val_seed)     # the course's utterance-level train/valid split
        random.shuffle(usage_list)
        percent = int(len(usage_list) * train_ratio)
        usage_list = usage_list[:percent] if split == "train" else usage_list[percent:]
    else:
        usage_list = open(os.path.join(phone_path, "test_split.txt")).readlines()
    usage_list = [line.strip("\n") for line in usage_list]
    X, y = [], []
    for fname in usage_list:
        feat = torch.load(os.path.join(feat_dir, mode, f"{fname}.pt"))
        X.append(concat_feat(feat, concat_nframes))
        if mode == "train":
            y.append(torch.LongTensor(label_dict[fname]))
    print(f"{split}: {len(usage_list)} utterances, {sum(len(x) for x in X)} frames")
    return (torch.cat(X), torch.cat(y)) if mode == "train" else torch.cat(X)


class LibriDataset(Dataset):
    def __init__(self, X, y=None):
        self.data = X
        self.label = None if y is None else torch.LongTensor(y)

    def __getitem__(self, idx):
        return self.data[idx] if self.label is None else (self.data[idx], self.label[idx])

    def __len__(self):
        return len(self.data)


class BasicBlock(nn.Module):
    def __init__(self, input_dim, output_dim, dropout=0.5):
        super().__init__()
        # batchnorm before the non-linearity, dropout after it (the course notebook's TODO)
        self.block = nn.Sequential(nn.Linear(input_dim, output_dim), nn.BatchNorm1d(output_dim), nn.ReLU(),
                                   nn.Dropout(dropout))

    def forward(self, x):
        return self.block(x)


class Classifier(nn.Module):
    def __init__(self, input_dim, output_dim=41, hidden_layers=1, hidden_dim=256, dropout=0.5):
        super().__init__()
        self.fc = nn.Sequential(
            BasicBlock(input_dim, hidden_dim, dropout),
            *[BasicBlock(hidden_dim, hidden_dim, dropout) for _ in range(hidden_layers)],
            nn.Linear(hidden_dim, output_dim),
        )

    def forward(self, x):           # (B, 39 * n) -> (B, 41)
        return self.fc(x)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="folder with libriphone/")
    parser.add_argument("--out", required=True, help="where to write prediction.csv")
    parser.add_argument("--seed", type=int, default=Config.seed)
    args = parser.parse_args()
    cfg = Config(seed=args.seed)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))

    feat_dir, phone_path = os.path.join(args.data, "libriphone", "feat"), os.path.join(args.data, "libriphone")
    train_X, train_y = preprocess_data("train", feat_dir, phone_path, cfg.concat_nframes, cfg.train_ratio)
    val_X, val_y = preprocess_data("val", feat_dir, phone_path, cfg.concat_nframes, cfg.train_ratio)
    train_set, val_set = LibriDataset(train_X, train_y), LibriDataset(val_X, val_y)
    # the same seeded shuffling generator as the starter notebook; a last batch of a single frame
    # would break batchnorm's statistics, so it is dropped
    train_loader = DataLoader(train_set, batch_size=cfg.batch_size, shuffle=True, drop_last=True,
                              generator=torch.Generator().manual_seed(cfg.seed))
    val_loader = DataLoader(val_set, batch_size=cfg.batch_size, shuffle=False)

    torch.manual_seed(cfg.seed)     # same_seeds(seed): the model init draws from the global generator
    np.random.seed(cfg.seed)
    model = Classifier(39 * cfg.concat_nframes, hidden_layers=cfg.hidden_layers, hidden_dim=cfg.hidden_dim,
                       dropout=cfg.dropout)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate)

    best_acc, best_state = 0.0, None
    for epoch in range(cfg.num_epoch):
        model.train()
        for features, labels in train_loader:
            optimizer.zero_grad()
            loss = criterion(model(features), labels)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            val_acc = sum((model(f).argmax(1) == l).sum().item() for f, l in val_loader)
        print(f"[{epoch + 1:03d}/{cfg.num_epoch:03d}] val acc {val_acc / len(val_set):.4f}")
        if val_acc > best_acc:      # the checkpoint the notebook keeps: the best epoch on validation
            best_acc, best_state = val_acc, {k: v.clone() for k, v in model.state_dict().items()}

    model.load_state_dict(best_state)
    model.eval()
    test_X = preprocess_data("test", feat_dir, phone_path, cfg.concat_nframes)
    with torch.no_grad():
        pred = torch.cat([model(x).argmax(1) for x in DataLoader(LibriDataset(test_X), batch_size=cfg.batch_size)])

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write("Id,Class\n")
        f.writelines(f"{i},{c}\n" for i, c in enumerate(pred.tolist()))


if __name__ == "__main__":
    main()
