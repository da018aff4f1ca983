"""HW13 (network compression: a tiny Food-11 student distilled from a ResNet teacher) dataset builder.

The images are HW3's procedurally drawn dishes (``assignments/hw03_cnn/data.py``, imported by file
path: its classes, shapes, textures and nuisances), drawn with this homework's own seed stream, in the
course's HW13 layout ("food11-hw13", a modified copy of HW3's data):

    release/Food-11/training/{label}_{index}.png     labelled (the crowd-sourced labels, see below)
    release/Food-11/validation/{label}_{index}.png   labelled the same way
    release/Food-11/evaluation/{NNNN}.png            unlabelled, 0000.png ... (the submission's Id)
    release/resnet18_teacher.ckpt                    the teacher's state dict (architecture: TeacherNet
                                                     below, copied in the starter notebook)
    release/sample_submission.csv                    Id,Category with every evaluation Id
    hidden/answers.csv                               Id,Category: the true class of each evaluation image
    hidden_inputs/probe/{k}.png                      fresh images for the hidden probe (no labels)
    hidden_inputs/kd_logits.npz                      random student/teacher logits and labels on which the
                                                     probe evaluates the student's loss_fn_kd

Sizes: ``ci`` draws 32x32 images (1,320 training, 440 validation, 1,100 evaluation) so that the whole
ladder trains on two CPU cores in about a minute; ``full`` draws 128x128 images in the course's counts
(9,866 / 3,430 / 3,347). ``options`` may override ``n_train``, ``n_valid``, ``n_test``, ``size``,
``noise``, ``teacher_epochs`` and ``teacher_extra``. Building trains the teacher: ~30 s of CPU at ci.

What makes each level's technique pay:

* The labels students get are noisy: a share ``NOISE`` (40 %) of the training and validation labels
  were replaced by another class drawn at random (the "crowd-sourced" labels of this course's copy of
  Food-11). The course itself knows the verified labels: at prepare time it trains the teacher
  (TeacherNet, a small ResNet: stem + three residual stages, ~0.3 M parameters) on the verified labels
  of the training and validation images and of ``TEACHER_EXTRA`` more photos it keeps, and releases
  only its weights (~0.88 on the evaluation set). Every split is drawn with HW3's wider (test)
  nuisance ranges, so a tiny network has much to learn from it.
* simple (0.52: the sample StudentNet, cross-entropy on the noisy labels, 5 epochs) learns the
  majority label of each kind of dish slowly, through the noise.
* medium (0.74: the KL-divergence knowledge-distillation loss, alpha 0.9, T 4, 7 epochs): the
  teacher's soft targets carry the verified labels (and the classes that share shape, colour or
  texture), so the student learns the clean task; alpha turns the noisy cross-entropy down.
* strong (0.82: depthwise + pointwise convolutions, MobileNet-style, at the same budget, with HW3's
  augmentation and 14 epochs): the teacher labels every flipped and shifted view on the fly, so the
  student sees many more correctly labelled inputs than there are images (the noisy label only fits
  the original). Measured at equal epochs, the separable network alone is about as good as the
  sample one within the budget; the gain comes with the views and the longer schedule.
* boss (0.87: + a FitNet hint on the teacher's last feature map, the validation images as more
  teacher-labelled inputs, 26 epochs): the student also matches where the teacher sees shape and
  texture, on a larger transfer set, and trains longer; the three were not measured separately.

Accuracies: all evaluation images, mean of seeds 1 and 2 (tools/hw13_ladder.py prints the ladder for any seeds).
The parameter budget scales with the data (the course: 100,000 at ``full``; ``PARAM_BUDGET``).
"""
from __future__ import annotations

import csv
import importlib.util
import io
import json
from pathlib import Path

import numpy as np

N_CLASSES = 11
SIZES = {"ci": {"size": 32, "n_train": 1320, "n_valid": 440, "n_test": 1100},
         "full": {"size": 128, "n_train": 9866, "n_valid": 3430, "n_test": 3347}}
