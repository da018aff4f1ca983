"""HW8 (anomaly detection) dataset builder: normal faces, and test images half of which are anomalies.

``build(ctx)`` writes, in the course's own layout (the sample code reads ``data/trainingset.npy`` and
``data/testingset.npy``, uint8 arrays of shape (N, H, W, 3), saved with np.save and no pickle):

    release/data/trainingset.npy   normal faces only                       (n_train, S, S, 3) uint8
    release/data/testingset.npy    normal faces and anomalies, shuffled    (n_test, S, S, 3) uint8
    release/sample_submission.csv  ID,score with every test ID, all scores 0.5
    hidden/answers.csv             ID,score: 1 for an anomaly, 0 for a normal face (ROC AUC's labels)
    hidden/kinds.csv               ID,kind: what each test image is (normal, or the anomaly's kind)
    hidden_inputs/probeset.npy     other images, half normal faces, half plain anomalies (PROBE_KINDS),
                                   shuffled, for the hidden probe
    hidden/probe_labels.npy        their labels (host only: the probe never sees them)

Sizes: ``ci`` draws 32x32 images, 4,000 for training, 2,000 to test (1,000 anomalies) and 1,000 for
the probe, so the ladder trains on two CPU cores in about a minute; ``full`` draws 64x64 images in the
course's counts (100,000 / 19,636, about half anomalies). ``options`` may override ``n_train``,
``n_test``, ``n_probe`` and ``size``.

The normal images are HW6's anime-style faces (``assignments/hw06_gan/faces.py``, imported by path:
its ``sample_attributes`` and ``render``), framed less tightly than HW6's portraits: the head's position
and size vary more (``_normal_attributes``). The anomalies are the course's four families, each drawn
with the same generator so that colours, shapes and framing are those of the normal faces:

    other objects    balls, boxes and cones in the faces' colours on the faces' backgrounds
    broken faces     no eyes; a piece of the face pasted elsewhere on it; a patch of noise
    swapped parts    eyes and mouth swapped; the left half of one face with the right of another;
                     eyes pushed together
    wrong colours    the colour channels swapped; every colour turned around the grey axis

What pays at each level (ROC AUC of each kind against the normal test faces, ``tools/hw08_ladder.py
--kinds``, ci scale, seed 3; the totals weight the kinds as ``KINDS`` does):

    kind                 simple  medium  strong  boss
    objects               0.54    0.56    0.64   0.95
    no_eyes               0.51    0.48    0.50   0.73
    pasted_piece          0.50    0.60    0.63   0.74
    noise_patch           0.52    0.54    0.62   0.71
    eyes_mouth_swapped    0.55    0.63    0.74   0.87
    mixed_halves          0.84    0.92    0.98   0.95
    eyes_together         0.54    0.63    0.70   0.71
    channels_swapped      0.64    0.69    0.73   0.98
    colours_turned        0.59    0.63    0.64   0.91
    all (public/private)  0.57/0.55  0.62/0.61  0.67/0.66  0.83/0.83

* The sample's fully connected autoencoder (simple) squeezes a face through 3 numbers: it reconstructs
  a blurred average face with roughly the right hair colour, so its error mostly measures how far a
  face is from that average (hair style, position) and catches only what changes the whole picture
  (halves of two faces, swapped channels, some objects).
* A convolutional encoder with a narrow fully connected bottleneck (medium: the course's "adjust the
  model structure") learns faces as faces, wherever the head sits: normal faces are reconstructed
  closely, so swapped eyes and mouth, other objects and pasted pieces stand out. (The sample's
  convolutional autoencoder, whose 48x4x4 code is a quarter of the image, copies anomalies as well as
  faces and scores below the fully connected one: its structure is what must be adjusted.)
* A multi-encoder autoencoder (strong: a wider convolutional encoder and a fully connected one side
  by side, their codes concatenated, trained longer) reconstructs the normal faces' details (eyes,
  mouth, fringe) more closely still: the smaller anomalies (pasted pieces, noise patches, eyes in the
  wrong place, objects) clear the normal faces' error.
* Noise injection and an extra classifier (boss): a denoising autoencoder does not learn to copy
  noise, and a classifier trained to tell training faces from self-made pseudo-anomalies (a piece of
  the face pasted elsewhere, swapped colour channels, a smeared or noisy patch: CutPaste, Li et al.
  2021) catches what no reconstruction error can: faces without eyes (a simpler picture, reconstructed
  better than a normal face) and faces in turned colours.
"""
from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np

