"""HW3 (Food-11 image classification) dataset builder: procedurally drawn "dishes".

``build(ctx)`` writes, in the course's own layout (PNG instead of the course's JPEG, so that every
machine decodes the very same pixels and a re-run of a notebook reproduces its predictions):

    release/food11/training/{label}_{index}.png     labelled (label 0-10, index within the class)
    release/food11/validation/{label}_{index}.png   labelled
    release/food11/test/{NNNN}.png                  unlabelled, 0001.png ... (the submission's Id)
    release/sample_submission.csv                   Id,Category with every test Id
    hidden/answers.csv                              Id,Category: the true class of each test image
    hidden_inputs/probe/{k}.png                     fresh images for the hidden probe (no labels)

Sizes: ``ci`` draws 32x32 images (1,320 training, 440 validation, 1,100 test), so the whole ladder
trains on two CPU cores in about a minute; ``full`` draws 128x128 images (the size the sample code
resizes to) in the course's counts (9,866 / 3,430 / 3,347). ``options`` may override ``n_train``,
``n_valid``, ``n_test`` and ``size``.

How an image is drawn (all coordinates in [-1, 1], shapes as signed distance fields with a one-pixel
soft edge, so the same scene renders at any size):

* A class is a *composition* of a food shape (disc, rounded loaf, wedge, ellipse, crescent, a cluster
  of pieces), a colour (eight food colours) and a texture (smooth, stripes, grains, speckle, a yolk).
  Every attribute value is shared by several classes (Dairy / Egg / Rice are all white-ish discs and
  differ only by texture; Fried food / Vegetable only by colour; Soup / Dairy only by colour), so a
  network must see shape, colour and texture together. Each dish varies in size, aspect, colour
  (hue/value jitter), texture frequency and phase, and sits on a random plate, bowl or bare table.
* Nuisances, drawn per image: position, scale, rotation of the whole dish, lighting (brightness,
  contrast, a colour cast, gamma), pixel noise, and clutter (crumbs, cutlery, garnish in other
  classes' colours). Shapes have a canonical orientation (wedge up, crescent opening up), so rotation
  is a real nuisance; all of them are mirror-symmetric, so a horizontal flip keeps the label.
* The test set (and the probe images) is drawn with *wider* nuisance ranges than training and
  validation (``NUISANCE``): shifts up to 0.26 instead of 0.16 (in [-1, 1] image units), scales
  0.70-1.35 instead of 0.80-1.20, rotations up to 60 deg instead of 35 deg, twice the brightness
  and colour-cast changes, more noise and clutter. The sample CNN scores ~0.8 on validation but
  ~0.6 on the test photos.

What each level gains (accuracy on all test photos, mean of three course seeds; per class in
parentheses): the sample CNN (simple, 0.59) trained 4 epochs on the raw images knows only the
narrow training nuisances. Training augmentation written in torch (medium, 0.73: random rotations,
scales, shifts, flips, contrast, brightness and colour casts) covers the test ranges, with the
longer training it needs; shape and texture classes gain most (Rice +0.38, Seafood +0.24,
Dessert +0.21, Bread +0.19). A residual network with global average pooling, trained much longer
with a one-cycle schedule on training + validation (strong, 0.81), picks up the finer cues under
those nuisances (Fried food's pieces +0.27, Bread's speckle +0.26, Noodles' stripes +0.19).
Averaging its predictions over augmented views of each test photo (boss, 0.86) evens out the views
it still gets wrong (Dairy +0.12, Fried food +0.12, Egg +0.10, Soup +0.09). tools/hw03_ladder.py
prints the ladder for any seeds.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
from PIL import Image

N_CLASSES = 11
SIZES = {"ci": {"size": 32, "n_train": 1320, "n_valid": 440, "n_test": 1100},
         "full": {"size": 128, "n_train": 9866, "n_valid": 3430, "n_test": 3347}}
N_PROBE = 16

# Food colours (RGB in [0, 1]).
COLOURS = {
    "golden": (0.80, 0.56, 0.26), "cream": (0.93, 0.88, 0.70), "dark": (0.38, 0.22, 0.13),
    "white": (0.96, 0.95, 0.92), "redbrown": (0.62, 0.22, 0.17), "yellow": (0.95, 0.82, 0.30),
    "orange": (0.94, 0.48, 0.18), "green": (0.28, 0.62, 0.24),
}
# The eleven Food-11 classes as (shape, colour, texture) compositions.
CLASSES = [
    ("Bread", "loaf", "golden", "speckle"),
    ("Dairy product", "disc", "cream", "smooth"),
    ("Dessert", "wedge", "dark", "stripes"),
    ("Egg", "disc", "white", "yolk"),
    ("Fried food", "cluster", "golden", "smooth"),
    ("Meat", "ellipse", "redbrown", "stripes"),
    ("Noodles/Pasta", "disc", "yellow", "stripes"),
    ("Rice", "disc", "white", "grains"),
    ("Seafood", "crescent", "orange", "stripes"),
    ("Soup", "disc", "orange", "smooth"),
    ("Vegetable/Fruit", "cluster", "green", "smooth"),
]

# Nuisance ranges: training/validation, and the wider test ranges.
NUISANCE = {
    "train": dict(shift=0.16, scale=(0.8, 1.2), rotate=35.0, bright=0.12, contrast=(0.8, 1.2),
                  cast=0.06, gamma=(0.85, 1.15), noise=(0.03, 0.09), clutter=(0, 4)),
    "test": dict(shift=0.26, scale=(0.7, 1.35), rotate=60.0, bright=0.2, contrast=(0.7, 1.3),
                 cast=0.10, gamma=(0.8, 1.25), noise=(0.03, 0.11), clutter=(1, 5)),
}


def build(ctx) -> None:
    if ctx.source != "generated":
        raise ValueError(f"hw3: unknown source {ctx.source!r}: only 'generated' exists (the course's "
                         "Food-11 images are not in the shared data)")
    if str(ctx.edition) != "2022":
        raise ValueError(f"hw3: source 'generated' has the 2022 layout only, got edition {ctx.edition!r}")
    if ctx.scale not in SIZES:
        raise ValueError(f"hw3: unknown scale {ctx.scale!r} (expected 'ci' or 'full')")
    sizes = {**SIZES[ctx.scale], **{k: int(v) for k, v in (ctx.options or {}).items() if k in SIZES["ci"]}}
    size = sizes["size"]
    release, hidden, probe = Path(ctx.release_dir), Path(ctx.hidden_dir), Path(ctx.hidden_inputs_dir) / "probe"
    for d in ("training", "validation", "test"):
        (release / "food11" / d).mkdir(parents=True, exist_ok=True)
    hidden.mkdir(parents=True, exist_ok=True)
    probe.mkdir(parents=True, exist_ok=True)

    # One child generator per split: changing one split's size leaves the others' images unchanged.
    rng_train, rng_valid, rng_test, rng_probe = np.random.default_rng(ctx.seed).spawn(4)
    for split, n, rng in (("training", sizes["n_train"], rng_train), ("validation", sizes["n_valid"], rng_valid)):
        counters = [0] * N_CLASSES
        for label in _labels(rng, n):
            _save(release / "food11" / split / f"{label}_{counters[label]}.png",
                  draw(rng, label, size, NUISANCE["train"]))
            counters[label] += 1

    answers = []
    for i, label in enumerate(_labels(rng_test, sizes["n_test"]), start=1):
        _save(release / "food11" / "test" / f"{i:04d}.png", draw(rng_test, label, size, NUISANCE["test"]))
        answers.append((f"{i:04d}", label))
    with open(hidden / "answers.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["Id", "Category"])
        w.writerows(answers)
    with open(release / "sample_submission.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["Id", "Category"])
        w.writerows((i, 0) for i, _ in answers)

    # Probe images: the test distribution, never released, no labels written anywhere.
    for k, label in enumerate(_labels(rng_probe, N_PROBE)):
        _save(probe / f"{k:02d}.png", draw(rng_probe, label, size, NUISANCE["test"]))


def _labels(rng, n: int) -> np.ndarray:
    """n labels as balanced as n allows, in random order."""
    return rng.permutation(np.arange(n) % N_CLASSES)


def _save(path: Path, img: np.ndarray) -> None:
    buf = io.BytesIO()
    # No timestamps or text chunks: the same pixels give the same bytes (the fingerprint depends on it).
    Image.fromarray(img, "RGB").save(buf, format="PNG", optimize=False, compress_level=6)
    path.write_bytes(buf.getvalue())


# ------------------------------------------------------------------------------------------ drawing

def _soft(sdf: np.ndarray, px: float) -> np.ndarray:
    """Coverage of a shape from its signed distance (negative inside), with a one-pixel soft edge."""
    return 1.0 / (1.0 + np.exp(np.clip(sdf / (0.5 * px), -30, 30)))


def _rot(x, y, angle):
    c, s = np.cos(angle), np.sin(angle)
    return c * x + s * y, -s * x + c * y


def _shape_sdf(rng, shape: str, x, y):
    """Signed distance of the food item in dish coordinates (the item is ~0.5 in radius)."""
    r = rng.uniform(0.36, 0.52)
    if shape == "disc":
        return np.hypot(x, y) - r
    if shape == "loaf":                                    # rounded rectangle, wider than high
        hx, hy, rr = r * rng.uniform(1.05, 1.25), r * rng.uniform(0.6, 0.75), 0.12
        qx, qy = np.abs(x) - hx + rr, np.abs(y) - hy + rr
        return np.hypot(np.maximum(qx, 0), np.maximum(qy, 0)) + np.minimum(np.maximum(qx, qy), 0) - rr
    if shape == "wedge":                                   # equilateral triangle pointing up
        k = np.sqrt(3.0)
        r = r * 1.15
        px, py = np.abs(x), -y                             # the apex at the top of the image
        px, py = px - r, py + r / k
        flip = px + k * py > 0
        px, py = np.where(flip, (px - k * py) / 2, px), np.where(flip, (-k * px - py) / 2, py)
        px = px - np.clip(px, -2 * r, 0)
        return -np.hypot(px, py) * np.sign(py)
    if shape == "ellipse":
        a, b = r * rng.uniform(1.15, 1.35), r * rng.uniform(0.55, 0.7)
        return (np.hypot(x / a, y / b) - 1.0) * min(a, b)
    if shape == "crescent":                                # a disc with a bite taken from the top
        outer = np.hypot(x, y) - r
        inner = np.hypot(x, y + r * rng.uniform(0.45, 0.6)) - r * rng.uniform(0.75, 0.85)
        return np.maximum(outer, -inner)
    if shape == "cluster":                                 # 4-6 pieces around the centre
        n = rng.integers(4, 7)
        angles = rng.uniform(0, 2 * np.pi) + np.arange(n) * 2 * np.pi / n + rng.normal(0, 0.25, n)
        dist = rng.uniform(0.18, 0.32, n)
        radii = rng.uniform(0.14, 0.2, n)
        sdf = np.hypot(x, y) - 0.12
        for a, d, rr in zip(angles, dist, radii):
            sdf = np.minimum(sdf, np.hypot(x - d * np.cos(a), y - d * np.sin(a)) - rr)
        return sdf
    raise ValueError(shape)


def _texture(rng, texture: str, x, y, base: np.ndarray, px: float) -> np.ndarray:
    """The item's colour at every pixel, (H, W, 3)."""
    h, w = x.shape
    col = np.broadcast_to(base, (h, w, 3)).copy()
    if texture == "smooth":
        shade = 1.0 - 0.12 * (x + y)                       # a soft highlight, nothing periodic
        return col * shade[..., None]
    if texture == "stripes":                               # layers / marbling / noodles: ~4 cycles per unit
        f, phase = rng.uniform(3.2, 4.4), rng.uniform(0, 2 * np.pi)
        t = 0.5 + 0.5 * np.sin(2 * np.pi * f * y + phase + 0.6 * np.sin(3 * x))
        return col * (1.0 - 0.25 * t[..., None])
    if texture == "grains":                                # rice grains: a dotted grid
        f, px_, py_ = rng.uniform(3.8, 4.8), rng.uniform(0, 2 * np.pi), rng.uniform(0, 2 * np.pi)
        t = (np.sin(2 * np.pi * f * x + px_) * np.sin(2 * np.pi * f * y + py_)) ** 2
        return col * (1.0 - 0.3 * t[..., None])
    if texture == "speckle":                               # crust: coarse random blotches
        grid = rng.uniform(0, 1, (7, 7))
        gx = np.clip((x + 1) * 3, 0, 5.999)
        gy = np.clip((y + 1) * 3, 0, 5.999)
        ix, iy = gx.astype(int), gy.astype(int)
        fx, fy = gx - ix, gy - iy
        t = (grid[iy, ix] * (1 - fx) * (1 - fy) + grid[iy, ix + 1] * fx * (1 - fy)
             + grid[iy + 1, ix] * (1 - fx) * fy + grid[iy + 1, ix + 1] * fx * fy)
        return col * (1.0 - 0.5 * t[..., None])
    if texture == "yolk":                                  # a yellow disc in the middle
        yolk = _soft(np.hypot(x - rng.normal(0, 0.04), y - rng.normal(0, 0.04)) - rng.uniform(0.17, 0.23), px)
        return col * (1 - yolk[..., None]) + np.array([0.98, 0.72, 0.12]) * yolk[..., None]
    raise ValueError(texture)


