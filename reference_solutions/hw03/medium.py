"""
HW3 reference solution, level "medium": training augmentation + train longer (course hint).

    python reference_solutions/hw03/medium.py --data DATA_DIR --out OUT_DIR/submission.csv

DATA_DIR holds food11/{training,validation,test}/; the script writes submission.csv
(Id,Category). It is the sample code (starter/hw03.py) with the two changes the hint names, the
way a student edits the notebook:
  * train_tfm augments every training image, in torch (no torchvision): a random rotation, scale,
    shift and horizontal flip in one affine warp (F.affine_grid + F.grid_sample), then a random
    contrast, brightness and per-channel colour gain. The ranges cover those of the test photos,
    which are shifted, scaled, turned and lit more than the training ones;
  * 16 epochs instead of 4: an augmented training set takes longer to fit.
Same network, optimizer, seed and checkpoint selection as the sample code.
Expected accuracy ~0.72 (0.71-0.75 over five course seeds); about 23 s of CPU on one thread.
"""
import argparse
import math
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset


@dataclass
class Config:
    seed: int = 6666
    img_size: int = 32          # course: 128
    batch_size: int = 64
    n_epochs: int = 16          # sample code: 4
    patience: int = 300
    lr: float = 3e-4
    weight_decay: float = 1e-5
    max_grad_norm: float = 10.0
    # augmentation ranges (the test photos: rotations to 60 deg, scales 0.7-1.35, shifts 0.26)
    rotate_deg: float = 60.0
    log_scale: float = 0.3
    shift: float = 0.25         # in [-1, 1] image coordinates
    contrast: float = 0.3
    brightness: float = 0.2
    colour_gain: float = 0.1


cfg = Config()


def test_tfm(img):
    """PIL image -> [3, S, S] float tensor in [0, 1] (transforms.Resize + transforms.ToTensor)."""
    img = img.convert("RGB").resize((cfg.img_size, cfg.img_size), Image.BILINEAR)
    x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0)
    return x.permute(2, 0, 1).contiguous()


def uniform(lo, hi):
    """A float in [lo, hi) from torch's global generator (what torchvision's transforms use)."""
    return lo + (hi - lo) * torch.rand(()).item()


def train_tfm(img):
    """PIL image -> [3, S, S] float tensor: test_tfm, then a random affine warp and colour jitter."""
    x = test_tfm(img)
    angle = math.radians(uniform(-cfg.rotate_deg, cfg.rotate_deg))
    zoom = math.exp(uniform(-cfg.log_scale, cfg.log_scale))
    tx, ty = uniform(-cfg.shift, cfg.shift), uniform(-cfg.shift, cfg.shift)
    flip = -1.0 if torch.rand(()).item() < 0.5 else 1.0
    c, s = math.cos(angle) / zoom, math.sin(angle) / zoom
    # affine_grid maps output pixels to input positions: (x, y) -> A (x, y) + t, flip mirrors x
    theta = torch.tensor([[[c * flip, -s, tx], [s * flip, c, ty]]])                # (1, 2, 3)
    grid = F.affine_grid(theta, (1, 3, cfg.img_size, cfg.img_size), align_corners=False)
    # reflection padding fills the corners with more table instead of black
    x = F.grid_sample(x[None], grid, padding_mode="reflection", align_corners=False)[0]
    x = (x - 0.5) * (1 + uniform(-cfg.contrast, cfg.contrast)) + 0.5 + uniform(-cfg.brightness, cfg.brightness)
    gain = 1 + cfg.colour_gain * (2 * torch.rand(3, 1, 1) - 1)                      # a colour cast
    return (x * gain).clamp(0, 1)


class FoodDataset(Dataset):
    """Images of one folder, labels from the file names "{label}_{index}.png" (test: -1)."""

    def __init__(self, path, tfm=test_tfm):
        self.files = sorted(os.path.join(path, x) for x in os.listdir(path) if x.endswith(".png"))
        self.transform = tfm

    def __len__(self):
        return len(self.files)

    def __getitem__(self, idx):
        fname = self.files[idx]
        name = os.path.basename(fname)
        label = int(name.split("_")[0]) if "_" in name else -1
        return self.transform(Image.open(fname)), label


def conv_block(c_in, c_out):
    return [nn.Conv2d(c_in, c_out, 3, 1, 1), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2, 2, 0)]


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        # [3, 32, 32] -> [16, 16, 16] -> [32, 8, 8] -> [64, 4, 4] -> [128, 2, 2] -> [128, 1, 1]
        self.cnn = nn.Sequential(*conv_block(3, 16), *conv_block(16, 32), *conv_block(32, 64),
                                 *conv_block(64, 128), *conv_block(128, 128))
        self.fc = nn.Sequential(
            nn.Linear(128 * (cfg.img_size // 32) ** 2, 256), nn.ReLU(),
            nn.Linear(256, 128), nn.ReLU(),
            nn.Linear(128, 11),
        )

    def forward(self, x):           # (B, 3, S, S) -> (B, 11)
        out = self.cnn(x)
        return self.fc(out.view(out.size(0), -1))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="folder holding food11/")
    parser.add_argument("--out", required=True, help="where to write submission.csv")
    args = parser.parse_args()
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    # Global seeding, in the notebook's order: the model init and both loaders' shuffles draw from it.
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)

    root = os.path.join(args.data, "food11")
    train_loader = DataLoader(FoodDataset(os.path.join(root, "training"), train_tfm),
                              batch_size=cfg.batch_size, shuffle=True)
    # The sample code shuffles the validation set too; its per-batch mean accuracy depends on the
    # order (the last batch is smaller), and that mean picks the checkpoint, so we keep it.
    valid_loader = DataLoader(FoodDataset(os.path.join(root, "validation"), test_tfm),
                              batch_size=cfg.batch_size, shuffle=True)

    model = Classifier()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    ckpt = os.path.join(out_dir, "medium_best.ckpt")
    best_acc, stale = 0, 0
    for epoch in range(cfg.n_epochs):
        model.train()
        for imgs, labels in train_loader:
            logits = model(imgs)
            loss = criterion(logits, labels)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), max_norm=cfg.max_grad_norm)
            optimizer.step()

        model.eval()
        accs = []
        with torch.no_grad():
            for imgs, labels in valid_loader:
                accs.append((model(imgs).argmax(dim=-1) == labels).float().mean())
        valid_acc = sum(accs) / len(accs)
        print(f"epoch {epoch + 1}/{cfg.n_epochs}: valid acc {valid_acc:.4f}")
        if valid_acc > best_acc:
            torch.save(model.state_dict(), ckpt)
            best_acc, stale = valid_acc, 0
        else:
            stale += 1
            if stale > cfg.patience:
                break

    test_set = FoodDataset(os.path.join(root, "test"), test_tfm)
    model = Classifier()
    model.load_state_dict(torch.load(ckpt))
    model.eval()
    prediction = []
    with torch.no_grad():
        for imgs, _ in DataLoader(test_set, batch_size=cfg.batch_size, shuffle=False):
            prediction += model(imgs).argmax(dim=1).tolist()                  # (B,) class indices
    ids = [os.path.basename(f)[:-4] for f in test_set.files]                  # "0001", "0002", ...
    pd.DataFrame({"Id": ids, "Category": prediction}).to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