SIZES = {"ci": {"size": 32, "n_train": 4000, "n_test": 2000, "n_probe": 1000},
         "full": {"size": 64, "n_train": 100_000, "n_test": 19_636, "n_probe": 2000}}
FACES = Path(__file__).resolve().parent.parent / "hw06_gan" / "faces.py"

# The anomaly kinds: (course family, share of the anomalies). The shares set what each level gains.
KINDS = {
    "objects": ("other objects", 0.12),
    "no_eyes": ("broken faces", 0.10),
    "pasted_piece": ("broken faces", 0.14),
    "noise_patch": ("broken faces", 0.10),
    "eyes_mouth_swapped": ("swapped parts", 0.14),
    "mixed_halves": ("swapped parts", 0.04),
    "eyes_together": ("swapped parts", 0.12),
    "channels_swapped": ("wrong colours", 0.10),
    "colours_turned": ("wrong colours", 0.14),
}


def _faces():
    if not FACES.is_file():
        raise FileNotFoundError(f"hw8 draws its normal images with HW6's face generator, {FACES}, which is missing")
    spec = importlib.util.spec_from_file_location("grader_hw06_faces", FACES)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(ctx) -> None:
    release_dir, hidden_dir = Path(ctx.release_dir), Path(ctx.hidden_dir)
    inputs_dir = Path(ctx.hidden_inputs_dir)
    for d in (release_dir / "data", hidden_dir, inputs_dir):
        d.mkdir(parents=True, exist_ok=True)
    if ctx.source != "generated":
        raise ValueError(f"hw8: unknown source {ctx.source!r} (only 'generated')")
    if ctx.scale not in SIZES:
        raise ValueError(f"hw8: unknown scale {ctx.scale!r}; known: {sorted(SIZES)}")
    cfg = {**SIZES[ctx.scale], **{k: int(v) for k, v in dict(ctx.options or {}).items() if k in SIZES["ci"]}}
    faces = _faces()
    rng = np.random.default_rng(ctx.seed)
    size = cfg["size"]

    train = _normal(faces, rng, cfg["n_train"], size)
    test, test_kinds = _mixed(faces, rng, cfg["n_test"], size)
    probe, probe_kinds = _mixed(faces, rng, cfg["n_probe"], size, PROBE_KINDS)

    np.save(release_dir / "data" / "trainingset.npy", train, allow_pickle=False)
    np.save(release_dir / "data" / "testingset.npy", test, allow_pickle=False)
    # The sample submission (every ID, one score for all: chance, ROC AUC 0.5) is written here, with 0.5:
    # the platform's default filler, 0, equals the label of the normal half of the test images, and the
    # release scan refuses any column that matches half of the hidden answers.
    _write_csv(release_dir / "sample_submission.csv", ["ID", "score"], [[i, 0.5] for i in range(len(test))])
    _write_csv(hidden_dir / "answers.csv", ["ID", "score"],
               [[i, int(k != "normal")] for i, k in enumerate(test_kinds)])
    _write_csv(hidden_dir / "kinds.csv", ["ID", "kind"], list(enumerate(test_kinds)))
    np.save(inputs_dir / "probeset.npy", probe, allow_pickle=False)
    np.save(hidden_dir / "probe_labels.npy", np.array([k != "normal" for k in probe_kinds], dtype=np.int64),
            allow_pickle=False)


def _write_csv(path: Path, header: list[str], rows) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _counts(n: int, shares: dict | None = None) -> dict[str, int]:
    """Anomalies per kind for n anomalies: the shares (default: KINDS'), rounded, adding up to n."""
    shares = shares or {kind: w for kind, (_, w) in KINDS.items()}
    exact = np.array(list(shares.values())) / sum(shares.values()) * n
    counts = np.floor(exact).astype(int)
    counts[np.argsort(counts - exact)[: n - counts.sum()]] += 1      # largest remainders first
    return dict(zip(shares, counts.tolist()))


