"""
HW6 reference solution, level "strong": WGAN-GP (course hint: WGAN or WGAN-GP).

    python reference_solutions/hw06/strong.py --data DATA_DIR --out OUT_DIR/images.tgz

The sample DCGAN's generator, trained for 16 epochs (752 steps; medium: 12; the course budgeted
2-3 hours for strong against 1-1.5 for medium), with the course's NOTEs for WGAN-GP applied:
  * the discriminator becomes a critic: no Sigmoid, InstanceNorm instead of BatchNorm (the penalty is per
    image, batch statistics would couple the images of a batch);
  * losses: critic -E[D(real)] + E[D(fake)] + gp, generator -E[D(fake)];
  * gp = 10 * E[(|grad D(x_hat)|_2 - 1)^2] at random points x_hat between real and fake images;
  * Adam with betas (0.0, 0.9) (momentum fights the moving critic), lr 2e-4. One critic step per
    generator step (n_critic 1): five would cost five times the CPU for little gain at this length.
The critic's gradients do not vanish where a BCE discriminator saturates, so the generator keeps
improving on every face, also the rarer hair colours and styles: FID falls to about half of medium's
(seed 1 of tools/hw06_ladder.py: 155 against 338) and AFD rises (0.44 against 0.34), although the
faces are grainier than the DCGAN's.
About 70 s CPU on one thread.
"""
import argparse
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
    n_epoch: int = 16
    n_critic: int = 1
    betas: tuple = (0.0, 0.9)
    lambda_gp: float = 10.0
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
    loader = torch.utils.data.DataLoader(list(faces), batch_size=cfg.batch_size, shuffle=True, num_workers=0,
                                         generator=torch.Generator().manual_seed(2022))

    steps = 0
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
        print(f"epoch {epoch + 1}: loss_D {loss_D.item():.4f}, loss_G {loss_G.item():.4f}", flush=True)

    names = names_to_write(args.data)
    G.eval()
    z = torch.randn(len(names), cfg.z_dim, generator=torch.Generator().manual_seed(2022))
    with torch.no_grad():
        imgs = (G(z).data + 1) / 2.0                                          # (M, 3, S, S) in [0, 1]
    write_tgz(imgs, names, args.out)


if __name__ == "__main__":
    main()
