"""HW11 simple: the sample code's DaNN as the starter notebook runs it (lambda = 0.1, 1 epoch).

    python reference_solutions/hw11/simple.py --data RELEASE_DIR --out OUT/DaNN_submission.csv

The starter's training with the same seed, networks, optimizers and batches, so the unchanged starter
lands here: photos through the edge filter, a constant lambda of 0.1, one epoch, argmax predictions.
Expected: ~0.22-0.34 accuracy on the ci data; ~5 s of CPU on one thread.
"""
import argparse
import math
import os
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset, TensorDataset


@dataclass
class Config:
    seed: int = 0
    batch_size: int = 32
    n_epochs: int = 1
    lr: float = 1e-3              # Adam's default, as the sample code
    lamb: float = 0.1             # the largest lambda of the schedule
    schedule: bool = False        # Ganin et al.: lambda_p = lamb * (2 / (1 + exp(-10 p)) - 1), p = progress
    cosine: bool = False          # decay the learning rate: the last epoch's predictions are stable
    balance: bool = False         # the drawings are label-balanced: re-assign predictions to 10 % per class
    sinkhorn_iters: int = 50
    self_rounds: int = 0          # self-training rounds on balanced pseudo-labels
    self_epochs: int = 2
    self_lr: float = 3e-4
    keep_first: float = 0.5       # share of each class's pseudo-labels kept in the first round ...
    keep_last: float = 0.9        # ... and in the last


# ----------------------------------------------------------------------------- data (the starter's)

def canny(gray, low=170, high=300):
    """gray: [H, W] float tensor in 0..255 -> [H, W] edge map with values 0 or 255."""
    x = gray[None, None]
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    g = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), torch.stack([kx, kx.T])[:, None])
    magnitude = g.abs().sum(1, keepdim=True)
    strong = (magnitude >= high).float()
    edges = (magnitude >= low) & (F.max_pool2d(strong, 3, 1, 1) > 0)
    return edges.float()[0, 0] * 255


def _rotate(x, degrees):
    a = np.deg2rad(degrees)
    theta = torch.tensor([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0]], dtype=torch.float32)
    grid = F.affine_grid(theta[None], [1, *x.shape], align_corners=False)
    return F.grid_sample(x[None], grid, align_corners=False)[0]


def _augment(x):
    if torch.rand(()) < 0.5:
        x = torch.flip(x, dims=[2])
    return _rotate(x, float(torch.rand(()) * 30 - 15))


def source_transform(img):
    gray = torch.from_numpy(np.asarray(img.convert("L"), dtype=np.float32))
    return _augment((canny(gray, 170, 300) / 255)[None])                     # [1, 32, 32]


def test_transform(img):
    img = img.convert("L").resize((32, 32), Image.BILINEAR)
    return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255)[None]  # [1, 32, 32]


def target_transform(img):
    return _augment(test_transform(img))


class ImageFolder(Dataset):
    def __init__(self, root, transform):
        self.classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
        self.samples = [(os.path.join(root, c, f), i) for i, c in enumerate(self.classes)
                        for f in sorted(os.listdir(os.path.join(root, c)))]
        self.images = []
        for path, _ in self.samples:
            with Image.open(path) as im:
                self.images.append(im.copy())
        self.transform = transform

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, idx):
        return self.transform(self.images[idx]), self.samples[idx][1]


# ----------------------------------------------------------------------------- models (the starter's)

def _block(i, o):
    return [nn.Conv2d(i, o, 3, 1, 1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2)]


class FeatureExtractor(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(*_block(1, 16), *_block(16, 32), *_block(32, 64), *_block(64, 64), *_block(64, 128))

    def forward(self, x):                      # [B, 1, 32, 32] -> [B, 128]
        return self.conv(x).squeeze()


class LabelPredictor(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Sequential(nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, h):                      # [B, 128] -> [B, 10]
        return self.layer(h)


class DomainClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        layers = []
        for _ in range(4):
            layers += [nn.Linear(128, 128), nn.BatchNorm1d(128), nn.ReLU()]
        self.layer = nn.Sequential(*layers, nn.Linear(128, 1))

    def forward(self, h):                      # [B, 128] -> [B, 1]
        return self.layer(h)


class GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, lamb):
        ctx.lamb = lamb
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_output):
        return -ctx.lamb * grad_output, None


def grad_reverse(x, lamb):
    return GradReverse.apply(x, lamb)


# ----------------------------------------------------------------------------- training

