"""
HW10 reference solution, level "strong": MI-FGSM on an ensemble of well-chosen proxies.

    python reference_solutions/hw10/strong.py --data DATA_DIR --out OUT_DIR/submission.tgz

DATA_DIR is the released homework folder: data/<class>/<class><id>.png, proxy_models.py and models/.
The proxies are chosen by transfer, not at random: attack a few proxies, score the images on the
others and on the board, and keep the families that move the TA. Here those are the networks that
do not look at single pixels (lowres_cnn sees a 2x-pooled image, convmixer 4x4 patches) and nin, each
also in the version trained with flips and shifts, as a TA's model would be. On them, MI-FGSM: the
sample code's 20 steps of 0.8/255, each along the sign of a momentum (decay 1.0) of L1-normalised
gradients, which keeps the direction steady from step to step. The TA's accuracy falls to about 0.29
(medium's sample ensemble: about 0.43); the choice of proxies is most of the gain, momentum adds
little against this TA. About 10 s on one CPU thread.
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
from PIL import Image


@dataclass
class Config:
    models: tuple = ("lowres_cnn_cifar10", "lowres_cnn_aug_cifar10", "convmixer_cifar10",
                     "convmixer_aug_cifar10", "nin_cifar10")
    epsilon: float = 8            # L-infinity budget on the 0-255 scale
    alpha: float = 0.8            # step size on the 0-255 scale (the sample code's)
    num_iter: int = 20
    decay: float = 1.0            # momentum (MI-FGSM, Dong et al. 2018)
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


def mifgsm(model, x, y, loss_fn, epsilon, alpha, num_iter, decay):
    x_adv = x
    momentum = torch.zeros_like(x)                                     # (B, 3, 32, 32)
    for _ in range(num_iter):
        x_adv = x_adv.detach().clone().requires_grad_(True)
        loss_fn(model(x_adv), y).backward()
        grad = x_adv.grad.detach()
        # L1-normalise per image so that every step weighs the same in the running direction
        momentum = decay * momentum + grad / grad.abs().mean(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12)
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

    images, correct = [], 0
    for i in range(0, len(x), cfg.batch_size):
        xb, yb = x[i:i + cfg.batch_size], y[i:i + cfg.batch_size]
        x_adv = mifgsm(model, xb, yb, loss_fn, epsilon, alpha, cfg.num_iter, cfg.decay)
        with torch.no_grad():
            correct += (model(x_adv).argmax(1) == yb).sum().item()
        images.append(to_pixels(x_adv, mean, std))
    print(f"ensemble accuracy on its own MI-FGSM images: {correct / len(x):.3f} (white box)")
    write_tgz(args.out, names, np.concatenate(images))


if __name__ == "__main__":
    main()
