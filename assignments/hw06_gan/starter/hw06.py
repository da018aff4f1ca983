# %% [markdown]
# # **Homework 6 - Generative Adversarial Network**
#
# This is the sample code for hw6 of 2022 Machine Learning course in National Taiwan University.
#
# In this sample code, there are 5 sections:
# 1. Environment setting
# 2. Dataset preparation
# 3. Model setting
# 4. Train
# 5. Inference
#
# Your goal is to do anime face generation, if you have any question, please discuss at NTU COOL.
#
# **Adapted for the course autograder.** The faces are in `faces/` under `GRADE_DATA_DIR` (default: the
# current folder), nothing is downloaded, and everything is written under `GRADE_OUTPUT_DIR` (default: the
# current folder). The notebook runs on one CPU core in about half a minute: the faces are 32×32 (the
# course's 64×64 at the full scale), `feature_dim` is 16 instead of 64, and it trains for 4 short epochs.
# `torchvision` is not in the course image, so the few helpers it provided (`make_grid`, `save_image`, the
# transforms) are written in torch below. The 500 images are saved as PNG (the course used JPEG) and
# packed into `images.tgz` with Python's `tarfile` instead of `tar`. The inference noise is drawn from a
# seeded generator, so a re-run of the notebook draws the same faces.

# %% [markdown]
# # Environment setting
# In this section, we will prepare for the dataset and set some environment variable.
#
# ## Download Dataset
# Nothing to download: the training faces are given to you in `faces/` (`1.png`, `2.png`, …).

# %%
import os

DATA_DIR = os.environ.get("GRADE_DATA_DIR", ".")
OUT_DIR = os.environ.get("GRADE_OUTPUT_DIR", ".")

# %% [markdown]
# ## Other setting

# %%
# import module
import glob
import random
import logging
import tarfile
from datetime import datetime

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import optim
from torch.utils.data import Dataset, DataLoader
import matplotlib.pyplot as plt
from PIL import Image

# CPU threads (the autograder sets OMP_NUM_THREADS).
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
device = 'cuda' if torch.cuda.is_available() else 'cpu'


# seed setting
def same_seeds(seed):
    # Python built-in random module
    random.seed(seed)
    # Numpy
    np.random.seed(seed)
    # Torch
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed(seed)
        torch.cuda.manual_seed_all(seed)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True

same_seeds(2022)
workspace_dir = OUT_DIR

# %% [markdown]
# ## Image helpers
# `torchvision.utils.make_grid` and `torchvision.utils.save_image`, the two the sample code uses, in torch.

# %%
def make_grid(images, nrow=8, padding=2):
    """(B, 3, H, W) in [0, 1] -> one (3, rows*(H+p)+p, nrow*(W+p)+p) image, as torchvision's."""
    images = torch.stack(list(images)) if isinstance(images, (list, tuple)) else images
    b, c, h, w = images.shape
    ncol = min(nrow, b)
    nrows = (b + ncol - 1) // ncol
    grid = torch.zeros(c, nrows * (h + padding) + padding, ncol * (w + padding) + padding)
    for k in range(b):
        r, q = divmod(k, ncol)
        top, left = r * (h + padding) + padding, q * (w + padding) + padding
        grid[:, top:top + h, left:left + w] = images[k]
    return grid

def save_image(images, filename, nrow=8):
    """Save a (3, H, W) image or a grid of (B, 3, H, W) images in [0, 1], as torchvision's save_image."""
    grid = make_grid(images, nrow=nrow) if images.dim() == 4 else images
    ndarr = grid.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to("cpu", torch.uint8).numpy()
    Image.fromarray(ndarr).save(filename)

# %% [markdown]
# # Dataset preparation
# In this section, we prepare for the dataset for Pytorch.
#
# ## Create dataset for Pytorch
#
# In order to unified image information, we use the transform function to:
# 1. Resize image to `image_size` × `image_size` (the course: 64x64)
# 2. Normalize the image
#
# This CrypkoDataset class will be use in Section 4. The faces are decoded once and kept in memory (the
# course decoded a file per item): a CPU epoch then costs the training, not the decoding.

# %%
# prepare for CrypkoDataset