PARAM_BUDGET = {"ci": 25_000, "full": 100_000}
NOISE = 0.4
TEACHER_EPOCHS = {"ci": 8, "full": 30}
# The teacher also learns from a private verified set (the course trained it on more photos than it hands out).
TEACHER_EXTRA = {"ci": 2400, "full": 10000}
N_PROBE = 16
N_KD = 64
NZ = "test"           # HW3's wider nuisance ranges, for every split


def _hw03():
    """HW3's generator, loaded from its file (read, never copied)."""
    path = Path(__file__).resolve().parents[1] / "hw03_cnn" / "data.py"
    spec = importlib.util.spec_from_file_location("hw03_cnn_data_for_hw13", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(ctx) -> None:
    if ctx.source != "generated":
        raise ValueError(f"hw13: unknown source {ctx.source!r}: only 'generated' exists (the course's "
                         "food11-hw13 images are not in the shared data)")
    if str(ctx.edition) != "2022":
        raise ValueError(f"hw13: source 'generated' has the 2022 layout only, got edition {ctx.edition!r}")
    if ctx.scale not in SIZES:
        raise ValueError(f"hw13: unknown scale {ctx.scale!r} (expected 'ci' or 'full')")
    opts = dict(ctx.options or {})
    sizes = {**SIZES[ctx.scale], **{k: int(v) for k, v in opts.items() if k in SIZES["ci"]}}
    noise = float(opts.get("noise", NOISE))
    epochs = int(opts.get("teacher_epochs", TEACHER_EPOCHS[ctx.scale]))
    size = sizes["size"]
    hw03 = _hw03()
    release, hidden = Path(ctx.release_dir), Path(ctx.hidden_dir)
    inputs = Path(ctx.hidden_inputs_dir)
    root = release / "Food-11"
    for d in ("training", "validation", "evaluation"):
        (root / d).mkdir(parents=True, exist_ok=True)
    hidden.mkdir(parents=True, exist_ok=True)
    (inputs / "probe").mkdir(parents=True, exist_ok=True)

    # One child generator per purpose: HW13's own stream (not HW3's images), and changing one split's
    # size leaves the others unchanged.
    rng_train, rng_valid, rng_test, rng_probe, rng_noise, rng_teacher, rng_kd, rng_extra = \
        np.random.default_rng([13, ctx.seed]).spawn(8)
    clean_x, clean_y = [], []
    for split, n, rng in (("training", sizes["n_train"], rng_train), ("validation", sizes["n_valid"], rng_valid)):
        counters = [0] * N_CLASSES
        for label in _labels(rng, n):
            img = hw03.draw(rng, label, size, hw03.NUISANCE[NZ])
            shown = int(label)
            if rng_noise.random() < noise:                 # a wrong label: any other class
                shown = int((label + rng_noise.integers(1, N_CLASSES)) % N_CLASSES)
            _save(root / split / f"{shown}_{counters[shown]}.png", img)
            counters[shown] += 1
            clean_x.append(img)
            clean_y.append(int(label))

    answers = []
    for i, label in enumerate(_labels(rng_test, sizes["n_test"])):
        _save(root / "evaluation" / f"{i:04d}.png", hw03.draw(rng_test, label, size, hw03.NUISANCE[NZ]))
        answers.append((f"{i:04d}", int(label)))
    _write_csv(hidden / "answers.csv", answers)
    (hidden / "param_budget.json").write_text(json.dumps({"param_budget": PARAM_BUDGET[ctx.scale]}) + "\n")
    _write_csv(release / "sample_submission.csv", [(i, 0) for i, _ in answers])

    for k, label in enumerate(_labels(rng_probe, N_PROBE)):
        _save(inputs / "probe" / f"{k:02d}.png", hw03.draw(rng_probe, label, size, hw03.NUISANCE[NZ]))
    # Logits for the loss probe: scaled like a trained network's, labels uniform (not answers of anything).
    buf = io.BytesIO()
    np.savez(buf, student=(rng_kd.normal(0, 2.0, (N_KD, N_CLASSES))).astype(np.float32),
             teacher=(rng_kd.normal(0, 4.0, (N_KD, N_CLASSES))).astype(np.float32),
             labels=rng_kd.integers(0, N_CLASSES, N_KD).astype(np.int64))
    (inputs / "kd_logits.npz").write_bytes(buf.getvalue())

    for label in _labels(rng_extra, int(opts.get("teacher_extra", TEACHER_EXTRA[ctx.scale]))):
        clean_x.append(hw03.draw(rng_extra, label, size, hw03.NUISANCE[NZ]))
        clean_y.append(int(label))
    state = train_teacher(np.stack(clean_x), np.array(clean_y), int(rng_teacher.integers(2**31)), epochs)
    import torch
    buf = io.BytesIO()
    torch.save(state, buf)
    (release / "resnet18_teacher.ckpt").write_bytes(buf.getvalue())


def _labels(rng, n: int) -> np.ndarray:
    """n labels as balanced as n allows, in random order."""
    return rng.permutation(np.arange(n) % N_CLASSES)


def _save(path: Path, img: np.ndarray) -> None:
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(img, "RGB").save(buf, format="PNG", optimize=False, compress_level=6)
    path.write_bytes(buf.getvalue())


def _write_csv(path: Path, rows) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["Id", "Category"])
        w.writerows(rows)


