"""
HW4 reference solution, level "boss": strong + self-attention pooling + additive-margin softmax
(course hint).

    python reference_solutions/hw04/boss.py --data DATA_DIR --out OUT_DIR/output.csv

DATA_DIR holds Dataset/ (metadata.json, mapping.json, testdata.json, uttr-*.pt); the script writes
output.csv (Id,Category) and model.ckpt next to it. Changes against strong:
  * self-attention pooling (Safari et al. 2020, arXiv:2008.01077): a learned score per frame, a softmax
    over the real frames, the weighted mean. Only voiced frames carry the speaker, and their share
    changes from one utterance to the next (pauses, unvoiced phones, noise): mean pooling dilutes the
    signature by that share, attention pooling weights the frames that carry it;
  * additive-margin softmax (Wang et al. 2018, arXiv:1801.05599): the logits are cosines between the
    normalised embedding and normalised speaker weights; training subtracts a margin m from the true
    speaker's cosine and scales by s. The embedding's length (which mean pooling ties to the voiced
    share) no longer matters, and the two speakers of a look-alike pair are pushed apart by the margin.
  * twice strong's steps (800): with 400 the margin had not yet pushed every look-alike pair apart and
    boss landed at 0.89-0.96, within reach of a lucky strong run (strong spans 0.63-0.95 over data and
    model seeds); with 800 it gives 0.98 on both boards (tools/hw04_ladder.py, data seeds 15 and
    260784131934512732).
Prediction is the speaker of the largest cosine.
About 67 s of CPU on one thread at ci scale (1.5 s of it importing torch).
"""
import argparse
import copy
import csv
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence

PAD = -20.0     # the course pads with log 10^-20; real frames never come near it


@dataclass
class Config:
    seed: int = 87
    segment_len: int = 48
    batch_size: int = 32
    lr: float = 1e-3
    warmup_steps: int = 40
    total_steps: int = 800     # strong: 400; the margin needs the longer run to separate the pairs
    valid_steps: int = 100
    valid_ratio: float = 0.1
    d_model: int = 80          # medium: 128; a Conformer block costs more per step, and 80 is enough
    nhead: int = 4
    num_layers: int = 2
    dim_feedforward: int = 256
    kernel_size: int = 15       # depthwise convolution over time (odd: output length = input length)
    dropout: float = 0.1
    margin: float = 0.2         # AM-softmax m: subtracted from the true speaker's cosine
    scale: float = 30.0         # AM-softmax s: cosines are in [-1, 1], the softmax needs a larger range


class FeedForward(nn.Module):
    def __init__(self, d, hidden, dropout):
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, hidden), nn.SiLU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, d), nn.Dropout(dropout))

    def forward(self, x):                                      # (B, T, d) -> (B, T, d)
        return self.net(x)


class ConvModule(nn.Module):
    def __init__(self, d, kernel_size, dropout):
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.pointwise1 = nn.Conv1d(d, 2 * d, 1)
        self.depthwise = nn.Conv1d(d, d, kernel_size, padding=kernel_size // 2, groups=d)
        self.batch_norm = nn.BatchNorm1d(d)
        self.pointwise2 = nn.Conv1d(d, d, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, pad):                                 # (B, T, d), (B, T)
        y = self.norm(x).masked_fill(pad.unsqueeze(-1), 0.0)   # padding must not leak into real frames
        y = F.glu(self.pointwise1(y.transpose(1, 2)), dim=1)   # (B, d, T)
        y = F.silu(self.batch_norm(self.depthwise(y)))
        return self.dropout(self.pointwise2(y).transpose(1, 2))


class ConformerBlock(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg.d_model
        self.ff1 = FeedForward(d, cfg.dim_feedforward, cfg.dropout)
        self.attn_norm = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, cfg.nhead, dropout=cfg.dropout, batch_first=True)
        self.attn_dropout = nn.Dropout(cfg.dropout)
        self.conv = ConvModule(d, cfg.kernel_size, cfg.dropout)
        self.ff2 = FeedForward(d, cfg.dim_feedforward, cfg.dropout)
        self.norm = nn.LayerNorm(d)

    def forward(self, x, pad):                                 # (B, T, d), (B, T) -> (B, T, d)
        x = x + 0.5 * self.ff1(x)                              # macaron: half-step feed-forward
        y = self.attn_norm(x)
        y, _ = self.attn(y, y, y, key_padding_mask=pad, need_weights=False)
        x = x + self.attn_dropout(y)
        x = x + self.conv(x, pad)
        x = x + 0.5 * self.ff2(x)
        return self.norm(x)


class SelfAttentionPooling(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.score = nn.Linear(d, 1)

    def forward(self, x, pad):                                 # (B, T, d), (B, T) -> (B, d)
        weights = self.score(x).squeeze(-1).masked_fill(pad, float("-inf")).softmax(dim=1)   # (B, T)
        return (weights.unsqueeze(-1) * x).sum(1)


class Classifier(nn.Module):
    def __init__(self, cfg, n_spks):
        super().__init__()
        self.prenet = nn.Linear(40, cfg.d_model)
        self.blocks = nn.ModuleList(ConformerBlock(cfg) for _ in range(cfg.num_layers))
        self.pooling = SelfAttentionPooling(cfg.d_model)
        self.embed = nn.Linear(cfg.d_model, cfg.d_model)
        self.speakers = nn.Parameter(torch.randn(n_spks, cfg.d_model) * cfg.d_model ** -0.5)

    def forward(self, mels):                                   # (B, T, 40) -> (B, n_spks) cosines
        pad = (mels == PAD).all(dim=-1)                        # (B, T) True on padding frames
        out = self.prenet(mels)                                # (B, T, d)
        for block in self.blocks:
            out = block(out, pad)
        emb = F.normalize(self.embed(self.pooling(out, pad)), dim=-1)    # (B, d), unit length
        return emb @ F.normalize(self.speakers, dim=-1).t()             # cos(embedding, speaker)


def am_softmax_loss(cosines, labels, cfg):
    """Cross-entropy on s * (cos - m * [true speaker]): the true speaker must win by a margin."""
    margin = cfg.margin * F.one_hot(labels, cosines.shape[1])
    return F.cross_entropy(cfg.scale * (cosines - margin), labels)


def cosine_with_warmup(step, cfg):
    if step < cfg.warmup_steps:
        return step / max(1, cfg.warmup_steps)
    progress = (step - cfg.warmup_steps) / max(1, cfg.total_steps - cfg.warmup_steps)
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))


