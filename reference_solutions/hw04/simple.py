"""
HW4 reference solution, level "simple": the course's sample code, unchanged.

    python reference_solutions/hw04/simple.py --data DATA_DIR --out OUT_DIR/output.csv

DATA_DIR holds Dataset/ (metadata.json, mapping.json, testdata.json, uttr-*.pt). The script trains the
sample Classifier (Linear 40 -> 80, one nn.TransformerEncoderLayer with 2 heads and a 256-wide
feed-forward, mean pooling over time, Linear-ReLU-Linear) with AdamW and the warm-up + cosine schedule,
then predicts every test utterance alone (batch size 1) and writes output.csv (Id,Category).

Everything that draws random numbers happens in the same order as in the starter notebook
(starter/hw04.py): set_seed(87), the random 90/10 split, the data loaders, the model's init, the
random 48-frame segments and dropout. So with the same config the unchanged starter trains the very same
weights and writes the same output.csv. Like the notebook it saves model.state_dict() (the live weights,
not a copy) at save_steps, so the model it predicts with is the one of the last step.
Accuracy on the generated ci data (tools/hw04_ladder.py, seeds 1-3): 0.31-0.44 per board.
About 12 s of CPU on one thread at ci scale (1.5 s of it importing torch).
"""
import argparse
import csv
import json
import math
import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pad_sequence
from torch.optim import AdamW
from torch.optim.lr_scheduler import LambdaLR
from torch.utils.data import DataLoader, Dataset, random_split


@dataclass
class Config:
    seed: int = 87
    segment_len: int = 48       # course: 128 (this course's utterances are shorter)
    batch_size: int = 32
    lr: float = 1e-3
    valid_steps: int = 100      # course: 2000
    warmup_steps: int = 40      # course: 1000
    save_steps: int = 400       # course: 10000
    total_steps: int = 400      # course: 70000
    d_model: int = 80
    dropout: float = 0.1


def set_seed(seed):
    np.random.seed(seed)
    random.seed(seed)
    torch.manual_seed(seed)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True


class myDataset(Dataset):
    """Training utterances as (random segment (<= segment_len, 40), speaker id); files read once."""

    def __init__(self, data_dir, segment_len):
        self.data_dir, self.segment_len, self.cache = data_dir, segment_len, {}
        self.speaker2id = json.load(open(Path(data_dir) / "mapping.json"))["speaker2id"]
        metadata = json.load(open(Path(data_dir) / "metadata.json"))["speakers"]
        self.speaker_num = len(metadata)
        self.data = [[u["feature_path"], self.speaker2id[spk]] for spk in metadata for u in metadata[spk]]

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        feat_path, speaker = self.data[index]
        if feat_path not in self.cache:
            self.cache[feat_path] = torch.load(os.path.join(self.data_dir, feat_path))
        mel = self.cache[feat_path]                                   # (T, 40)
        if len(mel) > self.segment_len:
            start = random.randint(0, len(mel) - self.segment_len)   # Python's global generator, as the course
            mel = torch.FloatTensor(mel[start:start + self.segment_len])
        else:
            mel = torch.FloatTensor(mel)
        return mel, torch.FloatTensor([speaker]).long()


def collate_batch(batch):
    """Pad to the longest segment with -20 (log 10^-20): (B, T, 40), (B,)."""
    mel, speaker = zip(*batch)
    mel = pad_sequence(mel, batch_first=True, padding_value=-20)
    return mel, torch.FloatTensor(speaker).long()


class Classifier(nn.Module):
    def __init__(self, d_model=80, n_spks=600, dropout=0.1):
        super().__init__()
        self.prenet = nn.Linear(40, d_model)
        self.encoder_layer = nn.TransformerEncoderLayer(d_model=d_model, dim_feedforward=256, nhead=2)
        self.pred_layer = nn.Sequential(nn.Linear(d_model, d_model), nn.ReLU(), nn.Linear(d_model, n_spks))

    def forward(self, mels):                        # (B, T, 40)
        out = self.prenet(mels).permute(1, 0, 2)    # (T, B, d): the layer is not batch_first
        out = self.encoder_layer(out).transpose(0, 1)   # (B, T, d)
        stats = out.mean(dim=1)                     # (B, d): mean over time, padding frames included
        return self.pred_layer(stats)               # (B, n_spks)