class CrypkoDataset(Dataset):
    def __init__(self, fnames, transform):
        self.transform = transform
        self.fnames = fnames
        self.num_samples = len(self.fnames)
        self.images = [self.transform(read_image(fname)) for fname in self.fnames]

    def __getitem__(self, idx):
        return self.images[idx]

    def __len__(self):
        return self.num_samples

def read_image(fname):
    """A file as a uint8 (3, H, W) tensor, as torchvision.io.read_image."""
    return torch.from_numpy(np.asarray(Image.open(fname).convert('RGB')).copy()).permute(2, 0, 1)

def get_dataset(root, image_size=64):
    fnames = sorted(glob.glob(os.path.join(root, '*.png')), key=lambda f: int(os.path.basename(f)[:-4]))

    def transform(img):
        # ToTensor: uint8 -> [0, 1]; Resize((image_size, image_size)); Normalize(mean=0.5, std=0.5) -> [-1, 1]
        x = img.float().div(255)
        if x.shape[-1] != image_size:
            x = F.interpolate(x[None], size=(image_size, image_size), mode='bilinear', align_corners=False)[0]
        return x.sub(0.5).div(0.5)

    dataset = CrypkoDataset(fnames, transform)
    return dataset

# %% [markdown]
# ## Show the image
# Show some sample in the dataset

# %%
temp_dataset = get_dataset(os.path.join(DATA_DIR, 'faces'), image_size=32)

images = [(temp_dataset[i] + 1) / 2 for i in range(4)]
grid_img = make_grid(images, nrow=4)
plt.figure(figsize=(10, 10))
plt.imshow(grid_img.permute(1, 2, 0))
plt.show()

# %% [markdown]
# # Model setting
# In this section, we will create models and trainer.
#
# ## Create model
# In this section, we will create models for Generator and Discriminator. Both take the image size:
# the course's 64x64 needs four doublings from 4x4, the 32x32 faces here three.

# %%
# Generator