def sinkhorn(P, iters):
    """Rescale the predicted probabilities [N, 10] so that every class gets N/10 of the mass (the
    drawings are label-balanced) while every drawing keeps a total of 1; argmax then spreads evenly."""
    Q = P.clone()
    for _ in range(iters):
        Q = Q / Q.sum(0, keepdim=True)
        Q = Q / Q.sum(1, keepdim=True)
    return Q


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=".")
    ap.add_argument("--out", default="DaNN_submission.csv")
    args = ap.parse_args()
    cfg = Config()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    t0 = time.time()

    source = ImageFolder(os.path.join(args.data, "real_or_drawing/train_data"), source_transform)
    target = ImageFolder(os.path.join(args.data, "real_or_drawing/test_data"), target_transform)
    test = ImageFolder(os.path.join(args.data, "real_or_drawing/test_data"), test_transform)
    source_loader = DataLoader(source, batch_size=cfg.batch_size, shuffle=True)
    target_loader = DataLoader(target, batch_size=cfg.batch_size, shuffle=True)
    test_loader = DataLoader(test, batch_size=128, shuffle=False)

    fe, lp, dc = FeatureExtractor(), LabelPredictor(), DomainClassifier()
    opt_F, opt_C, opt_D = (torch.optim.Adam(m.parameters(), lr=cfg.lr) for m in (fe, lp, dc))
    class_criterion, domain_criterion = nn.CrossEntropyLoss(), nn.BCEWithLogitsLoss()

    def set_lr(lr):
        for opt in (opt_F, opt_C, opt_D):
            for group in opt.param_groups:
                group["lr"] = lr

    def step(xs, ys, xt, lamb, yt=None):
        """One DaNN step: the domain classifier on detached features, then F and C through the GRL.
        yt: pseudo-labels of the target batch (self-training), or None."""
        mixed = torch.cat([xs, xt])                                   # [Bs + Bt, 1, 32, 32]
        domain_label = torch.zeros(len(mixed), 1)
        domain_label[: len(xs)] = 1
        feature = fe(mixed)                                           # [Bs + Bt, 128]
        loss = domain_criterion(dc(feature.detach()), domain_label)
        loss.backward()
        opt_D.step()
        opt_D.zero_grad()
        logits = lp(feature if yt is not None else feature[: len(xs)])
        loss = class_criterion(logits[: len(xs)], ys)
        if yt is not None:
            loss = loss + class_criterion(logits[len(xs):], yt)
        loss = loss + domain_criterion(dc(grad_reverse(feature, lamb)), domain_label)
        loss.backward()
        opt_F.step()
        opt_C.step()
        for opt in (opt_D, opt_F, opt_C):
            opt.zero_grad()

    def probabilities():
        fe.eval()
        lp.eval()
        with torch.no_grad():
            P = torch.cat([F.softmax(lp(fe(x)), 1) for x, _ in test_loader])   # [N, 10]
        fe.train()
        lp.train()
        return P

    n_steps = cfg.n_epochs * len(source_loader)
    for epoch in range(cfg.n_epochs):
        for i, ((xs, ys), (xt, _)) in enumerate(zip(source_loader, target_loader)):
            p = (epoch * len(source_loader) + i) / n_steps
            # Small lambda first (the features are still random), up to cfg.lamb.
            lamb = cfg.lamb * (2 / (1 + math.exp(-10 * p)) - 1) if cfg.schedule else cfg.lamb
            if cfg.cosine:
                set_lr(cfg.lr * 0.5 * (1 + math.cos(math.pi * p)))
            step(xs, ys, xt, lamb)
        print(f"epoch {epoch}: {time.time() - t0:.0f} s", flush=True)

    # Self-training: balanced pseudo-labels of the drawings, the confident part of each class.
    set_lr(cfg.self_lr)
    for r in range(cfg.self_rounds):
        Q = sinkhorn(probabilities(), cfg.sinkhorn_iters)
        confidence, pseudo = Q.max(1)
        share = cfg.keep_first + (cfg.keep_last - cfg.keep_first) * r / max(1, cfg.self_rounds - 1)
        keep = []
        for k in range(10):
            idx = torch.nonzero(pseudo == k).flatten()
            keep.append(idx[confidence[idx].argsort(descending=True)][: int(share * len(Q) / 10)])
        keep = torch.cat(keep)
        pseudo_loader = DataLoader(TensorDataset(keep, pseudo[keep]), batch_size=cfg.batch_size, shuffle=True)
        for _ in range(cfg.self_epochs):
            for (xs, ys), (idx, yt) in zip(source_loader, pseudo_loader):
                xt = torch.stack([target[j][0] for j in idx.tolist()])     # augmented drawings
                step(xs, ys, xt, cfg.lamb, yt)
        print(f"self-training round {r}: {len(keep)} pseudo-labels, {time.time() - t0:.0f} s", flush=True)

    P = probabilities()
    result = (sinkhorn(P, cfg.sinkhorn_iters) if cfg.balance else P).argmax(1).numpy()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    pd.DataFrame({"id": np.arange(len(result)), "label": result}).to_csv(args.out, index=False)
    print(f"wrote {args.out}: {len(result)} rows, {np.bincount(result, minlength=10)} per class, "
          f"{time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
