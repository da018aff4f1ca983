"""
HW10 reference solution, level "simple": the sample code's FGSM on one proxy, unchanged.

    python reference_solutions/hw10/simple.py --data DATA_DIR --out OUT_DIR/submission.tgz

DATA_DIR is the released homework folder: data/<class>/<class><id>.png (200 benign images),
proxy_models.py and models/. One signed-gradient step of size epsilon = 8/255 (in normalised units
8/(255*std)) on resnet8_cifar10, the starter notebook's model, with its batches of 8, its transform and
its rounding back to 0-255: the unchanged starter writes the very same pixels. The TA's accuracy on the
images is about 0.6 (lower is better): one gradient step of one full-resolution network transfers only
partly. About 5 s on one CPU thread, most of it importing torch.
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
    model: str = "resnet8_cifar10"   # the sample code's proxy (the course: resnet110_cifar10)
    batch_size: int = 8
    epsilon: float = 8               # L-infinity budget on the 0-255 scale


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


def fgsm(model, x, y, loss_fn, epsilon):
    x_adv = x.detach().clone().requires_grad_(True)
    loss_fn(model(x_adv), y).backward()
    return x_adv + epsilon * x_adv.grad.detach().sign()            # one step up the loss


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
    epsilon = cfg.epsilon / 255 / std                                 # (3, 1, 1): 8/255 in normalised units
    names, x, y = load_benign(os.path.join(args.data, "data"))       # (200, 3, 32, 32), (200,)
    model = get_model(cfg.model, pretrained=True)
    for p in model.parameters():
        p.requires_grad_(False)                                       # gradients w.r.t. the image only
    loss_fn = nn.CrossEntropyLoss()

    images, correct = [], 0
    for i in range(0, len(x), cfg.batch_size):
        xb, yb = x[i:i + cfg.batch_size], y[i:i + cfg.batch_size]
        x_adv = fgsm(model, xb, yb, loss_fn, epsilon)
        with torch.no_grad():
            correct += (model(x_adv).argmax(1) == yb).sum().item()
        images.append(to_pixels(x_adv, mean, std))
    print(f"proxy accuracy on its own FGSM images: {correct / len(x):.3f} (white box)")
    write_tgz(args.out, names, np.concatenate(images))


if __name__ == "__main__":
    main()