# ------------------------------------------------------------------------------------------ teacher

def teacher_class():
    """TeacherNet: the course's ResNet-18 teacher scaled to the CPU budget (the starter holds a copy)."""
    import torch.nn as nn

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
        def __init__(self, num_classes=11):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                                      nn.MaxPool2d(2))            # [32, S/2, S/2]
            self.layer1 = BasicBlock(32, 32, 1)                    # [32, S/2, S/2]
            self.layer2 = BasicBlock(32, 64, 2)                    # [64, S/4, S/4]
            self.layer3 = BasicBlock(64, 128, 2)                   # [128, S/8, S/8]
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(128, num_classes)

        def features(self, x):
            return self.layer3(self.layer2(self.layer1(self.stem(x))))

        def forward(self, x):
            return self.fc(self.pool(self.features(x)).flatten(1))

    return TeacherNet


def train_teacher(x: np.ndarray, y: np.ndarray, seed: int, epochs: int) -> dict:
    """Train TeacherNet on the verified labels; returns its state dict. One thread, a forked global RNG
    and a local generator for the data order, so the same seed gives the same weights (and bytes)."""
    import torch
    import torch.nn.functional as F

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            g = torch.Generator().manual_seed(seed)
            X = torch.from_numpy(x).permute(0, 3, 1, 2).float().div(255)     # (N, 3, S, S)
            Y = torch.from_numpy(y).long()
            model = teacher_class()()
            steps = epochs * ((len(X) + 63) // 64)
            opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=5e-4)
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
            model.train()
            for _ in range(epochs):
                perm = torch.randperm(len(X), generator=g)
                for i in range(0, len(X), 64):
                    idx = perm[i:i + 64]
                    xb = _augment(X[idx], g)
                    loss = F.cross_entropy(model(xb), Y[idx], label_smoothing=0.1)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    sched.step()
            model.eval()
            return {k: v.detach().clone() for k, v in model.state_dict().items()}
    finally:
        torch.set_num_threads(threads)


def _augment(xb, g):
    """Horizontal flips (the dishes are mirror-symmetric) and shifts of up to 3 pixels."""
    import torch
    flip = torch.rand(len(xb), generator=g) < 0.5
    xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
    dx, dy = torch.randint(-3, 4, (2,), generator=g).tolist()
    return torch.roll(xb, shifts=(dy, dx), dims=(2, 3))
