"""
HW6 reference solution, level "boss": WGAN-GP trained twice as long, images drawn from an exponential
moving average of the generator's weights (course hint: EMA of the generator, bigger budgets).

    python reference_solutions/hw06/boss.py --data DATA_DIR --out OUT_DIR/images.tgz

Everything as in strong.py (the sample DCGAN generator, the WGAN-GP critic with InstanceNorm and no
Sigmoid, gp = 10 * E[(|grad D(x_hat)|_2 - 1)^2], Adam lr 2e-4 betas (0.0, 0.9), the same seeds, so its
first 16 epochs are strong's run exactly), plus:
  * 34 epochs instead of 16: WGAN-GP keeps improving where the DCGAN's discriminator saturated;
  * an EMA copy of the generator, G_ema <- 0.99 * G_ema + 0.01 * G after every training step, started
    from G halfway through (an average that still remembers the random initial weights is a blur). The
    last iterate of the adversarial game oscillates around a good generator; the average sits nearer to
    it;
  * batch-norm statistics recomputed for G_ema before sampling (20 batches of fresh z, train mode, a
    plain average): averaged weights with averaged running statistics do not match, and in eval mode
    that mismatch shows as colour casts.
On tools/hw06_ladder.py data seeds 1 and 3, FID 94/83 and 83/83 against strong's 156/153 and 157/148,
AFD 0.78/0.79 and 0.91/0.94 against 0.44/0.44 and 0.75/0.82. The EMA without the recalibration, or
with a slower decay (0.995, 0.998), scored worse; the longer run alone (last iterate) gained less and
less steadily (seed 1: 148/130).
About 110 s CPU on one thread.
"""
import argparse
import copy
import glob
import io
import os
import random
import tarfile
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
from PIL import Image


@dataclass
class Config:
    seed: int = 2022
    batch_size: int = 64
    lr: float = 2e-4
    n_epoch: int = 34         # strong: 16
    n_critic: int = 1
    betas: tuple = (0.0, 0.9)
    lambda_gp: float = 10.0
    ema_decay: float = 0.99   # ~100 generator steps of memory
    ema_start: float = 0.5    # share of the training after which G_ema starts (from G's weights)
    recal_batches: int = 20   # batches of z for G_ema's batch-norm statistics
    z_dim: int = 100
    feature_dim: int = 16


def weights_init(m):
    classname = m.__class__.__name__
    if classname.find('Conv') != -1:
        m.weight.data.normal_(0.0, 0.02)
    elif classname.find('BatchNorm') != -1:
        m.weight.data.normal_(1.0, 0.02)
        m.bias.data.fill_(0)


