"""HW10 (black-box adversarial attack) dataset builder: benign images, the proxy zoo, the TA's models.

``build(ctx)`` writes, in the course's layout:

    release/data/{class}/{class}{1..20}.png     the 200 benign 32x32 RGB images, 20 per class
    release/proxy_models.py                     the proxy architectures + get_model (pytorchcv's stand-in)
    release/models/{name}.pt, README.md         the proxy zoo: weights_only state dicts, what each one is
    release/sample_submission.tgz               the benign images themselves, archived as a submission
    hidden/answers.csv                          file,label: the true class of each image
    hidden/benign.npy                           (200, 32, 32, 3) uint8, answers order: the epsilon rule's reference
    hidden/ta.json, hidden/ta/{name}.pt         the TA's models (grading.py turns images into their verdicts)
    hidden_inputs/probe_*.npy, probe_model.pt   unseen images and an untrained model for the hidden probe

Sources: ``generated`` (default) draws everything below at prepare time and trains every model (about
a minute of one CPU core at ``ci`` scale). ``real`` releases the course's own 200 CIFAR-10 images
(``<shared>/hw10_attack/data``, each checked against ``data.SHA256SUMS``); their TA models and proxies
must be CIFAR-10-trained weights, which cannot be had offline: the course lists them in the edition's
``layout`` (``ta_models``, ``proxies``: file, family, sha256) and without them scoring says why it
cannot score.

The images are drawn with the HW3 dish generator (``assignments/hw03_cnn/data.py``, imported by path;
its classes 0-9 take the CIFAR-10 names) at 32x32 with the training nuisances but a *low contrast*
(0.5-0.7 instead of 0.8-1.2): epsilon = 8 is then a fair share of the signal, as in CIFAR-10 where
pretrained models fall to it. Models train on 4,000 other drawn images (``ci``); the benign images are
the first 20 of each class that the TA ensemble gets right, so benign accuracy is 1.0 by construction.

How the TA is built, so that each level's technique is what pays:

* The TA ensemble is three models of the zoo's families, trained on other seeds *with* flips and shifts:
  a ``lowres_cnn`` (sees a 2x average-pooled image), a ``convmixer`` (4x4 patches) and a ``nin``. Their
  softmax is averaged over six fixed resize-and-pad views of each image (the passive randomisation
  defence of Xie et al. 2018, made deterministic): a perturbation that only works at its exact pixel
  grid loses much of its effect.
* simple, FGSM on ``resnet8`` (the sample code's one proxy): a full-resolution network's single
  gradient step transfers partly (accuracy ~0.6).
* medium, I-FGSM on the sample code's ensemble (``nin``, ``resnet8``, ``preresnet8``): averaging
  the models' gradients keeps the directions they share, and those transfer (~0.43). Only one of the
  three is a TA family.
* strong, MI-FGSM on well-chosen proxies: the TA's families, the augmentation-trained ones included
  (``lowres_cnn``, ``lowres_cnn_aug``, ``convmixer``, ``convmixer_aug``, ``nin``) — choosing the
  proxies is what pays here (~0.29); momentum itself adds little against this TA.
* boss, DIM-MI-FGSM on that ensemble, with the sample code's 50 steps for dim_mifgsm: random
  resize-and-pad of the input at every step (input diversity) makes the perturbation survive the TA's
  resize-and-pad views (~0.23; strong's MI-FGSM given 50 steps as well stays at ~0.27).

Numbers are the mean of course seeds 1-3 (200 images); tools/hw10_ladder.py checks the ladder on several.
"""
from __future__ import annotations

import csv
import hashlib
import importlib.util
import io
import json
import shutil
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']
PER_CLASS = 20
CONTRAST = (0.5, 0.7)               # the HW3 training nuisances, with this contrast instead of 0.8-1.2
SIZES = {"ci": {"n_train": 4000, "epochs": 3}, "full": {"n_train": 12000, "epochs": 6}}
BATCH, LR, WEIGHT_DECAY = 64, 3e-3, 1e-4

# The zoo students get: (name, augmented). Seeds differ per model and per course.
ZOO = [("resnet8_cifar10", False), ("preresnet8_cifar10", False), ("nin_cifar10", False),
       ("vgg6_cifar10", False), ("lowres_cnn_cifar10", False), ("lowres_cnn_aug_cifar10", True),
       ("convmixer_cifar10", False), ("convmixer_aug_cifar10", True)]
