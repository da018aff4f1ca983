"""HW11 (domain adaptation, real photos -> hand drawings) dataset builder.

``build(ctx)`` writes, in the course's own layout (BMP files, as the course's, written by pillow):

    release/real_or_drawing/train_data/{class}/{n}.bmp   source: labelled "photos", 32x32 RGB
    release/real_or_drawing/test_data/0/{NNNNN}.bmp      target: unlabelled "drawings", 28x28 grayscale
    release/sample_submission.csv                        id,label with every test id (0, 1, ...)
    hidden/answers.csv                                   id,label: the class of each drawing
    hidden_inputs/grl_{x,grad,lambda}.npy                tensors for the gradient-reversal probe
    hidden_inputs/probe_images.npy                       a few fresh drawings, (B, 28, 28) uint8

The test id is the drawing's position in the sorted ``test_data/0`` folder (what an ImageFolder with
``shuffle=False`` yields), as in the course. Sizes: ``ci`` draws 100 photos and 300 drawings per class
(1,000 / 3,000), so the ladder trains on two CPU cores in about a minute; ``full`` has the course's
counts (500 per class = 5,000 photos, 10,000 per class = 100,000 drawings). ``options`` may override
``n_source_per_class`` and ``n_target_per_class``. Both domains are exactly class-balanced.

The ten classes are outline shapes: circle, triangle, square, star, cross, heart, arrow, moon,
lightning, house. How the two domains differ (so that each level's technique is what pays):

* A *photo* is a filled shape on a coloured background with a few clutter blobs, a light gradient and
  pixel noise, rotated, scaled and shifted. The odd classes (triangle, star, heart, moon, house) are
  always *textured* (stripes or a checker pattern inside the shape, in a second colour); the even
  classes are plain. After the sample code's edge filter, the texture is a dense set of inner edges:
  an easy cue that tells the two halves of the classes apart in the source domain.
* A *drawing* is the outline only, stroked by hand: wobbly lines of varying width, sometimes with a gap
  or a stray scribble, never textured. A classifier that learned "inner edges -> odd class" sends the
  odd classes' drawings (no inner edges) to even classes: its target predictions pile up on the even
  half.

What each level gains (accuracy over all drawings, ci scale, seeds 1, 3, 4 and two course secrets):
the sample DaNN (simple: lambda = 0.1, 1 epoch, 0.22-0.34) has barely learnt the outlines and
inherits the bias. A scheduled lambda up to 1.0 trained six times longer with a decaying learning
rate (medium, 0.38-0.72; the most seed-dependent level) learns the outlines well enough to carry over;
how far the adversary takes the texture cue away varies from seed to seed, and much of medium's gain
is the longer training. The remaining pile-up on the plain classes is what the known class balance of
the drawings corrects (strong, 0.58-0.77, +0.05 to +0.31 over medium): predictions re-assigned so
that every class gets a tenth of the drawings (Sinkhorn balancing of the predicted probabilities).
Self-training on balanced, confident pseudo-labels of the drawings (boss, 0.64-0.86, +0.06 to +0.11
over strong) then learns the drawings' own style (stroke width, wobble), which no photo shows.
CPU seconds on one thread (seeds 1 and 3): simple 5, medium 23-25, strong 21-23, boss 28; with the
starter (8) about 90 s for the whole ladder, ~45 s of wall time on two idle cores. tools/hw11_ladder.py prints the ladder for any seeds.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
from PIL import Image

N_CLASSES = 10
CLASSES = ["circle", "triangle", "square", "star", "cross", "heart", "arrow", "moon", "lightning", "house"]
TEXTURED = {1, 3, 5, 7, 9}             # the odd classes: textured in every photo, never in a drawing
SOURCE_SIZE, TARGET_SIZE = 32, 28
SIZES = {"ci": {"n_source_per_class": 100, "n_target_per_class": 300},
         "full": {"n_source_per_class": 500, "n_target_per_class": 10000}}
N_PROBE_IMAGES = 16


def build(ctx) -> None:
    if ctx.source != "generated":
        raise ValueError(f"hw11: unknown source {ctx.source!r}: only 'generated' exists (the course's "
                         "real_or_drawing images are not in the shared data)")
    if str(ctx.edition) != "2022":
        raise ValueError(f"hw11: source 'generated' has the 2022 layout only, got edition {ctx.edition!r}")
    if ctx.scale not in SIZES:
        raise ValueError(f"hw11: unknown scale {ctx.scale!r} (expected 'ci' or 'full')")
    sizes = {**SIZES[ctx.scale], **{k: int(v) for k, v in (ctx.options or {}).items() if k in SIZES["ci"]}}
    release, hidden, probe = Path(ctx.release_dir), Path(ctx.hidden_dir), Path(ctx.hidden_inputs_dir)
    root = release / "real_or_drawing"
    for label in range(N_CLASSES):
        (root / "train_data" / str(label)).mkdir(parents=True, exist_ok=True)
    (root / "test_data" / "0").mkdir(parents=True, exist_ok=True)
    hidden.mkdir(parents=True, exist_ok=True)
    probe.mkdir(parents=True, exist_ok=True)

    # One child generator per part: changing one part's size leaves the others' images unchanged.
    rng_source, rng_target, rng_probe = np.random.default_rng(ctx.seed).spawn(3)
    counters = [0] * N_CLASSES
    for label in rng_source.permutation(np.arange(sizes["n_source_per_class"] * N_CLASSES) % N_CLASSES):
        _save(root / "train_data" / str(label) / f"{counters[label]}.bmp", photo(rng_source, int(label)), "RGB")
        counters[label] += 1

    answers = []
    labels = rng_target.permutation(np.arange(sizes["n_target_per_class"] * N_CLASSES) % N_CLASSES)
    for i, label in enumerate(labels):
        _save(root / "test_data" / "0" / f"{i:05d}.bmp", drawing(rng_target, int(label)), "L")
        answers.append((i, int(label)))
    for name, rows in (("hidden/answers.csv", answers), ("release/sample_submission.csv", [(i, 0) for i, _ in answers])):
        with open((hidden if name.startswith("hidden") else release) / Path(name).name, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["id", "label"])
            w.writerows(rows)

    # Probe inputs (never answers): tensors and upstream gradients for the gradient-reversal layer, the
    # lambdas to call it with, and a few fresh drawings for the model-shape check.
    np.save(probe / "grl_x.npy", rng_probe.normal(0, 1, (3, 7, 64)).astype(np.float32))
    np.save(probe / "grl_grad.npy", rng_probe.normal(0, 1, (3, 7, 64)).astype(np.float32))
    np.save(probe / "grl_lambda.npy", np.round(rng_probe.uniform(0.05, 2.0, 3), 4).astype(np.float64))
    np.save(probe / "probe_images.npy",
            np.stack([drawing(rng_probe, int(k) % N_CLASSES) for k in range(N_PROBE_IMAGES)]))


def _save(path: Path, img: np.ndarray, mode: str) -> None:
    buf = io.BytesIO()
    Image.fromarray(img, mode).save(buf, format="BMP")     # BMP has no timestamps: same pixels, same bytes
    path.write_bytes(buf.getvalue())


# ------------------------------------------------------------------------------------------ shapes

def _circle(n=40, r=1.0, c=(0.0, 0.0), a0=0.0, a1=2 * np.pi):
    t = np.linspace(a0, a1, n, endpoint=False)
    return np.stack([c[0] + r * np.cos(t), c[1] + r * np.sin(t)], 1)


def outline(label: int) -> np.ndarray:
    """The class's closed outline, (N, 2) in shape units (about [-1, 1]^2, y up)."""
    name = CLASSES[label]
    if name == "circle":
        return _circle()
    if name == "triangle":
        return _circle(3, 1.1, a0=np.pi / 2, a1=np.pi / 2 + 2 * np.pi) + [0, -0.15]
    if name == "square":
        return np.array([[-0.8, -0.8], [0.8, -0.8], [0.8, 0.8], [-0.8, 0.8]])
    if name == "star":
        t = np.pi / 2 + np.arange(10) * np.pi / 5
        r = np.where(np.arange(10) % 2 == 0, 1.05, 0.45)
        return np.stack([r * np.cos(t), r * np.sin(t)], 1)
    if name == "cross":
        a, b = 0.3, 0.95
        return np.array([[-a, -b], [a, -b], [a, -a], [b, -a], [b, a], [a, a], [a, b], [-a, b], [-a, a],
                         [-b, a], [-b, -a], [-a, -a]])
    if name == "heart":
        t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        x = 16 * np.sin(t) ** 3
        y = 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
        return np.stack([x, y + 2.5], 1) / 16.5
    if name == "arrow":
        return np.array([[-1, -0.25], [0.15, -0.25], [0.15, -0.65], [1, 0], [0.15, 0.65], [0.15, 0.25], [-1, 0.25]])
    if name == "moon":                  # an outer arc and an inner arc that meet at +-40 degrees
        outer = _circle(30, 1.0, a0=np.deg2rad(40), a1=np.deg2rad(320))        # top, left, bottom
        t = np.linspace(np.deg2rad(297.8), np.deg2rad(62.2), 22)                # back through 180 degrees
        inner = np.stack([0.427 + 0.727 * np.cos(t), 0.727 * np.sin(t)], 1)
        return np.concatenate([outer, inner]) - [0.15, 0]
    if name == "lightning":
        return np.array([[-0.15, 1], [0.55, 1], [0.1, 0.15], [0.6, 0.15], [-0.35, -1.05], [0.0, -0.1], [-0.5, -0.1]])
    if name == "house":
        return np.array([[-0.75, -0.95], [0.75, -0.95], [0.75, 0.15], [0, 1], [-0.75, 0.15]])
    raise ValueError(label)


