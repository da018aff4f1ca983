"""HW6 host-side grading (course code, never released): the hidden judges of generated faces.

`represent(images, hidden_dir)` turns the validated images (uint8 (N, H, W, 3)) into what the metrics read:

* ``features``: the penultimate layer of the hidden *evaluator*, a small CNN that `data.py` trained to
  recognise the drawn attributes (hair colour and style, bangs, eye colour, mouth, blush). FID compares
  their Gaussian statistics with the same features of real held-out faces (`fid_reference.npy`): a
  generator scores well only when its faces carry the attributes in the right proportions and are drawn
  cleanly enough to be recognised (the course used Inception features; the scale here is its own).
* ``face``: the verdict of the hidden *detector*, a small CNN that `data.py` trained to tell real faces
  from non-faces (blurred, noisy, scrambled or featureless drawings). AFD is the share it accepts.

Both models are state dicts in the prepared hidden folder, loaded with ``torch.load(weights_only=True)``;
no student code is involved, only pixels.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

# attribute heads of the evaluator, in order: name -> number of classes (faces.CATEGORIES)
HEADS = {"hair_colour": 9, "hair_style": 4, "bangs": 3, "eye_colour": 6, "mouth": 3, "blush": 2}
FEATURES = 32          # width of the evaluator's feature layer (the FID dimension)
ACCEPT = 0.5           # the detector fires when its probability of "face" is above this


def _nets():
    import torch.nn as nn

    def trunk(width: int, bn: bool) -> nn.Sequential:
        # (B, 3, S, S) -> (B, 4w * (S/8)^2): three conv (+ batch norm) + ReLU + pool stages
        layers, c = [], 3
        for w in (width, 2 * width, 4 * width):
            layers += [nn.Conv2d(c, w, 3, padding=1), nn.BatchNorm2d(w) if bn else nn.Identity(), nn.ReLU(),
                       nn.MaxPool2d(2)]
            c = w
        return nn.Sequential(*layers, nn.Flatten())

    class Evaluator(nn.Module):
        """Attribute classifier; `features(x)` is its penultimate layer (B, FEATURES)."""

        def __init__(self, size: int, width: int = 12):
            super().__init__()
            self.trunk = trunk(width, bn=True)
            self.fc = nn.Linear(4 * width * (size // 8) ** 2, FEATURES)
            self.heads = nn.ModuleDict({k: nn.Linear(FEATURES, c) for k, c in HEADS.items()})

        def features(self, x):
            return self.fc(self.trunk(x))

        def forward(self, x):  # -> {attribute: logits (B, classes)}
            h = nn.functional.relu(self.features(x))
            return {k: head(h) for k, head in self.heads.items()}

    class Detector(nn.Module):
        """Face / non-face: one logit per image (B,)."""

        def __init__(self, size: int, width: int = 8):
            super().__init__()
            self.trunk = trunk(width, bn=False)
            self.fc = nn.Sequential(nn.Linear(4 * width * (size // 8) ** 2, 32), nn.ReLU(), nn.Linear(32, 1))

        def forward(self, x):
            return self.fc(self.trunk(x)).squeeze(1)

    return Evaluator, Detector


def to_tensor(images: np.ndarray):
    """uint8 (N, H, W, 3) -> float (N, 3, H, W) in [-1, 1], the generators' range."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


@lru_cache(maxsize=4)
def _load(hidden_dir: str, mtime: float):
    import torch

    Evaluator, Detector = _nets()
    size = int(np.load(Path(hidden_dir) / "judge_size.npy", allow_pickle=False))
    ev, det = Evaluator(size), Detector(size)
    ev.load_state_dict(torch.load(Path(hidden_dir) / "evaluator.pt", map_location="cpu", weights_only=True))
    det.load_state_dict(torch.load(Path(hidden_dir) / "detector.pt", map_location="cpu", weights_only=True))
    return ev.eval(), det.eval()


def judges(hidden_dir: Path):
    path = Path(hidden_dir) / "evaluator.pt"
    return _load(str(hidden_dir), path.stat().st_mtime)


def run_judges(ev, det, images: np.ndarray, batch: int = 500) -> dict[str, np.ndarray]:
    import torch

    feats, faces = [], []
    with torch.no_grad():
        for lo in range(0, len(images), batch):
            x = to_tensor(images[lo:lo + batch])
            feats.append(ev.features(x).double().numpy())
            faces.append((torch.sigmoid(det(x)) > ACCEPT).numpy())
    return {"features": np.concatenate(feats), "face": np.concatenate(faces)}


def represent(images: np.ndarray, hidden_dir: Path) -> dict[str, np.ndarray]:
    ev, det = judges(hidden_dir)
    return run_judges(ev, det, images)
