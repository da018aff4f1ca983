"""
HW10 reference solution, level "boss": DIM-MI-FGSM on the ensemble of well-chosen proxies.

    python reference_solutions/hw10/boss.py --data DATA_DIR --out OUT_DIR/submission.tgz

DATA_DIR is the released homework folder: data/<class>/<class><id>.png, proxy_models.py and models/.
strong's proxies and momentum, plus input diversity (Xie et al. 2019): at every step, with probability
p the batch is resized to a random size below 32x32 (nearest neighbour) and zero-padded back to 32x32
at a random place before the forward pass, so the gradient is that of a transformed image. A
perturbation that fools the proxies under such transformations is not tied to one pixel grid, and the
TA's passive defence (its votes over resized and padded views) no longer washes it out. The sample
code's dim_mifgsm takes 50 steps (its default num_iter), not 20: each step sees other random views, so
more steps average the gradient over more of them. The TA's accuracy falls to about 0.23 (strong:
about 0.30; strong's MI-FGSM given 50 steps too reaches only about 0.27, so input diversity is most of
the gain). The transformations are drawn from a seeded torch.Generator, so a re-run writes the same
images. About 25 s on one CPU thread.
"""
import argparse
import glob
import io
import os
import sys
import tarfile
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image


@dataclass
class Config:
    models: tuple = ("lowres_cnn_cifar10", "lowres_cnn_aug_cifar10", "convmixer_cifar10",
                     "convmixer_aug_cifar10", "nin_cifar10")
    epsilon: float = 8            # L-infinity budget on the 0-255 scale
    alpha: float = 0.8            # step size on the 0-255 scale (the sample code's)
    num_iter: int = 50            # the sample code's dim_mifgsm default
    decay: float = 1.0            # momentum (MI-FGSM)
    p: float = 0.5                # probability of a diverse input at a step
    min_size: int = 26            # resized to min_size..31 pixels, then padded back to 32
    seed: int = 1
    batch_size: int = 50          # eval-mode models: the batch size changes nothing but speed


class Ensemble(nn.Module):
    """Mean of the members' logits: (B, 3, 32, 32) -> (B, 10)."""

    def __init__(self, models):
        super().__init__()
        self.models = nn.ModuleList(models)

    def forward(self, x):
        return torch.stack([m(x) for m in self.models]).mean(0)


def load_benign(data_dir):
    """The sample code's AdvDataset: sorted class folders (label = position), sorted files.
    Returns names ['airplane/airplane1.png', ...], x (N, 3, 32, 32) normalised, y (N,)."""
    from proxy_models import cifar_10_mean, cifar_10_std

    names, xs, ys = [], [], []
    for label, class_dir in enumerate(sorted(glob.glob(f"{data_dir}/*"))):
        for path in sorted(glob.glob(f"{class_dir}/*")):
            img = torch.from_numpy(np.array(Image.open(path).convert("RGB"), dtype=np.uint8)).permute(2, 0, 1)
            x = img.float().div(255)                                                         # ToTensor
            xs.append((x - torch.tensor(cifar_10_mean).view(3, 1, 1)) / torch.tensor(cifar_10_std).view(3, 1, 1))
            names.append(os.path.relpath(path, data_dir))
            ys.append(label)
    return names, torch.stack(xs), torch.tensor(ys)


def diverse(x, cfg, g):
    """With probability p: (B, 3, 32, 32) -> resized to s x s (s < 32) -> zero-padded back at a random place."""
    if torch.rand(1, generator=g).item() >= cfg.p:
        return x
    s = int(torch.randint(cfg.min_size, 32, (1,), generator=g))
    left, top = torch.randint(0, 32 - s + 1, (2,), generator=g).tolist()
    small = F.interpolate(x, size=(s, s), mode="nearest")
    return F.pad(small, (left, 32 - s - left, top, 32 - s - top), value=0.0)   # 0 = the mean colour


def dim_mifgsm(model, x, y, loss_fn, epsilon, alpha, cfg, g):
    x_adv = x
    momentum = torch.zeros_like(x)                                     # (B, 3, 32, 32)
    for _ in range(cfg.num_iter):
        x_adv = x_adv.detach().clone().requires_grad_(True)
        loss_fn(model(diverse(x_adv, cfg, g)), y).backward()           # the gradient flows through the resize
        grad = x_adv.grad.detach()
        momentum = cfg.decay * momentum + grad / grad.abs().mean(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12)
        x_adv = x_adv + alpha * momentum.sign()
        x_adv = torch.max(torch.min(x_adv, x + epsilon), x - epsilon)   # back into the epsilon ball
    return x_adv.detach()


def to_pixels(x_adv, mean, std):
    """Normalised (B, 3, H, W) -> uint8 (B, H, W, 3), rounded as the sample code does."""
    adv = ((x_adv * std + mean).clamp(0, 1) * 255).clamp(0, 255)
    return adv.detach().numpy().round().transpose(0, 2, 3, 1).astype(np.uint8)


def write_tgz(path, names, images):
    """The course's `cd fgsm && tar zcvf ../fgsm.tgz *`: class folders at the top of the archive."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, img in zip(names, images):
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, format="PNG")
            info = tarfile.TarInfo(name)
            info.size = len(buf.getvalue())
            tar.addfile(info, io.BytesIO(buf.getvalue()))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="the released folder (data/, proxy_models.py, models/)")
    parser.add_argument("--out", required=True, help="where to write submission.tgz")
    args = parser.parse_args()
    cfg = Config()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    sys.path.insert(0, os.path.abspath(args.data))
    from proxy_models import cifar_10_mean, cifar_10_std, get_model

    mean = torch.tensor(cifar_10_mean).view(3, 1, 1)
    std = torch.tensor(cifar_10_std).view(3, 1, 1)
    epsilon, alpha = cfg.epsilon / 255 / std, cfg.alpha / 255 / std   # (3, 1, 1) in normalised units
    names, x, y = load_benign(os.path.join(args.data, "data"))        # (200, 3, 32, 32), (200,)
    model = Ensemble([get_model(name, pretrained=True) for name in cfg.models]).eval()
    for p in model.parameters():
        p.requires_grad_(False)                                        # gradients w.r.t. the image only
    loss_fn = nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(cfg.seed)

    images, correct = [], 0
    for i in range(0, len(x), cfg.batch_size):
        xb, yb = x[i:i + cfg.batch_size], y[i:i + cfg.batch_size]
        x_adv = dim_mifgsm(model, xb, yb, loss_fn, epsilon, alpha, cfg, g)
        with torch.no_grad():
            correct += (model(x_adv).argmax(1) == yb).sum().item()
        images.append(to_pixels(x_adv, mean, std))
    print(f"ensemble accuracy on its own DIM-MI-FGSM images: {correct / len(x):.3f} (white box)")
    write_tgz(args.out, names, np.concatenate(images))


if __name__ == "__main__":
    main()