def _place(rng, pts, size, shift, scale, rotate):
    """Rotate, scale (with a little aspect change) and shift an outline; returns pixel-grid units."""
    a = np.deg2rad(rng.uniform(-rotate, rotate))
    s = rng.uniform(*scale) * np.exp(rng.normal(0, 0.08, 2))
    c, si = np.cos(a), np.sin(a)
    p = pts * s
    p = np.stack([c * p[:, 0] - si * p[:, 1], si * p[:, 0] + c * p[:, 1]], 1) + rng.uniform(-shift, shift, 2)
    return p


def _grid(size):
    lin = (np.arange(size) + 0.5) * 2.0 / size - 1.0
    X, Y = np.meshgrid(lin, -lin)                           # y up, as the outlines
    return np.stack([X.ravel(), Y.ravel()], 1)              # (size*size, 2)


def _segments(poly, closed=True):
    a = poly
    b = np.roll(poly, -1, axis=0) if closed else poly[1:]
    return (a if closed else poly[:-1]), b


def _dist(P, a, b):
    """Distance of every grid point (M, 2) to the nearest segment a->b, (M,)."""
    ab = b - a                                              # (S, 2)
    ap = P[:, None, :] - a[None]                            # (M, S, 2)
    t = np.clip((ap * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12), 0, 1)
    d = ap - t[..., None] * ab
    return np.sqrt((d * d).sum(-1)).min(1)


