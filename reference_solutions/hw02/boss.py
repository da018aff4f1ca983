"""
HW2 reference solution, level "boss": sequence labelling with an RNN (course hint): a
bidirectional LSTM reads whole utterances and labels every frame.

    python reference_solutions/hw02/boss.py --data DATA_DIR --out OUT_DIR/prediction.csv [--seed 0]

DATA_DIR holds libriphone/; the script writes prediction.csv (Id,Class). Instead of a window of
frames the model sees the utterance: 39-dim frames -> 2-layer BiLSTM (96 units per direction,
dropout 0.3 between the layers) -> Linear -> 41 logits per frame. In this data a phone's identity
is fixed by the word it belongs to, which spans 3-7 phones (20-40 frames), far more than an
11-frame window; the forward and backward states carry that context across the utterance.
Utterances are batched by similar length; the backward layers read each utterance reversed within
its own length, so padding never reaches a real frame. The same utterance-level train/valid split
as the sample code; AdamW lr 2e-3 with gradient clipping, the best epoch by validation frame
accuracy. About 0.06 above strong on the ci corpus (data seeds 1, 2, 3, 7: +7 to +9 % relative).
About 26 s on one CPU thread, 4 s of it importing torch.
"""
import argparse
import os
import random
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pad_sequence


@dataclass
class Config:
    seed: int = 0
    train_ratio: float = 0.8
    batch_size: int = 8         # utterances per step
    num_epoch: int = 25
    learning_rate: float = 2e-3
    hidden_dim: int = 96        # per direction
    num_layers: int = 2
    dropout: float = 0.3
    clip: float = 1.0


def load_split(split, phone_path, train_ratio=0.8, train_val_seed=1337):
    """Utterances of a split as lists of (T, 39) features and (T,) labels (None for test)."""
    mode = "train" if split in ("train", "val") else "test"
    if mode == "train":
        label_dict = {}
        for line in open(os.path.join(phone_path, "train_labels.txt")).readlines():
            line = line.strip("\n").split(" ")
            label_dict[line[0]] = [int(p) for p in line[1:]]
        usage_list = open(os.path.join(phone_path, "train_split.txt")).readlines()
        random.seed(train_val_seed)     # the sample code's utterance-level split
        random.shuffle(usage_list)
        percent = int(len(usage_list) * train_ratio)
        usage_list = usage_list[:percent] if split == "train" else usage_list[percent:]
    else:
        usage_list = open(os.path.join(phone_path, "test_split.txt")).readlines()
    usage_list = [line.strip("\n") for line in usage_list]
    feats = [torch.load(os.path.join(phone_path, "feat", mode, f"{u}.pt")) for u in usage_list]
    labels = [torch.LongTensor(label_dict[u]) for u in usage_list] if mode == "train" else None
    print(f"{split}: {len(feats)} utterances, {sum(len(f) for f in feats)} frames")
    return feats, labels


def reverse_within(x, lengths):
    """(B, T, D) -> (B, T, D): every sequence reversed inside its own length; padding stays at the end."""
    t = torch.arange(x.size(1))[None]                                        # (1, T)
    idx = torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)     # (B, T)
    return x.gather(1, idx[:, :, None].expand_as(x))


class Tagger(nn.Module):
    """(B, T, 39) padded utterances + lengths -> (B, T, 41) logits per frame.

    A bidirectional LSTM built from one-directional layers: the backward layer reads each utterance
    reversed within its own length, so padding (always at the end) never reaches a real frame in
    either direction. That is what pack_padded_sequence guarantees too, at about 8x the CPU time.
    """

    def __init__(self, input_dim=39, output_dim=41, hidden_dim=64, num_layers=2, dropout=0.3):
        super().__init__()
        dims = [input_dim] + [2 * hidden_dim] * (num_layers - 1)
        self.fwd = nn.ModuleList(nn.LSTM(d, hidden_dim, batch_first=True) for d in dims)
        self.bwd = nn.ModuleList(nn.LSTM(d, hidden_dim, batch_first=True) for d in dims)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(2 * hidden_dim, output_dim)

    def forward(self, x, lengths):
        for layer, (fwd, bwd) in enumerate(zip(self.fwd, self.bwd)):
            if layer:
                x = self.drop(x)                                             # between layers, as nn.LSTM does
            back = reverse_within(bwd(reverse_within(x, lengths))[0], lengths)
            x = torch.cat([fwd(x)[0], back], dim=-1)                         # (B, T, 2H)
        return self.out(x)


def batches(feats, labels, order, batch_size):
    """Padded batches over `order`: x (B, T, 39), lengths (B,), y (B, T) with -100 on padding."""
    for s in range(0, len(order), batch_size):
        idx = order[s:s + batch_size]
        x = pad_sequence([feats[i] for i in idx], batch_first=True)
        lengths = torch.tensor([len(feats[i]) for i in idx])
        y = pad_sequence([labels[i] for i in idx], batch_first=True, padding_value=-100) if labels else None
        yield x, lengths, y


def predict(model, feats, batch_size):
    """Frame classes of every utterance, concatenated in order."""
    model.eval()
    out = []
    with torch.no_grad():
        for x, lengths, _ in batches(feats, None, list(range(len(feats))), batch_size):
            pred = model(x, lengths).argmax(-1)                                  # (B, T)
            out += [p[:n] for p, n in zip(pred, lengths.tolist())]
    return torch.cat(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="folder with libriphone/")
    parser.add_argument("--out", required=True, help="where to write prediction.csv")
    parser.add_argument("--seed", type=int, default=Config.seed)
    args = parser.parse_args()
    cfg = Config(seed=args.seed)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    torch.manual_seed(cfg.seed)     # model init and dropout masks
    rng = np.random.default_rng(cfg.seed)

    phone_path = os.path.join(args.data, "libriphone")
    train_x, train_y = load_split("train", phone_path, cfg.train_ratio)
    val_x, val_y = load_split("val", phone_path, cfg.train_ratio)
    val_y_flat = torch.cat(val_y)

    model = Tagger(hidden_dim=cfg.hidden_dim, num_layers=cfg.num_layers, dropout=cfg.dropout)
    criterion = nn.CrossEntropyLoss(ignore_index=-100)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate)
    train_len = np.array([len(f) for f in train_x])

    best_acc, best_state = -1.0, None
    for epoch in range(cfg.num_epoch):
        model.train()
        # batches of similar length (little padding), visited in a random order
        order = np.argsort(train_len + rng.uniform(0, 40, len(train_len)), kind="stable")
        chunks = [order[i:i + cfg.batch_size] for i in range(0, len(order), cfg.batch_size)]
        for k in rng.permutation(len(chunks)):
            x, lengths, y = next(batches(train_x, train_y, chunks[k].tolist(), cfg.batch_size))
            optimizer.zero_grad()
            loss = criterion(model(x, lengths).reshape(-1, 41), y.reshape(-1))
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)    # LSTMs' occasional large gradients
            optimizer.step()
        val_acc = (predict(model, val_x, 32) == val_y_flat).float().mean().item()
        print(f"[{epoch + 1:03d}/{cfg.num_epoch:03d}] loss {loss.item():.3f} val acc {val_acc:.4f}")
        if val_acc > best_acc:
            best_acc, best_state = val_acc, {k: v.clone() for k, v in model.state_dict().items()}

    model.load_state_dict(best_state)
    test_x, _ = load_split("test", phone_path)
    pred = predict(model, test_x, 32)

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write("Id,Class\n")
        f.writelines(f"{i},{c}\n" for i, c in enumerate(pred.tolist()))


if __name__ == "__main__":
    main()
