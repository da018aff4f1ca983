"""
HW8 reference solution, level "boss": random noise and an extra classifier (course hint).

    python reference_solutions/hw08/boss.py --data DATA_DIR --out OUT_DIR/prediction.csv

DATA_DIR holds data/trainingset.npy and data/testingset.npy; the script writes prediction.csv
(ID,score). Two models, one score:
  * a denoising autoencoder (noise injection): a convolutional autoencoder with a fully connected
    bottleneck, trained to give back the clean face from a noisy copy. It cannot learn to copy noise,
    so damaged pixels come back clean and their error stands out;
  * an extra classifier, trained without any anomaly to see: it tells the training faces from
    pseudo-anomalies made out of them on the fly (CutPaste, Li et al., CVPR 2021: a piece of the face
    pasted elsewhere on it; plus swapped colour channels, a patch smeared to its mean colour, a patch
    of noise). It learns what a face must have (two eyes, skin of skin colour, one face, no seams),
    which no reconstruction error measures: a face without eyes is a simpler picture and comes back
    better than a normal one.
The anomaly score is the sum of the two, each standardised on held-out training faces (so neither
dominates by its scale). ROC AUC 0.80-0.85, 16-27 % above strong on both boards (ci data, five seeds).
About 35 s of CPU on one thread, 4 s of it importing torch.
"""
import argparse
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn


@dataclass
class Config:
    seed: int = 48763
    held_out: int = 400             # training faces kept aside to standardise the two scores
    # the denoising autoencoder
    ae_epochs: int = 20
    ae_channels: int = 16
    latent: int = 64
    noise: float = 0.1              # std of the Gaussian noise added to the input (pixels in [-1, 1])
    # the classifier
    clf_epochs: int = 10
    clf_channels: int = 16
    batch_size: int = 128
    learning_rate: float = 1e-3
    eval_batch_size: int = 200


class Autoencoder(nn.Module):
    def __init__(self, img_size, c, latent):
        super().__init__()
        side = img_size // 8
        self.encoder = nn.Sequential(
            nn.Conv2d(3, c, 4, stride=2, padding=1), nn.ReLU(),               # (B, c, S/2, S/2)
            nn.Conv2d(c, 2 * c, 4, stride=2, padding=1), nn.ReLU(),           # (B, 2c, S/4, S/4)
            nn.Conv2d(2 * c, 4 * c, 4, stride=2, padding=1), nn.ReLU(),       # (B, 4c, S/8, S/8)
            nn.Flatten(), nn.Linear(4 * c * side * side, latent),            # (B, latent)
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent, 4 * c * side * side), nn.ReLU(), nn.Unflatten(1, (4 * c, side, side)),
            nn.ConvTranspose2d(4 * c, 2 * c, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(c, 3, 4, stride=2, padding=1), nn.Tanh(),      # (B, 3, S, S)
        )

    def forward(self, x):
        return self.decoder(self.encoder(x))


class Classifier(nn.Module):
    """Face or pseudo-anomaly: (B, 3, S, S) -> (B,) logits (positive = anomaly)."""

    def __init__(self, img_size, c):
        super().__init__()
        side = img_size // 8
        self.net = nn.Sequential(
            nn.Conv2d(3, c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),               # (B, c, S/2, S/2)
            nn.Conv2d(c, 2 * c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),           # (B, 2c, S/4, S/4)
            nn.Conv2d(2 * c, 4 * c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),       # (B, 4c, S/8, S/8)
            nn.Flatten(), nn.Linear(4 * c * side * side, 64), nn.ReLU(), nn.Linear(64, 1),
        )

    def forward(self, x):
        return self.net(x).squeeze(1)


PERMUTATIONS = [[1, 2, 0], [2, 0, 1], [0, 2, 1], [2, 1, 0], [1, 0, 2]]


