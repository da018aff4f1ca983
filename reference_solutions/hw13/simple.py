"""
HW13 reference solution, level "simple": the course's sample code, unchanged.

    python reference_solutions/hw13/simple.py --data DATA_DIR --out OUT_DIR/submission.csv

DATA_DIR holds Food-11/{training,validation,evaluation}/ and resnet18_teacher.ckpt. The script trains
the sample StudentNet (four Conv-BN-ReLU blocks, 16/16/32/50 channels, global average pooling, one
linear layer: 22,647 parameters, within the 25,000 budget) with plain cross-entropy on the
crowd-sourced labels, Adam (lr 3e-4, weight decay 1e-5), 5 epochs, random horizontal flips, keeps
the epoch with the best validation accuracy as student_best.ckpt (next to the submission) and
writes submission.csv (Id,Category). Seeds, data order, model, optimizer and checkpoint selection
are exactly those of the starter notebook (starter/hw13.py), so the unchanged starter writes the
very same predictions. The teacher runs on every batch, as in the sample code, but the CE loss
ignores it: the student only sees the noisy labels.
Expected accuracy ~0.53 over course seeds; about 8 s of CPU on one thread, torch import included.
"""
import argparse
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
from PIL import Image
from torch.utils.data import DataLoader, Dataset


@dataclass
class Config:
    seed: int = 20220013
    batch_size: int = 64
    n_epochs: int = 5
    patience: int = 300
    lr: float = 3e-4
    weight_decay: float = 1e-5
    grad_norm_max: float = 10.0


cfg = Config()


def test_tfm(img):
    """PIL image -> [3, 32, 32] float tensor in [0, 1] (transforms.ToTensor; the images are 32x32)."""
    x = torch.from_numpy(np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0)
    return x.permute(2, 0, 1).contiguous()


def train_tfm(img):
    """test_tfm + RandomHorizontalFlip, drawing from the global torch RNG as the notebook does."""
    x = test_tfm(img)
    if torch.rand(1).item() < 0.5:
        x = torch.flip(x, dims=[2])
    return x


class FoodDataset(Dataset):
    """Images of one folder, labels from the file names "{label}_{index}.png" (evaluation: -1)."""

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


class StudentNet(nn.Module):
    def __init__(self):
        super().__init__()
        # [3, 32, 32] -> [16, 30, 30] -> [16, 28, 28] -> pool [16, 14, 14] -> [32, 12, 12] -> pool [32, 6, 6]
        # -> [50, 4, 4] -> pool [50, 2, 2] -> GAP [50, 1, 1]
        self.cnn = nn.Sequential(
            nn.Conv2d(3, 16, 3), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 16, 3), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2, 2, 0),
            nn.Conv2d(16, 32, 3), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2, 2, 0),
            nn.Conv2d(32, 50, 3), nn.BatchNorm2d(50), nn.ReLU(), nn.MaxPool2d(2, 2, 0),
            nn.AdaptiveAvgPool2d((1, 1)),
        )
        self.fc = nn.Sequential(nn.Linear(50, 11))

    def forward(self, x):           # (B, 3, 32, 32) -> (B, 11)
        out = self.cnn(x)
        return self.fc(out.view(out.size(0), -1))


class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU()
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class TeacherNet(nn.Module):
    """The released teacher (the course's ResNet-18, scaled down): stem, three residual stages, GAP."""

    def __init__(self, num_classes=11):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                                  nn.MaxPool2d(2))
        self.layer1 = BasicBlock(32, 32, 1)
        self.layer2 = BasicBlock(32, 64, 2)
        self.layer3 = BasicBlock(64, 128, 2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(128, num_classes)

    def features(self, x):
        return self.layer3(self.layer2(self.layer1(self.stem(x))))

    def forward(self, x):
        return self.fc(self.pool(self.features(x)).flatten(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="folder holding Food-11/ and resnet18_teacher.ckpt")
    parser.add_argument("--out", required=True, help="where to write submission.csv")
    args = parser.parse_args()
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    # Global seeding, in the notebook's order: the model init, the flips and the shuffle draw from it.
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)

    root = os.path.join(args.data, "Food-11")
    train_loader = DataLoader(FoodDataset(os.path.join(root, "training"), train_tfm),
                              batch_size=cfg.batch_size, shuffle=True)
    valid_loader = DataLoader(FoodDataset(os.path.join(root, "validation"), test_tfm),
                              batch_size=cfg.batch_size, shuffle=False)

    model = StudentNet()
    teacher = TeacherNet()
    teacher.load_state_dict(torch.load(os.path.join(args.data, "resnet18_teacher.ckpt"), map_location="cpu"))
    teacher.eval()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    ckpt = os.path.join(out_dir, "student_best.ckpt")
    best_acc, stale = 0.0, 0
    for epoch in range(cfg.n_epochs):
        model.train()
        for imgs, labels in train_loader:
            with torch.no_grad():
                teacher(imgs)           # the sample code runs the teacher even for CE (same arithmetic)
            loss = criterion(model(imgs), labels)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), max_norm=cfg.grad_norm_max)
            optimizer.step()

        model.eval()
        correct = 0
        with torch.no_grad():
            for imgs, labels in valid_loader:
                correct += (model(imgs).argmax(dim=-1) == labels).float().sum()
        valid_acc = correct / len(valid_loader.dataset)
        print(f"epoch {epoch + 1}/{cfg.n_epochs}: valid acc {valid_acc:.4f} (noisy labels)")
        if valid_acc > best_acc:
            torch.save(model.state_dict(), ckpt)
            best_acc, stale = valid_acc, 0
        else:
            stale += 1
            if stale > cfg.patience:
                break

    eval_set = FoodDataset(os.path.join(root, "evaluation"), test_tfm)
    model = StudentNet()
    model.load_state_dict(torch.load(ckpt, map_location="cpu"))
    model.eval()
    prediction = []
    with torch.no_grad():
        for imgs, _ in DataLoader(eval_set, batch_size=cfg.batch_size, shuffle=False):
            prediction += model(imgs).argmax(dim=-1).tolist()                 # (B,) class indices
    with open(args.out, "w") as f:
        f.write("Id,Category\n")
        for i, pred in enumerate(prediction):
            f.write(f"{i:04d},{pred}\n")                                      # 0000, 0001, ...


if __name__ == "__main__":
    main()