class Generator(nn.Module):
    """
    Input shape: (batch, in_dim)
    Output shape: (batch, 3, image_size, image_size)
    """
    def __init__(self, in_dim, feature_dim=64, image_size=64):
        super().__init__()
        n_up = int(np.log2(image_size)) - 3      # doublings after 4x4, besides the last one

        #input: (batch, 100)
        self.l1 = nn.Sequential(
            nn.Linear(in_dim, feature_dim * 8 * 4 * 4, bias=False),
            nn.BatchNorm1d(feature_dim * 8 * 4 * 4),
            nn.ReLU()
        )
        dims = [feature_dim * 8 // 2 ** k for k in range(n_up + 1)]
        self.l2 = nn.Sequential(*[
            self.dconv_bn_relu(dims[k], dims[k + 1])     #(batch, dims[k+1], 8 * 2^k, 8 * 2^k)
            for k in range(n_up)
        ])
        self.l3 = nn.Sequential(
            nn.ConvTranspose2d(dims[-1], 3, kernel_size=5, stride=2,
                               padding=2, output_padding=1, bias=False),
            nn.Tanh()
        )
        self.apply(weights_init)

    def dconv_bn_relu(self, in_dim, out_dim):
        return nn.Sequential(
            nn.ConvTranspose2d(in_dim, out_dim, kernel_size=5, stride=2,
                               padding=2, output_padding=1, bias=False),        #double height and width
            nn.BatchNorm2d(out_dim),
            nn.ReLU(True)
        )

    def forward(self, x):
        y = self.l1(x)
        y = y.view(y.size(0), -1, 4, 4)
        y = self.l2(y)
        y = self.l3(y)
        return y

# %%
# Discriminator
class Discriminator(nn.Module):
    """
    Input shape: (batch, 3, image_size, image_size)
    Output shape: (batch)
    """
    def __init__(self, in_dim, feature_dim=64, image_size=64):
        super(Discriminator, self).__init__()
        n_down = int(np.log2(image_size)) - 3    # halvings after the first one, down to 4x4

        #input: (batch, 3, image_size, image_size)
        """
        NOTE FOR SETTING DISCRIMINATOR:

        Remove last sigmoid layer for WGAN
        """
        dims = [feature_dim * 2 ** k for k in range(n_down + 1)]
        self.l1 = nn.Sequential(
            nn.Conv2d(in_dim, feature_dim, kernel_size=4, stride=2, padding=1), #(batch, feature_dim, S/2, S/2)
            nn.LeakyReLU(0.2),
            *[self.conv_bn_lrelu(dims[k], dims[k + 1]) for k in range(n_down)],  #(batch, dims[k+1], S/2^(k+2), ...)
            nn.Conv2d(dims[-1], 1, kernel_size=4, stride=1, padding=0),         #(batch, 1, 1, 1)
            nn.Sigmoid()
        )
        self.apply(weights_init)

    def conv_bn_lrelu(self, in_dim, out_dim):
        """
        NOTE FOR SETTING DISCRIMINATOR:

        You can't use nn.Batchnorm for WGAN-GP
        Use nn.InstanceNorm2d instead
        """

        return nn.Sequential(
            nn.Conv2d(in_dim, out_dim, 4, 2, 1),
            nn.BatchNorm2d(out_dim),
            nn.LeakyReLU(0.2),
        )

    def forward(self, x):
        y = self.l1(x)
        y = y.view(-1)
        return y

# %%
# setting for weight init function
def weights_init(m):
    classname = m.__class__.__name__
    if classname.find('Conv') != -1:
        m.weight.data.normal_(0.0, 0.02)
    elif classname.find('BatchNorm') != -1:
        m.weight.data.normal_(1.0, 0.02)
        m.bias.data.fill_(0)

# %% [markdown]
# ## Create trainer
# In this section, we will create a trainer which contains following functions:
# 1. prepare_environment: prepare the overall environment, construct the models, create directory for the log and ckpt
# 2. train: train for generator and discriminator, you can try to modify the code here to construct WGAN or WGAN-GP
# 3. inference: after training, you can pass the generator ckpt path into it and the function will save the result for you
#
# `gp(r_imgs, f_imgs)`, the gradient penalty of WGAN-GP, is written for you (the course left it as a
# TODO): the graders call it on a critic and images of their own, so keep its name and arguments if
# you rewrite it. It must return λ·mean((‖∇D(x̂)‖₂ − 1)²) over points x̂ between real and fake images,
# differentiable with respect to the critic's weights.

# %%
class TrainerGAN():
    def __init__(self, config):
        self.config = config

        self.G = Generator(100, self.config["feature_dim"], self.config["image_size"])
        self.D = Discriminator(3, self.config["feature_dim"], self.config["image_size"])

        self.loss = nn.BCELoss()

        """
        NOTE FOR SETTING OPTIMIZER:

        GAN: use Adam optimizer
        WGAN: use RMSprop optimizer
        WGAN-GP: use Adam optimizer
        """
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=self.config["lr"], betas=(0.5, 0.999))
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=self.config["lr"], betas=(0.5, 0.999))

        self.dataloader = None
        self.log_dir = os.path.join(self.config["workspace_dir"], 'logs')
        self.ckpt_dir = os.path.join(self.config["workspace_dir"], 'checkpoints')

        FORMAT = '%(asctime)s - %(levelname)s: %(message)s'
        logging.basicConfig(level=logging.INFO,
                            format=FORMAT,
                            datefmt='%Y-%m-%d %H:%M')

        self.steps = 0
        self.z_samples = torch.randn(100, self.config["z_dim"]).to(device)

    def prepare_environment(self):
        """
        Use this funciton to prepare function
        """
        os.makedirs(self.log_dir, exist_ok=True)
        os.makedirs(self.ckpt_dir, exist_ok=True)

        # update dir by time
        time = datetime.now().strftime('%Y-%m-%d_%H-%M-%S')
        self.log_dir = os.path.join(self.log_dir, time+f'_{self.config["model_type"]}')
        self.ckpt_dir = os.path.join(self.ckpt_dir, time+f'_{self.config["model_type"]}')
        os.makedirs(self.log_dir)
        os.makedirs(self.ckpt_dir)

        # create dataset by the above function
        dataset = get_dataset(os.path.join(DATA_DIR, 'faces'), self.config["image_size"])
        # a seeded shuffle and no worker processes: every run sees the same batches
        self.dataloader = DataLoader(dataset, batch_size=self.config["batch_size"], shuffle=True,
                                     num_workers=0, generator=torch.Generator().manual_seed(2022))

        # model preparation
        self.G = self.G.to(device)
        self.D = self.D.to(device)
        self.G.train()
        self.D.train()

    def gp(self, r_imgs, f_imgs):
        """
        Implement gradient penalty function
        """
        # Random points on the lines between real and fake images (one mixing weight per image).
        alpha = torch.rand(r_imgs.size(0), 1, 1, 1, device=r_imgs.device)
        interpolates = (alpha * r_imgs + (1 - alpha) * f_imgs).requires_grad_(True)
        d_interpolates = self.D(interpolates)
        # create_graph=True: the penalty itself is differentiated when the critic learns.
        gradients = torch.autograd.grad(outputs=d_interpolates, inputs=interpolates,
                                        grad_outputs=torch.ones_like(d_interpolates),
                                        create_graph=True, retain_graph=True)[0]
        gradients = gradients.view(gradients.size(0), -1)             # (batch, 3 * H * W)
        gradient_penalty = ((gradients.norm(2, dim=1) - 1) ** 2).mean() * 10   # lambda = 10 (Gulrajani et al.)
        return gradient_penalty

    def train(self):
        """
        Use this function to train generator and discriminator
        """
        self.prepare_environment()

        for e, epoch in enumerate(range(self.config["n_epoch"])):
            progress_bar = self.dataloader   # the course wrapped this in tqdm
            print(f"Epoch {e+1}")
            for i, data in enumerate(progress_bar):
                imgs = data.to(device)
                bs = imgs.size(0)

                # *********************
                # *    Train D        *
                # *********************
                z = torch.randn(bs, self.config["z_dim"]).to(device)
                r_imgs = imgs
                f_imgs = self.G(z)
                r_label = torch.ones((bs)).to(device)
                f_label = torch.zeros((bs)).to(device)


                # Discriminator forwarding
                r_logit = self.D(r_imgs)
                f_logit = self.D(f_imgs.detach())   # detach: D's step needs no gradient through G (CPU time)

                """
                NOTE FOR SETTING DISCRIMINATOR LOSS:

                GAN:
                    loss_D = (r_loss + f_loss)/2
                WGAN:
                    loss_D = -torch.mean(r_logit) + torch.mean(f_logit)
                WGAN-GP:
                    gradient_penalty = self.gp(r_imgs, f_imgs)
                    loss_D = -torch.mean(r_logit) + torch.mean(f_logit) + gradient_penalty
                """
                # Loss for discriminator
                r_loss = self.loss(r_logit, r_label)
                f_loss = self.loss(f_logit, f_label)
                loss_D = (r_loss + f_loss) / 2

                # Discriminator backwarding
                self.D.zero_grad()
                loss_D.backward()
                self.opt_D.step()

                """
                NOTE FOR SETTING WEIGHT CLIP:

                WGAN: below code
                """
                # for p in self.D.parameters():
                #     p.data.clamp_(-self.config["clip_value"], self.config["clip_value"])



                # *********************
                # *    Train G        *
                # *********************
                if self.steps % self.config["n_critic"] == 0:
                    # Generate some fake images.
                    z = torch.randn(bs, self.config["z_dim"]).to(device)
                    f_imgs = self.G(z)

                    # Generator forwarding
                    f_logit = self.D(f_imgs)


                    """
                    NOTE FOR SETTING LOSS FOR GENERATOR:

                    GAN: loss_G = self.loss(f_logit, r_label)
                    WGAN: loss_G = -torch.mean(self.D(f_imgs))
                    WGAN-GP: loss_G = -torch.mean(self.D(f_imgs))
                    """
                    # Loss for the generator.
                    loss_G = self.loss(f_logit, r_label)

                    # Generator backwarding
                    self.G.zero_grad()
                    loss_G.backward()
                    self.opt_G.step()

                if self.steps % 50 == 0:
                    print(f"  step {self.steps}: loss_G={loss_G.item():.4f}, loss_D={loss_D.item():.4f}")
                self.steps += 1

            self.G.eval()
            with torch.no_grad():
                f_imgs_sample = (self.G(self.z_samples).data + 1) / 2.0
            filename = os.path.join(self.log_dir, f'Epoch_{epoch+1:03d}.png')
            save_image(f_imgs_sample, filename, nrow=10)
            logging.info(f'Save some samples to {filename}.')

            # Show some images during training.
            grid_img = make_grid(f_imgs_sample.cpu(), nrow=10)
            plt.figure(figsize=(10,10))
            plt.imshow(grid_img.permute(1, 2, 0))
            plt.show()

            self.G.train()

            if (e+1) % 5 == 0 or e == 0 or e + 1 == self.config["n_epoch"]:
                # Save the checkpoints (and always the last epoch's, which inference uses below).
                torch.save(self.G.state_dict(), os.path.join(self.ckpt_dir, f'G_{e}.pth'))
                torch.save(self.D.state_dict(), os.path.join(self.ckpt_dir, f'D_{e}.pth'))

        logging.info('Finish training')

    def inference(self, G_path, n_generate=1000, n_output=30, show=False):
        """
        1. G_path is the path for Generator ckpt
        2. You can use this function to generate final answer
        """

        self.G.load_state_dict(torch.load(G_path, map_location=device))
        self.G.to(device)
        self.G.eval()
        # A seeded generator: re-running the notebook draws the very same faces.
        z = torch.randn(n_generate, self.config["z_dim"], generator=torch.Generator().manual_seed(2022)).to(device)
        with torch.no_grad():
            imgs = (self.G(z).data + 1) / 2.0

        os.makedirs(os.path.join(self.config["workspace_dir"], 'output'), exist_ok=True)
        for i in range(n_generate):
            save_image(imgs[i], os.path.join(self.config["workspace_dir"], 'output', f'{i+1}.png'))

        if show:
            row, col = n_output//10 + 1, 10
            grid_img = make_grid(imgs[:n_output].cpu(), nrow=row)
            plt.figure(figsize=(row, col))
            plt.imshow(grid_img.permute(1, 2, 0))
            plt.show()