def _jitter_colour(rng, rgb, hue: float, value: float) -> np.ndarray:
    """Shift a colour's hue a little (rotation around the grey axis) and scale its value."""
    rgb = np.asarray(rgb, dtype=float)
    grey = rgb.mean()
    a = rng.normal(0, hue)
    k = np.ones(3) / np.sqrt(3)
    v = rgb - grey
    v = v * np.cos(a) + np.cross(k, v) * np.sin(a) + k * np.dot(k, v) * (1 - np.cos(a))   # Rodrigues
    return np.clip((grey + v) * np.exp(rng.normal(0, value)), 0, 1)


def draw(rng, label: int, size: int, nz: dict) -> np.ndarray:
    """One (size, size, 3) uint8 image of class `label` with nuisances drawn from the ranges `nz`."""
    _, shape, colour, texture = CLASSES[label]
    px = 2.0 / size                                        # one pixel in image units
    lin = (np.arange(size) + 0.5) * px - 1.0
    X, Y = np.meshgrid(lin, lin)                           # (H, W), y grows downwards

    # Background: a low-saturation table colour with a faint wood grain.
    table = _jitter_colour(rng, rng.uniform(0.35, 0.75, 3) * 0.5 + 0.25, 0.5, 0.15)
    ga = rng.uniform(0, np.pi)
    grain = np.sin(2 * np.pi * rng.uniform(1.5, 3.0) * (np.cos(ga) * X + np.sin(ga) * Y) + rng.uniform(0, 6.3))
    img = table * (1 + 0.06 * grain)[..., None]

    # The dish: position, scale, rotation are nuisances shared by plate and food.
    s = np.exp(rng.uniform(np.log(nz["scale"][0]), np.log(nz["scale"][1])))
    dx, dy = rng.uniform(-nz["shift"], nz["shift"], 2)
    ang = np.deg2rad(rng.uniform(-nz["rotate"], nz["rotate"]))
    x, y = _rot((X - dx) / s, (Y - dy) / s, ang)
    pxd = px / s                                           # one pixel in dish units

    plate = rng.choice(["plate", "bowl", "none"], p=[0.5, 0.3, 0.2])
    if plate != "none":
        pr = rng.uniform(0.72, 0.88)
        pc = _jitter_colour(rng, rng.choice([(0.92, 0.92, 0.9), (0.75, 0.82, 0.9), (0.85, 0.8, 0.72)]), 0.2, 0.06)
        cover = _soft(np.hypot(x, y) - pr, pxd)[..., None]
        img = img * (1 - cover) + pc * cover * (1 - 0.05 * (x + y))[..., None]
        if plate == "bowl":                                # a darker rim
            rim = _soft(np.abs(np.hypot(x, y) - pr + 0.05) - 0.045, pxd)[..., None]
            img = img * (1 - rim) + pc * 0.6 * rim

    base = _jitter_colour(rng, COLOURS[colour], 0.28, 0.15)
    cover = _soft(_shape_sdf(rng, shape, x, y), pxd)[..., None]
    img = img * (1 - cover) + _texture(rng, texture, x, y, base, pxd) * cover

    # Clutter: crumbs, garnish and cutlery in random places, in the colours of other foods.
    for _ in range(rng.integers(nz["clutter"][0], nz["clutter"][1] + 1)):
        cx, cy = rng.uniform(-0.95, 0.95, 2)
        c = _jitter_colour(rng, COLOURS[rng.choice(list(COLOURS))], 0.1, 0.1)
        if rng.random() < 0.35:                            # a knife or fork: a thin bar
            u, v = _rot(X - cx, Y - cy, rng.uniform(0, np.pi))
            sdf = np.maximum(np.abs(u) - rng.uniform(0.25, 0.45), np.abs(v) - 0.035)
            c = np.full(3, rng.uniform(0.55, 0.8))
        else:
            sdf = np.hypot(X - cx, Y - cy) - rng.uniform(0.05, 0.12)
        m = _soft(sdf, px)[..., None]
        img = img * (1 - m) + c * m

    # Lighting and the camera: brightness, contrast, a colour cast, gamma, a light gradient, noise.
    cast = 1 + rng.uniform(-nz["cast"], nz["cast"], 3)
    gx, gy = rng.normal(0, 0.06, 2)
    img = (img - 0.5) * rng.uniform(*nz["contrast"]) + 0.5 + rng.uniform(-nz["bright"], nz["bright"])
    img = img * cast * (1 + gx * X + gy * Y)[..., None]
    img = np.clip(img, 0, 1) ** rng.uniform(*nz["gamma"])
    img = img + rng.normal(0, rng.uniform(*nz["noise"]), img.shape)
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