class Generator(nn.Module):
    """(B, in_dim) -> (B, 3, S, S): 4x4 from a linear layer, then doublings with 5x5 transposed convs."""

    def __init__(self, in_dim, feature_dim, image_size):
        super().__init__()
        n_up = int(np.log2(image_size)) - 3
        self.l1 = nn.Sequential(nn.Linear(in_dim, feature_dim * 8 * 4 * 4, bias=False),
                                nn.BatchNorm1d(feature_dim * 8 * 4 * 4), nn.ReLU())
        dims = [feature_dim * 8 // 2 ** k for k in range(n_up + 1)]
        self.l2 = nn.Sequential(*[nn.Sequential(
            nn.ConvTranspose2d(dims[k], dims[k + 1], 5, 2, padding=2, output_padding=1, bias=False),
            nn.BatchNorm2d(dims[k + 1]), nn.ReLU(True)) for k in range(n_up)])
        self.l3 = nn.Sequential(nn.ConvTranspose2d(dims[-1], 3, 5, 2, padding=2, output_padding=1, bias=False),
                                nn.Tanh())
        self.apply(weights_init)

    def forward(self, x):
        y = self.l1(x).view(x.size(0), -1, 4, 4)     # (B, 8f, 4, 4)
        return self.l3(self.l2(y))                   # (B, 3, S, S)


class Critic(nn.Module):
    """(B, 3, S, S) -> (B,) scores: the course's Discriminator with its WGAN-GP NOTEs applied."""

    def __init__(self, in_dim, feature_dim, image_size):
        super().__init__()
        n_down = int(np.log2(image_size)) - 3
        dims = [feature_dim * 2 ** k for k in range(n_down + 1)]
        self.l1 = nn.Sequential(
            nn.Conv2d(in_dim, feature_dim, 4, 2, 1), nn.LeakyReLU(0.2),
            *[nn.Sequential(nn.Conv2d(dims[k], dims[k + 1], 4, 2, 1), nn.InstanceNorm2d(dims[k + 1], affine=True),
                            nn.LeakyReLU(0.2)) for k in range(n_down)],
            nn.Conv2d(dims[-1], 1, 4, 1, 0))  # (B, 1, 1, 1), no Sigmoid
        self.apply(weights_init)

    def forward(self, x):
        return self.l1(x).view(-1)


def gradient_penalty(D, r_imgs, f_imgs, lambda_gp):
    """lambda * E[(|grad D(x_hat)|_2 - 1)^2], x_hat uniformly between a real and a fake image."""
    alpha = torch.rand(r_imgs.size(0), 1, 1, 1)
    interpolates = (alpha * r_imgs + (1 - alpha) * f_imgs).requires_grad_(True)
    d_interpolates = D(interpolates)
    # create_graph: the penalty is itself differentiated in the critic's step
    gradients = torch.autograd.grad(d_interpolates, interpolates, torch.ones_like(d_interpolates),
                                    create_graph=True, retain_graph=True)[0]
    return lambda_gp * ((gradients.view(gradients.size(0), -1).norm(2, dim=1) - 1) ** 2).mean()


@torch.no_grad()
def ema_update(G_ema, G, decay):
    """G_ema <- decay * G_ema + (1 - decay) * G, the weights only: G_ema's batch-norm statistics are
    recomputed before sampling (recalibrate_bn), so averaging G's would be thrown away."""
    for e, p in zip(G_ema.parameters(), G.parameters()):
        e.lerp_(p, 1 - decay)


@torch.no_grad()
def recalibrate_bn(G, z_dim, n_batches, batch_size):
    """G's batch-norm running statistics, recomputed as a plain average over fresh z in train mode."""
    for m in G.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None           # None: a cumulative average, not an exponential one
    G.train()
    gen = torch.Generator().manual_seed(7)  # its own generator: the sampling z below stays strong's
    for _ in range(n_batches):
        G(torch.randn(batch_size, z_dim, generator=gen))
    return G.eval()


def load_faces(folder):
    """faces/1.png … as one (N, 3, S, S) tensor in [-1, 1], in the starter's file order."""
    fnames = sorted(glob.glob(os.path.join(folder, '*.png')), key=lambda f: int(os.path.basename(f)[:-4]))
    imgs = [torch.from_numpy(np.asarray(Image.open(f).convert('RGB')).copy()).permute(2, 0, 1) for f in fnames]
    return torch.stack([x.float().div(255).sub(0.5).div(0.5) for x in imgs])


def names_to_write(data_dir):
    with tarfile.open(os.path.join(data_dir, 'sample_submission.tgz')) as tar:
        return [m.name for m in tar.getmembers() if m.isfile()]


def write_tgz(imgs, names, path):
    """imgs (N, 3, S, S) in [0, 1] -> PNGs in a .tgz, converted as torchvision's save_image."""
    arr = imgs.mul(255).add_(0.5).clamp_(0, 255).permute(0, 2, 3, 1).to(torch.uint8).numpy()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with tarfile.open(path, 'w:gz') as tar:
        for name, img in zip(names, arr):
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, format='PNG')
            info = tarfile.TarInfo(name)
            info.size = len(buf.getvalue())
            tar.addfile(info, io.BytesIO(buf.getvalue()))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="folder with faces/ and sample_submission.tgz")
    parser.add_argument("--out", required=True, help="where to write images.tgz")
    args = parser.parse_args()
    cfg = Config()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))

    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    faces = load_faces(os.path.join(args.data, 'faces'))                     # (N, 3, S, S)
    size = faces.shape[-1]
    G = Generator(cfg.z_dim, cfg.feature_dim, size)
    D = Critic(3, cfg.feature_dim, size)
    opt_D = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=cfg.betas)
    opt_G = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=cfg.betas)
    G_ema = copy.deepcopy(G).eval()   # never trained: only averaged (and recalibrated at the end)
    loader = torch.utils.data.DataLoader(list(faces), batch_size=cfg.batch_size, shuffle=True, num_workers=0,
                                         generator=torch.Generator().manual_seed(2022))

    steps, start = 0, int(cfg.ema_start * cfg.n_epoch * len(loader))
    for epoch in range(cfg.n_epoch):
        for imgs in loader:
            bs = imgs.size(0)
            # critic: real up, fake down, gradient norm 1 between them
            f_imgs = G(torch.randn(bs, cfg.z_dim)).detach()
            loss_D = -D(imgs).mean() + D(f_imgs).mean() + gradient_penalty(D, imgs, f_imgs, cfg.lambda_gp)
            D.zero_grad()
            loss_D.backward()
            opt_D.step()
            # generator: raise the critic's score of fresh fakes
            if steps % cfg.n_critic == 0:
                loss_G = -D(G(torch.randn(bs, cfg.z_dim))).mean()
                G.zero_grad()
                loss_G.backward()
                opt_G.step()
            steps += 1
            if steps == start:
                G_ema.load_state_dict(G.state_dict())
            ema_update(G_ema, G, cfg.ema_decay)
        print(f"epoch {epoch + 1}: loss_D {loss_D.item():.4f}, loss_G {loss_G.item():.4f}", flush=True)

    names = names_to_write(args.data)
    recalibrate_bn(G_ema, cfg.z_dim, cfg.recal_batches, cfg.batch_size)
    z = torch.randn(len(names), cfg.z_dim, generator=torch.Generator().manual_seed(2022))
    with torch.no_grad():
        imgs = (G_ema(z).data + 1) / 2.0                                          # (M, 3, S, S) in [0, 1]
    write_tgz(imgs, names, args.out)


if __name__ == "__main__":
    main()