def _mixed(faces, rng, n: int, size: int, shares=None) -> tuple[np.ndarray, list[str]]:
    """n images, n // 2 of them anomalies (the course: about half), shuffled; and the kind of each.
    shares: anomaly kind -> share (default: KINDS')."""
    n_anomalies = n // 2
    parts, kinds = [_normal(faces, rng, n - n_anomalies, size)], ["normal"] * (n - n_anomalies)
    for kind, count in _counts(n_anomalies, shares).items():
        parts.append(ANOMALIES[kind](faces, rng, count, size))
        kinds += [kind] * count
    images = np.concatenate(parts)
    order = rng.permutation(len(images))
    return images[order], [kinds[i] for i in order]


# ---------------------------------------------------------------------------------------- normal

def _normal_attributes(faces, rng, n: int) -> dict:
    """HW6's attributes with a looser framing: the head moves and scales more than in HW6's portraits,
    so a model must know faces wherever they sit, not one fixed template."""
    a = faces.sample_attributes(rng, n)
    a["face_x"] = rng.normal(0.0, 0.10, n)
    a["face_y"] = 0.06 + rng.normal(0.0, 0.07, n)
    a["face_scale"] = rng.uniform(0.82, 1.12, n)
    return a


def _normal(faces, rng, n: int, size: int) -> np.ndarray:
    return faces.render(_normal_attributes(faces, rng, n), size)


# ------------------------------------------------------------------------------------- anomalies

def _objects(faces, rng, n: int, size: int) -> np.ndarray:
    """Other objects: one to three balls, boxes or cones in the faces' hair, eye and skin colours, on a
    background drawn as the faces' are (a soft vertical gradient of a pale colour)."""
    c = (np.arange(size) + 0.5) / size * 2 - 1
    x, y = c[None, :], c[:, None]
    palette = np.concatenate([faces.HAIR_RGB, faces.EYE_RGB, faces.SKIN_LIGHT[None], faces.SKIN_DARK[None]])
    background = _hsv(rng.uniform(0, 1, n), rng.uniform(0.08, 0.38, n), rng.uniform(0.80, 1.0, n))
    shade = (1.0 - 0.12 * (y + 1) / 2)[..., None]
    out = np.empty((n, size, size, 3), dtype=np.uint8)
    pw = 2.0 / size
    for k in range(n):
        img = background[k] * shade * np.ones((size, size, 1))
        for _ in range(int(rng.integers(1, 4))):
            cx, cy, r = rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5), rng.uniform(0.2, 0.55)
            shape = int(rng.integers(3))
            if shape == 0:                                             # ball
                d = np.sqrt((x - cx) ** 2 + (y - cy) ** 2) - r
            elif shape == 1:                                           # box
                d = np.maximum(np.abs(x - cx) - r, np.abs(y - cy) - r * rng.uniform(0.5, 1.5))
            else:                                                      # cone, point up
                d = np.maximum(np.abs(y - cy) - r, np.abs(x - cx) - (y - cy + r) / 2)
            alpha = np.clip(0.5 - d / pw, 0, 1)[..., None]
            colour = palette[rng.integers(len(palette))] * rng.uniform(0.85, 1.1)
            img = img + alpha * (np.clip(colour, 0, 1) - img)
        out[k] = np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)
    return out


