"""HW14 (life-long learning) dataset builder: rotated digits, five tasks learned one after another.

``build(ctx)`` writes the release in the layout torchvision's ``MNIST('data')`` reads (the course's
sample code), under ``MNIST/raw/`` of the release folder:

    train-images-idx3-ubyte.gz   (N_train, 28, 28) uint8, upright digits
    train-labels-idx1-ubyte.gz   (N_train,) uint8
    t10k-images-idx3-ubyte.gz    (N_test, 28, 28) uint8, upright digits; their labels stay hidden

As in the course, every task uses the *same* images, rotated: task t (t = 0..4) rotates them by
``20 * t`` degrees, and the model learns the tasks in that order. The submission predicts every test
image in every task: ``id = t * N_test + i`` (image ``i`` of the t10k file rotated by ``20 t``°), so
``hidden/answers.csv`` holds the t10k labels five times and the accuracy over all rows is the course's
metric, the mean accuracy over the five tasks after the last one.

Two sources:

* ``real``: MNIST's 10,000-image t10k split from the shared folder (sha256 checked), shuffled by
  ``ctx.seed`` and divided into a released train part and a test part (``ci``: 2,000 / 1,000 images;
  ``full``: 8,000 / 2,000).
* ``generated`` (default): scikit-learn's bundled handwritten digits (1,797 real 8×8 scans), upsampled
  (bilinear) into the 20×20 box of a 28×28 frame, as MNIST centres its digits, with a random shift of up
  to two pixels and a random stroke gain per image, so that no two rows of the release are identical.
  The 1,797 are split 1,200 train / 597 test.

Why each level's technique pays here: a rotation of 20° moves the strokes of a 28×28 digit across
pixels, and 80° is almost a different input, so a network trained on the last task (80°) forgets the
upright digits (~20 % on task 1 after plain fine-tuning, *simple*). The training set is small (about
1,000 images a task) and the network fits each task almost completely; then the gradients of single
images point every which way and a batch's mean gradient nearly cancels, so the sample code's EWC
(squares of batch gradients) is ~100x too small to matter at its λ; at the sample code's λ all six
methods end within ~5 points of fine-tuning (MAS, whose Ω needs no labels, gains the most). *medium* is EWC with the paper's Fisher, the mean of per-image
squared gradients (~+0.07 to +0.09 over simple). Because the test images of every task are the same
digits, rotated, and every rotation is a real change of the input, a few real images of each old
task are worth more than any quadratic penalty: *strong* replays 2 exemplars per class and task
(~+0.10 over medium), *boss* 10 per class (~+0.13 over strong), enough to cover each digit's
variety. Measured by ``tools/hw14_ladder.py`` over data seeds 1-3.

``hidden_inputs/`` (for the probe, never answers): ``probe_model.pt`` (a state dict of the course's
Model, trained for a few steps on upright digits so its gradients are not those of a random net),
``probe_x.npy`` / ``probe_y.npy`` (a batch of 64 training-pool digits, rotated 40°, and their labels),
``probe_idx.npy`` (the flat indices whose importances the host compares). ``hidden/probe_reference.npz``
holds the course formulas' values on them: EWC's Fisher, MAS's Ω, SI's ω and the EWC penalty.
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import io
import struct
from pathlib import Path

import numpy as np

ANGLES = (0, 20, 40, 60, 80)
REAL = {"t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"}
SIZES = {"ci": (2000, 1000), "full": (8000, 2000)}       # real source: train / test images
HIDDEN_WIDTHS = (512, 256, 128)     # the starter's Model (the course: 1024, 512, 256, halved for the CPU)


def build(ctx) -> None:
    release, hidden, inputs = Path(ctx.release_dir), Path(ctx.hidden_dir), Path(ctx.hidden_inputs_dir)
    for d in (release, hidden, inputs):
        d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(ctx.seed)
    if ctx.source == "real":
        x_train, y_train, x_test, y_test = _real(ctx, rng)
    elif ctx.source == "generated":
        x_train, y_train, x_test, y_test = _generated(rng)
    else:
        raise ValueError(f"hw14: unknown source {ctx.source!r} (expected 'generated' or 'real')")

    raw = release / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    _write_idx(raw / "train-images-idx3-ubyte.gz", x_train)
    _write_idx(raw / "train-labels-idx1-ubyte.gz", y_train)
    _write_idx(raw / "t10k-images-idx3-ubyte.gz", x_test)

    n = len(y_test)
    rows = [(t * n + i, int(y_test[i])) for t in range(len(ANGLES)) for i in range(n)]
    for path, value in ((hidden / "answers.csv", None), (release / "sample_submission.csv", 0)):
        with open(path, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["id", "label"])
            w.writerows((i, label if value is None else value) for i, label in rows)
    _probe_inputs(inputs, hidden, x_train, y_train, rng)


# ------------------------------------------------------------------------------------------- sources

def _real(ctx, rng):
    if ctx.shared_data is None:
        raise FileNotFoundError("hw14: source 'real' needs the shared data folder, but ctx.shared_data is None")
    folder = Path(ctx.shared_data) / "hw14_mnist"
    for name, sha in REAL.items():
        path = folder / name
        if not path.is_file():
            raise FileNotFoundError(f"hw14: real data file not found: {path}")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != sha:
            raise ValueError(f"hw14: sha256 of {path} is {digest}, expected {sha}")
    x = _read_idx(folder / "t10k-images-idx3-ubyte.gz")
    y = _read_idx(folder / "t10k-labels-idx1-ubyte.gz")
    n_train, n_test = SIZES.get(str(ctx.scale), SIZES["ci"])
    order = rng.permutation(len(y))
    tr, te = order[:n_train], order[n_train:n_train + n_test]
    return x[tr], y[tr], x[te], y[te]


def _generated(rng, n_train: int = 1200):
    from sklearn.datasets import load_digits

    digits = load_digits()
    x8, y = digits.images.astype(np.float64), digits.target.astype(np.uint8)   # (1797, 8, 8) in 0..16
    x = np.zeros((len(y), 28, 28))
    box = _upsample(x8 / 16.0, 20)                                             # (1797, 20, 20) in 0..1
    shifts = rng.integers(-2, 3, size=(len(y), 2))
    gain = rng.uniform(0.8, 1.2, size=len(y))
    for k in range(len(y)):
        r, c = 4 + shifts[k, 0], 4 + shifts[k, 1]
        x[k, r:r + 20, c:c + 20] = box[k] * gain[k]
    x = np.clip(np.round(255 * x), 0, 255).astype(np.uint8)
    order = rng.permutation(len(y))
    tr, te = order[:n_train], order[n_train:]
    return x[tr], y[tr], x[te], y[te]


def _upsample(img: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of (N, h, w) to (N, size, size), pixel centres aligned (as PIL's BILINEAR)."""
    n, h, w = img.shape
    ys = np.clip((np.arange(size) + 0.5) * h / size - 0.5, 0, h - 1)
    xs = np.clip((np.arange(size) + 0.5) * w / size - 0.5, 0, w - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy, fx = (ys - y0)[None, :, None], (xs - x0)[None, None, :]
    top = img[:, y0][:, :, x0] * (1 - fx) + img[:, y0][:, :, x1] * fx
    bottom = img[:, y1][:, :, x0] * (1 - fx) + img[:, y1][:, :, x1] * fx
    return top * (1 - fy) + bottom * fy


# ------------------------------------------------------------------------------------------ idx files

def _write_idx(path: Path, array: np.ndarray) -> None:
    """MNIST's idx format (big-endian magic 0x0000 08 <ndim>, the sizes, then uint8 data), gzipped with
    no name and mtime 0 so the same seed gives byte-identical files."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">I", 0x0800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as f:
        f.write(header + array.tobytes())
    path.write_bytes(buf.getvalue())


def _read_idx(path: Path) -> np.ndarray:
    data = gzip.decompress(Path(path).read_bytes())
    magic = struct.unpack(">I", data[:4])[0]
    if magic >> 8 != 0x08:
        raise ValueError(f"hw14: {path} is not an unsigned-byte idx file (magic {magic:#x})")
    ndim = magic & 0xFF
    shape = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape).copy()


# ------------------------------------------------------------------------------------ probe material

def _probe_inputs(inputs: Path, hidden: Path, x_train, y_train, rng, n: int = 64, k: int = 4096) -> None:
    """A hidden model and batch for the probe, and the course formulas' values on them (host only)."""
    import torch
    import torch.nn.functional as F

    torch_seed = int(rng.integers(0, 2**31 - 1))
    gen = torch.Generator().manual_seed(torch_seed)
    widths = (784,) + HIDDEN_WIDTHS + (10,)
    # The course's Model names: fc1..fc4 (state-dict keys fc1.weight, fc1.bias, ...).
    state = {}
    for j, (a, b) in enumerate(zip(widths[:-1], widths[1:]), start=1):
        bound = 1 / np.sqrt(a)
        state[f"fc{j}.weight"] = (torch.rand(b, a, generator=gen) * 2 - 1) * bound
        state[f"fc{j}.bias"] = (torch.rand(b, generator=gen) * 2 - 1) * bound
    pick = rng.choice(len(y_train), size=n, replace=False)
    x = torch.from_numpy(x_train[pick].astype(np.float32) / 255.0).unsqueeze(1)          # (n, 1, 28, 28)
    x = _rotate(x, 40.0)
    y = torch.from_numpy(y_train[pick].astype(np.int64))

    def forward(params, xb):
        h = xb.reshape(-1, 784)
        for j in range(1, 5):
            h = F.linear(h, params[f"fc{j}.weight"], params[f"fc{j}.bias"])
            if j < 4:
                h = F.relu(h)
        return h

    # A few SGD steps on the batch so the model is not a fresh random net (its grads then mean something).
    params = {name: v.clone().requires_grad_(True) for name, v in state.items()}
    for _ in range(5):
        loss = F.cross_entropy(forward(params, x), y)
        grads = torch.autograd.grad(loss, list(params.values()))
        with torch.no_grad():
            for p, g in zip(params.values(), grads):
                p -= 0.1 * g
    state = {name: p.detach().clone() for name, p in params.items()}
    torch.save(state, inputs / "probe_model.pt")
    np.save(inputs / "probe_x.npy", x.numpy())
    np.save(inputs / "probe_y.npy", y.numpy())

    names = list(state)
    sizes = [state[nm].numel() for nm in names]
    idx = np.sort(rng.choice(sum(sizes), size=k, replace=False)).astype(np.int64)
    np.save(inputs / "probe_idx.npy", idx)

    batches = [(x[i:i + 32], y[i:i + 32]) for i in range(0, n, 32)]             # the probe's DataLoader, batch 32

    def importance(loss_fn, square: bool):
        total = {nm: torch.zeros_like(state[nm]) for nm in names}
        for xb, yb in batches:
            p = {nm: state[nm].clone().requires_grad_(True) for nm in names}
            out = forward(p, xb)
            grads = torch.autograd.grad(loss_fn(out, yb), [p[nm] for nm in names])
            for nm, g in zip(names, grads):
                total[nm] += (g ** 2 if square else g.abs()) / len(batches)
        return total

    fisher = importance(lambda out, yb: F.nll_loss(F.log_softmax(out, dim=1), yb), square=True)
    omega = importance(lambda out, yb: out.pow(2).sum(dim=1).mean(), square=False)

    # SI: start at the state, take the probe's fixed trajectory (plain SGD, lr 0.05, 3 passes over the
    # batches), accumulate W += -grad_prev * (p - p_prev) as the course's update() does, then
    # omega = W / (change**2 + epsilon).
    eps = 0.1
    p = {nm: state[nm].clone() for nm in names}
    W = {nm: torch.zeros_like(state[nm]) for nm in names}
    for _ in range(3):
        for xb, yb in batches:
            q = {nm: p[nm].clone().requires_grad_(True) for nm in names}
            grads = torch.autograd.grad(F.cross_entropy(forward(q, xb), yb), [q[nm] for nm in names])
            for nm, g in zip(names, grads):
                new = p[nm] - 0.05 * g
                W[nm] += -g * (new - p[nm])
                p[nm] = new
    si_omega = {nm: W[nm] / ((p[nm] - state[nm]) ** 2 + eps) for nm in names}

    # EWC penalty of a perturbed model against the state, with the Fisher above.
    perturb = {nm: state[nm] + 0.01 * torch.randn(state[nm].shape, generator=gen) for nm in names}
    torch.save(perturb, inputs / "probe_model_moved.pt")
    penalty = sum(float((fisher[nm].double() * (perturb[nm].double() - state[nm].double()) ** 2).sum())
                  for nm in names)

    def flat(d):
        return torch.cat([d[nm].reshape(-1) for nm in names]).numpy()[idx].astype(np.float64)

    def sums(d):
        return np.array([float(d[nm].double().sum()) for nm in names])

    np.savez(hidden / "probe_reference.npz", fisher=flat(fisher), fisher_sums=sums(fisher),
             omega=flat(omega), omega_sums=sums(omega), si=flat(si_omega), si_sums=sums(si_omega),
             penalty=np.array([penalty]), si_epsilon=np.array([eps]))


def _rotate(x, degrees: float):
    """Rotate (N, 1, H, W) images by `degrees` counter-clockwise about the centre (bilinear, zeros outside)."""
    import math

    import torch
    import torch.nn.functional as F

    a = math.radians(degrees)
    theta = torch.tensor([[math.cos(a), math.sin(a), 0.0], [-math.sin(a), math.cos(a), 0.0]], dtype=x.dtype)
    grid = F.affine_grid(theta.expand(x.shape[0], 2, 3), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