# %% [markdown]
# # Train
# In this section, we will first set the config for trainer, then use it to train generator and discriminator.
#
# ## Set config
# Scaled down for one CPU core: the course trained `feature_dim` 64 on 71,314 faces of 64x64 for one
# epoch (about 1,100 steps of 64 faces); here 3,000 faces of 32x32, 4 epochs (188 steps). `n_generate`
# is the number of images to hand in (the course: 1000).

# %%
config = {
    "model_type": "GAN",
    "batch_size": 64,
    "lr": 2e-4,
    "n_epoch": 4,
    "n_critic": 1,
    "z_dim": 100,
    "feature_dim": 16,
    "image_size": 32,
    "n_generate": 500,
    "workspace_dir": workspace_dir, # define in the environment setting
}

# %% [markdown]
# ## Start to train

# %%
trainer = TrainerGAN(config)
trainer.train()

# %% [markdown]
# # Inference
# In this section, we will use trainer to train model
#
# ## Inference through trainer

# %%
# save the images into the output folder (the course: 1000, here config["n_generate"])
trainer.inference(os.path.join(trainer.ckpt_dir, f'G_{config["n_epoch"] - 1}.pth'),
                  n_generate=config["n_generate"], show=True)

# %% [markdown]
# ## Prepare .tgz file
# The course ran `%cd output`, `!tar -zcf ../images.tgz *.jpg`, `%cd ..`: the images at the top of the
# archive, no folder. The same with Python's tarfile:

# %%
with tarfile.open(os.path.join(OUT_DIR, 'images.tgz'), 'w:gz') as tar:
    for i in range(1, config["n_generate"] + 1):
        tar.add(os.path.join(workspace_dir, 'output', f'{i}.png'), arcname=f'{i}.png')
print('wrote', os.path.join(OUT_DIR, 'images.tgz'))

# %% [markdown]
# # Reference
# This notebook follows the ML2022 HW6 sample code (Hung-yi Lee, NTU). DCGAN: Radford et al., 2016;
# WGAN-GP: Gulrajani et al., 2017. Data: Crypko anime faces in the course; drawn faces here.