def get_cosine_schedule_with_warmup(optimizer, num_warmup_steps, num_training_steps, num_cycles=0.5):
    def lr_lambda(step):
        if step < num_warmup_steps:
            return step / max(1, num_warmup_steps)
        progress = (step - num_warmup_steps) / max(1, num_training_steps - num_warmup_steps)
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * num_cycles * 2.0 * progress)))
    return LambdaLR(optimizer, lr_lambda)


def model_fn(batch, model, criterion):
    mels, labels = batch
    outs = model(mels)
    return criterion(outs, labels), torch.mean((outs.argmax(1) == labels).float())


def valid(loader, model, criterion):
    model.eval()
    accuracy = 0.0
    with torch.no_grad():
        for batch in loader:
            accuracy += model_fn(batch, model, criterion)[1].item()
    model.train()
    return accuracy / len(loader)


def train(cfg, data_dir, save_path):
    dataset = myDataset(data_dir, cfg.segment_len)
    trainlen = int(0.9 * len(dataset))
    trainset, validset = random_split(dataset, [trainlen, len(dataset) - trainlen])   # global generator
    train_loader = DataLoader(trainset, batch_size=cfg.batch_size, shuffle=True, drop_last=True,
                              collate_fn=collate_batch)
    valid_loader = DataLoader(validset, batch_size=cfg.batch_size, drop_last=True, collate_fn=collate_batch)
    train_iterator = iter(train_loader)

    model = Classifier(d_model=cfg.d_model, n_spks=dataset.speaker_num, dropout=cfg.dropout)
    criterion = nn.CrossEntropyLoss()
    optimizer = AdamW(model.parameters(), lr=cfg.lr)
    scheduler = get_cosine_schedule_with_warmup(optimizer, cfg.warmup_steps, cfg.total_steps)
    best_accuracy, best_state_dict = -1.0, None
    for step in range(cfg.total_steps):
        try:
            batch = next(train_iterator)
        except StopIteration:           # a new epoch: a new shuffle
            train_iterator = iter(train_loader)
            batch = next(train_iterator)
        loss, _ = model_fn(batch, model, criterion)
        loss.backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        if (step + 1) % cfg.valid_steps == 0:
            accuracy = valid(valid_loader, model, criterion)
            print(f"step {step + 1}: train loss {loss.item():.2f}, valid accuracy {accuracy:.3f}", flush=True)
            if accuracy > best_accuracy:
                best_accuracy, best_state_dict = accuracy, model.state_dict()   # live weights, as the course
        if (step + 1) % cfg.save_steps == 0 and best_state_dict is not None:
            torch.save(best_state_dict, save_path)


def predict(cfg, data_dir, model_path, output_path):
    """Every test utterance alone (batch size 1, no padding), as the sample's inference."""
    mapping = json.load(open(Path(data_dir) / "mapping.json"))
    utterances = json.load(open(Path(data_dir) / "testdata.json"))["utterances"]
    model = Classifier(d_model=cfg.d_model, n_spks=len(mapping["id2speaker"]))
    model.load_state_dict(torch.load(model_path))
    model.eval()
    rows = [["Id", "Category"]]
    with torch.no_grad():
        for u in utterances:
            mel = torch.load(os.path.join(data_dir, u["feature_path"]))          # (T, 40)
            pred = model(mel[None]).argmax(1).item()
            rows.append([u["feature_path"], mapping["id2speaker"][str(pred)]])
    with open(output_path, "w", newline="") as f:
        csv.writer(f).writerows(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="folder that holds Dataset/")
    parser.add_argument("--out", required=True, help="where to write output.csv")
    args = parser.parse_args()
    cfg = Config()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    set_seed(cfg.seed)
    data_dir = os.path.join(args.data, "Dataset")
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    save_path = os.path.join(out_dir, "model.ckpt")
    train(cfg, data_dir, save_path)
    predict(cfg, data_dir, save_path, args.out)


if __name__ == "__main__":
    main()