def load_training(data_dir):
    """All training utterances in memory: list of (T, 40) tensors, speaker ids (N,), speaker count."""
    speaker2id = json.load(open(Path(data_dir) / "mapping.json"))["speaker2id"]
    metadata = json.load(open(Path(data_dir) / "metadata.json"))["speakers"]
    mels, labels = [], []
    for spk, utterances in metadata.items():
        for u in utterances:
            mels.append(torch.load(os.path.join(data_dir, u["feature_path"])))
            labels.append(speaker2id[spk])
    return mels, torch.tensor(labels), len(speaker2id)


def segments(mels, idx, cfg, gen):
    """Random segment_len-frame crops of the utterances idx, padded: (B, T, 40)."""
    out = []
    for i in idx.tolist():
        m = mels[i]
        if len(m) > cfg.segment_len:
            start = int(torch.randint(0, len(m) - cfg.segment_len + 1, (1,), generator=gen))
            m = m[start:start + cfg.segment_len]
        out.append(m)
    return pad_sequence(out, batch_first=True, padding_value=PAD)


@torch.no_grad()
def predict(model, mels, batch_size=64):
    """argmax speaker of every whole utterance, in padded batches of similar length: (N,)."""
    model.eval()
    order = sorted(range(len(mels)), key=lambda i: len(mels[i]))
    preds = torch.empty(len(mels), dtype=torch.long)
    for k in range(0, len(order), batch_size):
        idx = order[k:k + batch_size]
        batch = pad_sequence([mels[i] for i in idx], batch_first=True, padding_value=PAD)
        preds[idx] = model(batch).argmax(1)
    return preds


def train(cfg, mels, labels, n_spks):
    gen = torch.Generator().manual_seed(cfg.seed)
    perm = torch.randperm(len(mels), generator=gen)
    n_valid = int(cfg.valid_ratio * len(mels))
    valid_idx, train_idx = perm[:n_valid], perm[n_valid:]
    valid_mels = [mels[i] for i in valid_idx.tolist()]

    torch.manual_seed(cfg.seed)     # init and dropout draw from the global generator
    model = Classifier(cfg, n_spks)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: cosine_with_warmup(s, cfg))
    best_accuracy, best_state, order = -1.0, None, torch.empty(0, dtype=torch.long)
    for step in range(cfg.total_steps):
        if len(order) < cfg.batch_size:                         # a new epoch: a new shuffle
            order = train_idx[torch.randperm(len(train_idx), generator=gen)]
        idx, order = order[:cfg.batch_size], order[cfg.batch_size:]
        model.train()
        loss = am_softmax_loss(model(segments(mels, idx, cfg, gen)), labels[idx], cfg)
        loss.backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        if (step + 1) % cfg.valid_steps == 0:
            accuracy = (predict(model, valid_mels) == labels[valid_idx]).float().mean().item()
            print(f"step {step + 1}: train loss {loss.item():.2f}, valid accuracy {accuracy:.3f}", flush=True)
            if accuracy > best_accuracy:
                best_accuracy, best_state = accuracy, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="folder that holds Dataset/")
    parser.add_argument("--out", required=True, help="where to write output.csv")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override Config fields")
    args = parser.parse_args()
    cfg = Config()
    for item in args.set:
        key, value = item.split("=", 1)
        setattr(cfg, key, type(getattr(cfg, key))(value))
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    data_dir = os.path.join(args.data, "Dataset")
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)

    mels, labels, n_spks = load_training(data_dir)
    model = train(cfg, mels, labels, n_spks)
    torch.save(model.state_dict(), os.path.join(out_dir, "model.ckpt"))

    id2speaker = json.load(open(Path(data_dir) / "mapping.json"))["id2speaker"]
    test = json.load(open(Path(data_dir) / "testdata.json"))["utterances"]
    preds = predict(model, [torch.load(os.path.join(data_dir, u["feature_path"])) for u in test])
    with open(args.out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["Id", "Category"])
        writer.writerows((u["feature_path"], id2speaker[str(p)]) for u, p in zip(test, preds.tolist()))


if __name__ == "__main__":
    main()