# The TA's ensemble: (file name, family); all trained with augmentation, seen through grading.py's
# resize-and-pad defence.
TA = [("ta_lowres_cnn", "lowres_cnn"), ("ta_convmixer", "convmixer"), ("ta_nin", "nin")]
N_PROBE = 8
MAX_ROUNDS = 50        # candidate batches of 100 drawn images when picking the benign ones


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def hw3():
    """The HW3 dish generator: draw(rng, label, size, nz), NUISANCE, CLASSES."""
    return _load("hw10_hw3_generator", HERE.parent / "hw03_cnn" / "data.py")


def proxy_models():
    return _load("hw10_proxy_models", HERE / "proxy_models.py")


def build(ctx) -> None:
    if ctx.source not in ("generated", "real"):
        raise ValueError(f"hw10: unknown source {ctx.source!r} (expected 'generated' or 'real')")
    if str(ctx.edition) != "2022":
        raise ValueError(f"hw10: only the 2022 edition exists, got {ctx.edition!r}")
    if ctx.scale not in SIZES:
        raise ValueError(f"hw10: unknown scale {ctx.scale!r} (expected 'ci' or 'full')")
    release, hidden, inputs = Path(ctx.release_dir), Path(ctx.hidden_dir), Path(ctx.hidden_inputs_dir)
    for d in (release, hidden, inputs):
        d.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(HERE / "proxy_models.py", release / "proxy_models.py")
    rng_images, rng_models, rng_probe = np.random.default_rng(ctx.seed).spawn(3)

    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: the same seed gives the same weights, byte for byte
    try:
        if ctx.source == "generated":
            sizes = {**SIZES[ctx.scale], **{k: int(v) for k, v in (ctx.options or {}).items() if k in SIZES["ci"]}}
            names, benign = _generated(release, hidden, rng_images, rng_models, sizes)
        else:
            names, benign = _real(ctx, release, hidden)
        _write_probe(inputs, rng_probe)
    finally:
        torch.set_num_threads(threads)

    labels = [CLASSES.index(n.split("/")[0]) for n in names]
    with open(hidden / "answers.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["file", "label"])
        w.writerows(zip(names, labels))
    np.save(hidden / "benign.npy", benign, allow_pickle=False)
    (release / "sample_submission.tgz").write_bytes(_archive(dict(zip(names, benign))))


# ------------------------------------------------------------------------------------ generated

def _generated(release: Path, hidden: Path, rng_images, rng_models, sizes):
    pm = proxy_models()
    gen = hw3()
    if len(gen.CLASSES) < len(CLASSES):
        raise ValueError(f"hw10: the HW3 generator has {len(gen.CLASSES)} classes, {len(CLASSES)} are needed")
    nz = dict(gen.NUISANCE["train"], contrast=CONTRAST)
    rng_train, rng_held, rng_pool = rng_images.spawn(3)
    x_train, y_train = _draw(gen, rng_train, sizes["n_train"], nz)
    x_held, y_held = _draw(gen, rng_held, 500, nz)          # for the zoo's accuracy column only
    seeds = rng_models.integers(0, 2**31 - 1, size=len(ZOO) + len(TA)).tolist()

    (release / "models").mkdir(exist_ok=True)
    rows = []
    for (name, aug), seed in zip(ZOO, seeds):
        model = _train(pm.FAMILIES[pm.family(name)], x_train, y_train, seed, sizes["epochs"], aug)
        _save_state(model, release / "models" / f"{name}.pt")
        rows.append((name, pm.family(name), aug, _accuracy(model, x_held, y_held)))
    (release / "models" / "README.md").write_text(_zoo_table(rows, sizes))

    (hidden / "ta").mkdir(exist_ok=True)
    ta = []
    for (name, fam), seed in zip(TA, seeds[len(ZOO):]):
        model = _train(pm.FAMILIES[fam], x_train, y_train, seed, sizes["epochs"], augment=True)
        _save_state(model, hidden / "ta" / f"{name}.pt")
        ta.append({"file": f"ta/{name}.pt", "family": fam})
    (hidden / "ta.json").write_text(json.dumps({"models": ta, "defence": "resize_pad"}, indent=1) + "\n")

    # Benign images: the first PER_CLASS of each class that the TA ensemble classifies correctly.
    grading = _load("hw10_grading", HERE / "grading.py")
    judge = grading.TAEnsemble.load(hidden)
    picked: dict[int, list[np.ndarray]] = {c: [] for c in range(len(CLASSES))}
    for _ in range(MAX_ROUNDS):
        if all(len(v) >= PER_CLASS for v in picked.values()):
            break
        x, y = _draw(gen, rng_pool, 10 * len(CLASSES), nz)
        ok = judge.predict(x) == y
        for img, label, good in zip(x, y, ok):
            if good and len(picked[int(label)]) < PER_CLASS:
                picked[int(label)].append(img)
    short = {CLASSES[c]: len(v) for c, v in picked.items() if len(v) < PER_CLASS}
    if short:
        raise ValueError(f"hw10: the TA ensemble classified too few drawn images correctly in "
                         f"{MAX_ROUNDS * 10 * len(CLASSES)} draws ({short}): train it longer (options n_train, epochs)")
    names, images = [], []
    for c, cls in enumerate(CLASSES):
        (release / "data" / cls).mkdir(parents=True, exist_ok=True)
        for k, img in enumerate(picked[c], start=1):
            name = f"{cls}/{cls}{k}.png"
            (release / "data" / name).write_bytes(_png(img))
            names.append(name)
            images.append(img)
    return names, np.stack(images)


def _draw(gen, rng, n: int, nz: dict):
    """n images of balanced classes in random order: (n, 32, 32, 3) uint8 and (n,) labels."""
    y = rng.permutation(np.arange(n) % len(CLASSES))
    return np.stack([gen.draw(rng, int(label), 32, nz) for label in y]), y


def _normalise(x_uint8: np.ndarray):
    import torch

    pm = proxy_models()
    mean = torch.tensor(pm.cifar_10_mean).view(1, 3, 1, 1)
    std = torch.tensor(pm.cifar_10_std).view(1, 3, 1, 1)
    return (torch.from_numpy(x_uint8).permute(0, 3, 1, 2).float() / 255 - mean) / std   # (N, 3, 32, 32)


def _augment(x, g):
    """Random horizontal flips and shifts of up to 2 pixels (replicated border), drawn from `g`."""
    import torch
    import torch.nn.functional as F

    flip = torch.rand(len(x), generator=g) < 0.5
    x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
    i, j = torch.randint(0, 5, (2,), generator=g).tolist()
    return F.pad(x, (2, 2, 2, 2), mode="replicate")[:, :, i:i + 32, j:j + 32]


def _train(make, x_uint8, y, seed: int, epochs: int, augment: bool):
    """Adam + one-cycle, cross-entropy; the initial weights and every batch come from `seed`."""
    import torch
    import torch.nn.functional as F

    with torch.random.fork_rng(devices=[]):   # the init draws from the global generator: keep it local
        torch.manual_seed(seed)
        model = make()
    g = torch.Generator().manual_seed(seed)
    x, y = _normalise(x_uint8), torch.from_numpy(np.asarray(y)).long()
    steps = len(x) // BATCH
    opt = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, LR, total_steps=epochs * steps)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=g)
        for k in range(steps):
            idx = order[k * BATCH:(k + 1) * BATCH]
            xb = _augment(x[idx], g) if augment else x[idx]
            loss = F.cross_entropy(model(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return model.eval()


def _accuracy(model, x_uint8, y) -> float:
    import torch

    with torch.no_grad():
        return float((model(_normalise(x_uint8)).argmax(1).numpy() == np.asarray(y)).mean())


def _save_state(model, path: Path) -> None:
    import torch

    buf = io.BytesIO()
    torch.save({k: v.clone() for k, v in model.state_dict().items()}, buf)
    path.write_bytes(buf.getvalue())


def _zoo_table(rows, sizes) -> str:
    lines = ["# The proxy zoo", "",
             "Load one with `proxy_models.get_model(name)` (or `ptcv_get_model(name, pretrained=True)` in the",
             "notebook). Each model was trained by the course for "
             f"{sizes['epochs']} epochs (Adam, one-cycle learning rate) on {sizes['n_train']:,}",
             "drawn images like the ones in data/ (not these). Accuracy: on 500 other such images.", "",
             "| model | family | training augmentation | accuracy |", "|---|---|---|---|"]
    for name, fam, aug, acc in rows:
        lines.append(f"| `{name}` | {fam} | {'flips, shifts of up to 2 px' if aug else 'none'} | {acc:.3f} |")
    return "\n".join(lines) + "\n"


def _png(img: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    # No timestamps or text chunks: the same pixels give the same bytes (the fingerprint depends on it).
    Image.fromarray(img, "RGB").save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def _archive(images: dict) -> bytes:
    from grader.scoring.archive import write_archive

    return write_archive(images)


# ----------------------------------------------------------------------------------------- real

def _real(ctx, release: Path, hidden: Path):
    from PIL import Image

    if ctx.shared_data is None:
        raise FileNotFoundError("hw10: source 'real' needs the shared course data folder, but it is absent")
    root = Path(ctx.shared_data) / "hw10_attack"
    sums = {}
    for line in (root / "data.SHA256SUMS").read_text().splitlines():
        digest, path = line.split()
        sums[path.split("hw10_attack/data/", 1)[1]] = digest
    names = sorted(sums, key=lambda n: (CLASSES.index(n.split("/")[0]), int(n.split("/")[1][len(n.split("/")[0]):-4])))
    if len(names) != len(CLASSES) * PER_CLASS:
        raise ValueError(f"hw10: data.SHA256SUMS lists {len(names)} images, expected {len(CLASSES) * PER_CLASS}")
    images = []
    for name in names:
        raw = (root / "data" / name).read_bytes()
        if hashlib.sha256(raw).hexdigest() != sums[name]:
            raise ValueError(f"hw10: {root / 'data' / name} does not match its sha256 in data.SHA256SUMS")
        (release / "data" / name).parent.mkdir(parents=True, exist_ok=True)
        (release / "data" / name).write_bytes(raw)
        with Image.open(io.BytesIO(raw)) as im:
            images.append(np.asarray(im.convert("RGB"), dtype=np.uint8))

    layout = dict(ctx.layout or {})
    (hidden / "ta").mkdir(exist_ok=True)
    ta, why = [], ""
    for ref in layout.get("ta_models") or []:
        why = why or _copy_checked(root.parent, ref, hidden / "ta")
        ta.append({"file": f"ta/{Path(ref['file']).name}", "family": ref["family"]})
    if not ta:
        why = ("the course's real CIFAR-10 images need CIFAR-10-trained TA models, which cannot be had offline; "
               "list the course's weight files in assignment.yaml (data.sources.real.editions.2022.layout.ta_models: "
               "file, family, sha256) and run `grade prepare hw10 --force`")
    info = {"models": [] if why else ta, "defence": layout.get("defence", "resize_pad")}
    if why:
        info["unavailable"] = why
    (hidden / "ta.json").write_text(json.dumps(info, indent=1) + "\n")
    proxies = layout.get("proxies") or []
    if proxies:
        (release / "models").mkdir(exist_ok=True)
    for ref in proxies:
        problem = _copy_checked(root.parent, ref, release / "models")
        if problem:
            raise FileNotFoundError(f"hw10: proxy {ref.get('file')}: {problem}")
    return names, np.stack(images)


def _copy_checked(shared: Path, ref: dict, dest: Path) -> str:
    """Copy a course-provided weight file after checking its sha256; '' or what is wrong."""
    src = shared / ref["file"]
    if not src.is_file():
        return f"the weight file {src} is missing"
    raw = src.read_bytes()
    if hashlib.sha256(raw).hexdigest() != ref.get("sha256"):
        return f"{src} does not match its sha256 in assignment.yaml"
    (dest / src.name).write_bytes(raw)
    return ""


# ---------------------------------------------------------------------------------------- probe

def _write_probe(inputs: Path, rng) -> None:
    """Images no student has seen and an untrained resnet8 (its own seed): the hidden probe calls the
    notebook's fgsm / ifgsm on them; the host recomputes the gradient's sign from the same weights."""
    import torch

    gen = hw3()
    nz = dict(gen.NUISANCE["train"], contrast=CONTRAST)
    x, y = _draw(gen, rng, N_PROBE, nz)
    np.save(inputs / "probe_images.npy", x, allow_pickle=False)
    np.save(inputs / "probe_labels.npy", y.astype(np.int64), allow_pickle=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(rng.integers(0, 2**31 - 1)))
        model = proxy_models().FAMILIES["resnet8"]().eval()
    _save_state(model, inputs / "probe_model.pt")
    (inputs / "probe_model.json").write_text(json.dumps({"family": "resnet8"}) + "\n")