def _inside(P, poly):
    """Even-odd rule: is each grid point inside the closed polygon? (M,) bool."""
    a, b = _segments(poly)
    y, x = P[:, 1:2], P[:, 0:1]
    cond = (a[None, :, 1] > y) != (b[None, :, 1] > y)
    xs = a[None, :, 0] + (y - a[None, :, 1]) * (b[None, :, 0] - a[None, :, 0]) / np.where(
        b[None, :, 1] == a[None, :, 1], 1e-12, b[None, :, 1] - a[None, :, 1])
    return ((cond & (x < xs)).sum(1) % 2) == 1


def _soft(sdf, px):
    return 1.0 / (1.0 + np.exp(np.clip(sdf / (0.5 * px), -30, 30)))


def _lum(rgb):
    return float(np.dot(rgb, [0.299, 0.587, 0.114]))


# ------------------------------------------------------------------------------------------ domains

def photo(rng, label: int) -> np.ndarray:
    """A (32, 32, 3) uint8 "photo": a filled, maybe textured shape on a cluttered coloured background."""
    size = SOURCE_SIZE
    px = 2.0 / size
    P = _grid(size)
    poly = _place(rng, outline(label), size, shift=0.12, scale=(0.62, 0.82), rotate=25)

    bg = rng.uniform(0.1, 0.9, 3)
    gx, gy = rng.normal(0, 0.12, 2)
    img = np.clip(bg[None] * (1 + gx * P[:, :1] + gy * P[:, 1:]), 0, 1)
    for _ in range(rng.integers(1, 4)):                    # clutter blobs: edges in every class
        c = rng.uniform(-0.95, 0.95, 2)
        m = _soft(np.hypot(*(P - c).T) - rng.uniform(0.06, 0.16), px)[:, None]
        img = img * (1 - m) + rng.uniform(0, 1, 3) * m

    while True:                                             # a fill that stands out from the background
        fill = rng.uniform(0, 1, 3)
        if abs(_lum(fill) - _lum(bg)) > 0.35:
            break
    col = np.broadcast_to(fill, (len(P), 3)).copy()
    if label in TEXTURED:                                   # stripes or a checker in a second colour
        # the stripes: dark or light, whichever stands out more from both the fill and the background
        tint = rng.uniform(0.8, 1.0, 3)
        second = max((0.08 * tint, 1 - 0.08 * tint),
                     key=lambda c: min(abs(_lum(c) - _lum(fill)), abs(_lum(c) - _lum(bg))))
        ang = rng.uniform(0, np.pi)
        f = rng.uniform(1.1, 1.6)                          # 2-4 stripes across the shape
        u = np.cos(ang) * P[:, 0] + np.sin(ang) * P[:, 1]
        if rng.random() < 0.6:
            t = np.sin(2 * np.pi * f * u + rng.uniform(0, 6.3)) > 0
        else:
            v = -np.sin(ang) * P[:, 0] + np.cos(ang) * P[:, 1]
            t = (np.sin(2 * np.pi * f * u) > 0) ^ (np.sin(2 * np.pi * f * v) > 0)
        col = np.where(t[:, None], second, col)
    a, b = _segments(poly)
    sdf = _dist(P, a, b) * np.where(_inside(P, poly), -1.0, 1.0)
    cover = _soft(sdf, px)[:, None]
    img = img * (1 - cover) + col * cover
    img = img + rng.normal(0, rng.uniform(0.01, 0.04), img.shape)
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8).reshape(size, size, 3)