def _hsv(h, s, v) -> np.ndarray:
    """HSV -> RGB for arrays of shape (n,): (n, 3) float32 in [0, 1] (the conversion HW6 uses for its
    backgrounds; written out here so that HW8 depends only on faces.py's public names)."""
    i = np.floor(h * 6.0) % 6
    f = h * 6.0 - np.floor(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    rgb = np.zeros((len(h), 3))
    for k, (r, g, b) in enumerate([(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]):
        m = i == k
        rgb[m] = np.stack([r[m], g[m], b[m]], axis=1)
    return rgb.astype(np.float32)


def _no_eyes(faces, rng, n, size):
    """Broken faces: no eyes (nor eyebrows)."""
    a = _normal_attributes(faces, rng, n)
    a["eye_scale"] = np.zeros(n)
    return faces.render(a, size)


def _patches(rng, n, size):
    """Where a patch goes: (rows, cols) of n rectangles of a sixth to a quarter of the side, away from
    the border (over the face, mostly)."""
    h = rng.integers(size // 6, size // 4 + 1, n)
    w = rng.integers(size // 6, size // 4 + 1, n)
    r = np.array([rng.integers(size // 6, size - hh - size // 6 + 1) for hh in h])
    c = np.array([rng.integers(size // 6, size - ww - size // 6 + 1) for ww in w])
    return r, c, h, w


def _pasted_piece(faces, rng, n, size):
    """Broken faces: a piece of the face copied over another place of it."""
    imgs = _normal(faces, rng, n, size)
    out = imgs.copy()
    for k, (r, c, h, w) in enumerate(zip(*_patches(rng, n, size))):
        r2, c2 = rng.integers(0, size - h + 1), rng.integers(0, size - w + 1)
        out[k, r:r + h, c:c + w] = imgs[k, r2:r2 + h, c2:c2 + w]
    return out


def _noise_patch(faces, rng, n, size):
    """Broken faces: a patch of strong pixel noise."""
    out = _normal(faces, rng, n, size).astype(np.float64)
    for k, (r, c, h, w) in enumerate(zip(*_patches(rng, n, size))):
        out[k, r:r + h, c:c + w] += rng.normal(0, 40, (h, w, 3))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _eyes_mouth_swapped(faces, rng, n, size):
    """Swapped parts: the eyes where the mouth goes, the mouth where the eyes go."""
    a = _normal_attributes(faces, rng, n)
    a["eye_y"], a["mouth_y"] = a["mouth_y"] - 0.10, a["eye_y"].copy()
    return faces.render(a, size)


def _mixed_halves(faces, rng, n, size):
    """Swapped parts: the left half of one face with the right half of another."""
    left, right = _normal(faces, rng, n, size), _normal(faces, rng, n, size)
    return np.concatenate([left[:, :, : size // 2], right[:, :, size // 2:]], axis=2)


def _eyes_together(faces, rng, n, size):
    """Swapped parts: eyes pushed together (the normal gap is 0.40-0.50 of the face's half width)."""
    a = _normal_attributes(faces, rng, n)
    a["eye_gap"] = rng.uniform(0.15, 0.25, n)
    return faces.render(a, size)


PERMUTATIONS = [(1, 2, 0), (2, 0, 1), (0, 2, 1), (2, 1, 0), (1, 0, 2)]


def _channels_swapped(faces, rng, n, size):
    """Wrong colours: the red, green and blue channels in another order (skin turns green or blue)."""
    imgs = _normal(faces, rng, n, size)
    return np.stack([img[..., list(PERMUTATIONS[p])] for img, p in zip(imgs, rng.integers(0, 5, n))])


def _colours_turned(faces, rng, n, size):
    """Wrong colours: every colour turned by 35-70 degrees about the grey axis (a hue rotation)."""
    imgs = _normal(faces, rng, n, size).astype(np.float64) / 255
    k = np.ones(3) / np.sqrt(3)
    cross = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    out = np.empty_like(imgs)
    for i, t in enumerate(rng.uniform(0.6, 1.2, n) * rng.choice([-1.0, 1.0], n)):
        rot = np.eye(3) + np.sin(t) * cross + (1 - np.cos(t)) * cross @ cross     # Rodrigues' formula
        out[i] = imgs[i] @ rot.T
    return np.clip(np.rint(out * 255), 0, 255).astype(np.uint8)


# The hidden probe's planted anomalies: the plainest kinds (pieces of two faces, other objects, swapped
# colour channels), which even the sample code ranks well above the normal faces. The probe checks that
# a notebook's anomaly_score works on unseen images; the subtle kinds count on the leaderboard.
PROBE_KINDS = {"mixed_halves": 1.0, "objects": 1.0, "channels_swapped": 1.0}

ANOMALIES = {
    "objects": _objects, "no_eyes": _no_eyes, "pasted_piece": _pasted_piece, "noise_patch": _noise_patch,
    "eyes_mouth_swapped": _eyes_mouth_swapped, "mixed_halves": _mixed_halves, "eyes_together": _eyes_together,
    "channels_swapped": _channels_swapped, "colours_turned": _colours_turned,
}
assert set(ANOMALIES) == set(KINDS) >= set(PROBE_KINDS)