def pseudo_anomalies(x, g):
    """One self-made anomaly per face of x (B, 3, S, S): a piece pasted elsewhere (CutPaste), the colour
    channels swapped, a patch smeared to its mean colour, or a patch of noise; g: a torch.Generator."""
    out = x.clone()
    b, _, s, _ = x.shape
    kind = torch.randint(0, 4, (b,), generator=g).tolist()
    hw = torch.randint(s // 6, s // 3 + 1, (b, 2), generator=g).tolist()
    where = torch.rand(b, 4, generator=g).tolist()
    for i in range(b):
        h, w = hw[i]
        r, c, r2, c2 = (int(u * (s - n + 1)) for u, n in zip(where[i], (h, w, h, w)))
        if kind[i] == 0:                       # CutPaste: the patch at (r2, c2) over (r, c)
            out[i, :, r:r + h, c:c + w] = x[i, :, r2:r2 + h, c2:c2 + w]
        elif kind[i] == 1:
            out[i] = x[i, PERMUTATIONS[(r + c) % len(PERMUTATIONS)]]
        elif kind[i] == 2:
            out[i, :, r:r + h, c:c + w] = x[i, :, r:r + h, c:c + w].mean(dim=(1, 2), keepdim=True)
        else:
            out[i, :, r:r + h, c:c + w] += 0.3 * torch.randn(3, h, w, generator=g)
    return out.clamp(-1, 1)


def to_tensor(images):
    """uint8 (N, S, S, 3) -> float (N, 3, S, S) in [-1, 1], the sample code's scaling."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() * (2 / 255) - 1


def batches(n, cfg, g):
    order = torch.randperm(n, generator=g)
    return [order[i:i + cfg.batch_size] for i in range(0, n, cfg.batch_size)]


def train_autoencoder(model, x, cfg, g):
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    model.train()
    for epoch in range(cfg.ae_epochs):
        losses = []
        for idx in batches(len(x), cfg, g):
            clean = x[idx]
            noisy = clean + cfg.noise * torch.randn(clean.shape, generator=g)   # noise in, clean face out
            loss = nn.functional.mse_loss(model(noisy), clean)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        print(f"autoencoder epoch {epoch + 1}/{cfg.ae_epochs}  loss {np.mean(losses):.4f}")


def train_classifier(model, x, cfg, g):
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    model.train()
    for epoch in range(cfg.clf_epochs):
        losses = []
        for idx in batches(len(x), cfg, g):
            faces = x[idx]
            inputs = torch.cat([faces, pseudo_anomalies(faces, g)])                  # (2B, 3, S, S)
            target = torch.cat([torch.zeros(len(faces)), torch.ones(len(faces))])
            loss = nn.functional.binary_cross_entropy_with_logits(model(inputs), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        print(f"classifier epoch {epoch + 1}/{cfg.clf_epochs}  loss {np.mean(losses):.4f}")


@torch.no_grad()
def scores(ae, clf, x, cfg):
    """(reconstruction error, classifier logit) per image: (N, 3, S, S) -> (N,), (N,)."""
    ae.eval()
    clf.eval()
    parts = x.split(cfg.eval_batch_size)
    err = torch.cat([((ae(b) - b) ** 2).sum(dim=(1, 2, 3)).sqrt() for b in parts])
    logit = torch.cat([clf(b) for b in parts])
    return err.numpy(), logit.numpy()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="folder with data/trainingset.npy and data/testingset.npy")
    parser.add_argument("--out", required=True, help="where to write prediction.csv")
    args = parser.parse_args()
    cfg = Config()

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    faces = to_tensor(np.load(os.path.join(args.data, "data", "trainingset.npy")))      # (N, 3, S, S)
    test_x = to_tensor(np.load(os.path.join(args.data, "data", "testingset.npy")))      # (M, 3, S, S)
    g = torch.Generator().manual_seed(cfg.seed)
    order = torch.randperm(len(faces), generator=g)
    held_out, train_x = faces[order[:cfg.held_out]], faces[order[cfg.held_out:]]
    size = faces.shape[-1]

    torch.manual_seed(cfg.seed)                                   # the initial weights of both models
    ae = Autoencoder(size, cfg.ae_channels, cfg.latent)
    clf = Classifier(size, cfg.clf_channels)
    train_autoencoder(ae, train_x, cfg, g)
    train_classifier(clf, train_x, cfg, g)

    # Standardise each score on faces neither model trained on, then add them.
    ref_err, ref_logit = scores(ae, clf, held_out, cfg)
    err, logit = scores(ae, clf, test_x, cfg)
    score = (err - ref_err.mean()) / ref_err.std() + (logit - ref_logit.mean()) / ref_logit.std()   # (M,)

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    pd.DataFrame({"score": score}).to_csv(args.out, index_label="ID")


if __name__ == "__main__":
    main()
