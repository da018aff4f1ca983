"""HW10 host-side grading (course code, never released): the TA's model and the epsilon rule.

    represent(images, hidden_dir) -> {"predicted": the TA ensemble's class of every image}
    check(images, ids, hidden_dir) -> problems that reject a submission (every pixel within epsilon)

`images` are the validated submission, (200, 32, 32, 3) uint8 in the answers' order: plain pixels,
never student code. The TA's model is an ensemble of the models data.py trained into hidden/ta/ (the
architectures are the released proxy_models.py families), behind a passive defence: its softmax is
averaged over fixed resize-and-pad views of the image (Xie et al. 2018's randomisation, made
deterministic so that a score is reproducible).
"""

from __future__ import annotations

import importlib.util
import json
from functools import lru_cache
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
EPSILON = 8  # L-infinity bound on the 0-255 scale (8/255 after ToTensor)
# (size, left, top): the image resized to size x size (bilinear) and padded back to 32x32 (edge pixels).
VIEWS = [(32, 0, 0), (29, 1, 2), (30, 2, 0), (28, 2, 2), (31, 0, 1), (27, 3, 1)]


def _proxy_models():
    spec = importlib.util.spec_from_file_location("hw10_grading_proxy_models", HERE / "proxy_models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TAEnsemble:
    """The TA's model: mean softmax of every member over every view; predict() takes uint8 images."""

    def __init__(self, members, defence: str = "resize_pad"):
        import torch

        pm = _proxy_models()
        self.members = members
        self.views = VIEWS if defence == "resize_pad" else VIEWS[:1]
        self.mean = torch.tensor(pm.cifar_10_mean).view(1, 3, 1, 1)
        self.std = torch.tensor(pm.cifar_10_std).view(1, 3, 1, 1)

    @classmethod
    def load(cls, hidden_dir: Path) -> "TAEnsemble":
        import torch

        from grader.errors import GradeError

        info = json.loads((Path(hidden_dir) / "ta.json").read_text())
        if info.get("unavailable"):
            raise GradeError(f"hw10 cannot score: {info['unavailable']}")
        pm = _proxy_models()
        members = []
        for m in info["models"]:
            net = pm.FAMILIES[m["family"]]()
            net.load_state_dict(torch.load(Path(hidden_dir) / m["file"], map_location="cpu", weights_only=True))
            members.append(net.eval())
        return cls(members, info.get("defence", "resize_pad"))

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """(N, 32, 32, 3) uint8 -> (N, 10) mean softmax over members and views."""
        import torch
        import torch.nn.functional as F

        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # the same verdicts whatever the host's core count
        try:
            x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255
            x = (x - self.mean) / self.std                                            # (N, 3, 32, 32)
            total = torch.zeros(len(x), 10)
            with torch.no_grad():
                for size, left, top in self.views:
                    v = x if size == 32 else F.pad(
                        F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False),
                        (left, 32 - size - left, top, 32 - size - top), mode="replicate")
                    for net in self.members:
                        total += net(v).softmax(1)
            return (total / (len(self.views) * len(self.members))).numpy()
        finally:
            torch.set_num_threads(threads)

    def predict(self, images: np.ndarray) -> np.ndarray:
        return self.probabilities(images).argmax(1)


@lru_cache(maxsize=4)
def _ensemble(hidden_dir: str, mtime: float) -> TAEnsemble:
    return TAEnsemble.load(Path(hidden_dir))


def represent(images: np.ndarray, hidden_dir: Path) -> dict:
    ta = Path(hidden_dir) / "ta.json"
    return {"predicted": _ensemble(str(hidden_dir), ta.stat().st_mtime).predict(images)}


@lru_cache(maxsize=4)
def _benign(path: str, mtime: float) -> np.ndarray:
    return np.load(path, allow_pickle=False)


def check(images: np.ndarray, ids: np.ndarray, hidden_dir: Path) -> list[str]:
    """Every pixel of every image within EPSILON of the benign image of the same name (0-255 scale)."""
    path = Path(hidden_dir) / "benign.npy"
    benign = _benign(str(path), path.stat().st_mtime)
    if images.shape != benign.shape:
        return [f"expected {benign.shape[0]} images of {benign.shape[2]}x{benign.shape[1]} RGB, "
                f"got an array of shape {images.shape}"]
    diff = np.abs(images.astype(np.int16) - benign.astype(np.int16))              # (N, 32, 32, 3)
    worst = diff.reshape(len(diff), -1).max(axis=1)
    bad = np.flatnonzero(worst > EPSILON)
    if not bad.size:
        return []
    shown = []
    for k in bad[:5]:
        row, col, ch = np.unravel_index(int(diff[k].argmax()), diff[k].shape)
        d = int(diff[k, row, col, ch])
        shown.append(f"{ids[k]} pixel (row {row}, column {col}, {'RGB'[ch]}) is {images[k, row, col, ch]} "
                     f"where the benign image has {benign[k, row, col, ch]}: off by {d}, {d - EPSILON} over epsilon "
                     f"({int((diff[k] > EPSILON).sum())} value(s) of this image are over)")
    more = f"; … and {bad.size - 5} more image(s)" if bad.size > 5 else ""
    return [f"{bad.size} image(s) go beyond epsilon = {EPSILON} (L-infinity, 0-255 scale) from the benign "
            f"image: " + "; ".join(shown) + more]