def _wobble(rng, poly, amount):
    """Resample a closed outline densely and bend it with low-frequency noise: a hand-drawn line."""
    a, b = _segments(poly)
    pts = []
    for p, q in zip(a, b):
        n = max(2, int(np.ceil(np.hypot(*(q - p)) / 0.08)))
        pts.append(p + (q - p) * np.linspace(0, 1, n, endpoint=False)[:, None])
    pts = np.concatenate(pts)
    s = np.linspace(0, 2 * np.pi, len(pts), endpoint=False)
    for _ in range(2):
        for k in (2, 3, 5):
            pts = pts + amount * rng.normal(0, 1, 2) / k * np.stack(
                [np.sin(k * s + rng.uniform(0, 6.3)), np.sin(k * s + rng.uniform(0, 6.3))], 1) / 2
    return pts


def drawing(rng, label: int) -> np.ndarray:
    """A (28, 28) uint8 "drawing": the class outline as a wobbly white stroke on black."""
    size = TARGET_SIZE
    px = 2.0 / size
    P = _grid(size)
    poly = _place(rng, outline(label), size, shift=0.15, scale=(0.58, 0.85), rotate=30)
    pts = _wobble(rng, poly, rng.uniform(0.03, 0.12))
    a, b = _segments(pts)
    if rng.random() < 0.35:                                 # a gap where the pen lifted
        n = len(a)
        start, length = rng.integers(n), rng.integers(max(1, n // 12), max(2, n // 6))
        keep = np.ones(n, bool)
        keep[(start + np.arange(length)) % n] = False
        a, b = a[keep], b[keep]
    width = rng.uniform(0.8, 2.4) * px
    d = _dist(P, a, b)
    for _ in range(rng.binomial(2, 0.25)):                  # a stray scribble
        p = rng.uniform(-0.9, 0.9, 2)
        q = p + rng.normal(0, 0.3, 2)
        d = np.minimum(d, _dist(P, p[None], q[None]))
    img = rng.uniform(0.7, 1.0) * _soft(d - width / 2, px)
    img = img + np.abs(rng.normal(0, 0.02, img.shape))
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8).reshape(size, size)
