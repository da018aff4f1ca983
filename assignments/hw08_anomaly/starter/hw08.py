# %% [markdown]
# # **Homework 8 - Anomaly Detection**
#
# If there are any questions, please contact mlta-2022spring-ta@googlegroups.com
#
# This is the ML2022 sample code, adapted to the course autograder:
#
# * no download and no `pip install`: `data/trainingset.npy` and `data/testingset.npy` are in
#   `GRADE_DATA_DIR` (default: the current folder), plain uint8 arrays (`np.load` needs no pickle);
# * the images are **32x32** anime-style faces (the course: 64x64 human faces), 4,000 for training and
#   2,000 to score (the course: 100,000 and 19,636); `IMG_SIZE` below is the image side;
# * no GPU, no `qqdm` progress bar and no torchvision: the `[-1, 1]` scaling of `CustomTensorDataset`
#   is written in torch, the loop prints one line per epoch;
# * scaled down for one CPU core: 20 epochs of batches of 128 (the course: 50 epochs of 2,000) take
#   about ten seconds;
# * checkpoints are state dicts (`model.state_dict()`, loaded back into `model_classes[model_type]`),
#   written with `prediction.csv` to `GRADE_OUTPUT_DIR` (default: the current folder);
# * the anomaly score of the inference cell is a function, `anomaly_score(model, images)`, and in
#   evaluation mode the `VAE` decodes the latent mean instead of a random sample, so that a score is a
#   function of the image: the graders call `anomaly_score` on images you have not seen.
#
# Unchanged, this notebook reaches the simple baseline.

# %% [markdown]
# # Set up the environment
#
# ## Package installation / Downloading data
# Nothing to install or download here: the course's `!pip install -q qqdm` and `!wget … data.zip`
# cells are left out.

# %%
import os

DATA_DIR = os.environ.get("GRADE_DATA_DIR", ".")
OUT_DIR = os.environ.get("GRADE_OUTPUT_DIR", ".")

# %% [markdown]
# # Import packages

# %%
import random
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, RandomSampler, SequentialSampler, TensorDataset
import torch.nn.functional as F
from torch.autograd import Variable
from torch.optim import Adam, AdamW
import pandas as pd

# CPU threads (the autograder sets OMP_NUM_THREADS).
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
device = 'cuda' if torch.cuda.is_available() else 'cpu'

# %% [markdown]
# # Loading data

# %%
train = np.load(os.path.join(DATA_DIR, 'data', 'trainingset.npy'))
test = np.load(os.path.join(DATA_DIR, 'data', 'testingset.npy'))

print(train.shape)
print(test.shape)

# %% [markdown]
# ## Random seed
# Set the random seed to a certain value for reproducibility.

# %%
def same_seeds(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed(seed)
        torch.cuda.manual_seed_all(seed)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True

same_seeds(48763)

# %% [markdown]
# # Autoencoder

# %% [markdown]
# # Models & loss
#
# `IMG_SIZE` is the side of the images: 32 here (the course: 64; this course's full-size data set is
# drawn at 64x64, set `IMG_SIZE = 64` there). The convolutional models work at any size.

# %%
IMG_SIZE = 32

class fcn_autoencoder(nn.Module):
    def __init__(self):
        super(fcn_autoencoder, self).__init__()
        self.encoder = nn.Sequential(
            nn.Linear(IMG_SIZE * IMG_SIZE * 3, 128),
            nn.ReLU(),
            nn.Linear(128, 64),
            nn.ReLU(),
            nn.Linear(64, 12),
            nn.ReLU(),
            nn.Linear(12, 3)
        )    # Hint: dimension of latent space can be adjusted

        self.decoder = nn.Sequential(
            nn.Linear(3, 12),
            nn.ReLU(),
            nn.Linear(12, 64),
            nn.ReLU(),
            nn.Linear(64, 128),
            nn.ReLU(),
            nn.Linear(128, IMG_SIZE * IMG_SIZE * 3),
            nn.Tanh()
        )

    def forward(self, x):
        x = self.encoder(x)
        x = self.decoder(x)
        return x


class conv_autoencoder(nn.Module):
    def __init__(self):
        super(conv_autoencoder, self).__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(3, 12, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(12, 24, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(24, 48, 4, stride=2, padding=1),
            nn.ReLU(),
        )   # Hint:  dimension of latent space can be adjusted
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(48, 24, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(24, 12, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(12, 3, 4, stride=2, padding=1),
            nn.Tanh(),
        )

    def forward(self, x):
        x = self.encoder(x)
        x = self.decoder(x)
        return x


class VAE(nn.Module):
    def __init__(self):
        super(VAE, self).__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(3, 12, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(12, 24, 4, stride=2, padding=1),
            nn.ReLU(),
        )
        self.enc_out_1 = nn.Sequential(
            nn.Conv2d(24, 48, 4, stride=2, padding=1),
            nn.ReLU(),
        )
        self.enc_out_2 = nn.Sequential(
            nn.Conv2d(24, 48, 4, stride=2, padding=1),
            nn.ReLU(),
        )
        # Hint: can add more layers to encoder and decoder
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(48, 24, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(24, 12, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(12, 3, 4, stride=2, padding=1),
            nn.Tanh(),
        )

    def encode(self, x):
        h1 = self.encoder(x)
        return self.enc_out_1(h1), self.enc_out_2(h1)

    def reparametrize(self, mu, logvar):
        if not self.training:
            return mu    # autograder: a deterministic score in evaluation mode (the course sampled here too)
        std = logvar.mul(0.5).exp_()
        if torch.cuda.is_available():
            eps = torch.cuda.FloatTensor(std.size()).normal_()
        else:
            eps = torch.FloatTensor(std.size()).normal_()
        eps = Variable(eps)
        return eps.mul(std).add_(mu)

    def decode(self, z):
        return self.decoder(z)

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = self.reparametrize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_vae(recon_x, x, mu, logvar, criterion):
    """
    recon_x: generating images
    x: origin images
    mu: latent mean
    logvar: latent log variance
    """
    mse = criterion(recon_x, x)
    KLD_element = mu.pow(2).add_(logvar.exp()).mul_(-1).add_(1).add_(logvar)
    KLD = torch.sum(KLD_element).mul_(-0.5)
    return mse + KLD

# %% [markdown]
# # Dataset module
#
# Module for obtaining and processing data. The transform function here normalizes image's pixels from
# [0, 255] to [-1.0, 1.0]. (The course composed it from torchvision `transforms.Lambda`s; the same two
# steps in torch.)

# %%
class CustomTensorDataset(TensorDataset):
    """TensorDataset with support of transforms.
    """
    def __init__(self, tensors):
        self.tensors = tensors
        if tensors.shape[-1] == 3:
            self.tensors = tensors.permute(0, 3, 1, 2)

        self.transform = lambda x: 2. * x.to(torch.float32) / 255. - 1.

    def __getitem__(self, index):
        x = self.tensors[index]

        if self.transform:
            # mapping images to [-1.0, 1.0]
            x = self.transform(x)

        return x

    def __len__(self):
        return len(self.tensors)

# %% [markdown]
# # Training

# %% [markdown]
# ## Configuration
#
# The course trained 50 epochs with batches of 2,000 on 100,000 images; here 20 epochs of 128 on 4,000.

# %%
# Training hyperparameters
num_epochs = 20
batch_size = 128 # Hint: batch size may be lower
learning_rate = 1e-3

# Build training dataloader
x = torch.from_numpy(train)
train_dataset = CustomTensorDataset(x)

train_sampler = RandomSampler(train_dataset)
train_dataloader = DataLoader(train_dataset, sampler=train_sampler, batch_size=batch_size)

# Model
model_type = 'fcn'   # selecting a model type from {'cnn', 'fcn', 'vae', 'resnet'}
model_classes = {'fcn': fcn_autoencoder(), 'cnn': conv_autoencoder(), 'vae': VAE()}
model = model_classes[model_type].to(device)

# Loss and optimizer
criterion = nn.MSELoss()
optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)

# %% [markdown]
# ## Training loop

# %%
best_loss = np.inf
model.train()

for epoch in range(num_epochs):
    tot_loss = list()
    for data in train_dataloader:

        # ===================loading=====================
        img = data.float().to(device)
        if model_type in ['fcn']:
            img = img.view(img.shape[0], -1)

        # ===================forward=====================
        output = model(img)
        if model_type in ['vae']:
            loss = loss_vae(output[0], img, output[1], output[2], criterion)
        else:
            loss = criterion(output, img)

        tot_loss.append(loss.item())
        # ===================backward====================
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    # ===================save_best====================
    mean_loss = np.mean(tot_loss)
    if mean_loss < best_loss:
        best_loss = mean_loss
        torch.save(model.state_dict(), os.path.join(OUT_DIR, 'best_model_{}.pt'.format(model_type)))
    # ===================log========================
    print(f'epoch {epoch + 1:.0f}/{num_epochs:.0f}  loss {mean_loss:.4f}')
    # ===================save_last========================
    torch.save(model.state_dict(), os.path.join(OUT_DIR, 'last_model_{}.pt'.format(model_type)))

# %% [markdown]
# # Inference
# Model is loaded and generates its anomaly score predictions.
#
# ## Initialize
# - dataloader
# - model
# - prediction file
#
# `anomaly_score(model, images)` is the course's inference loop as a function: uint8 images
# `(N, IMG_SIZE, IMG_SIZE, 3)` in, one score per image out (the root of the summed squared
# reconstruction error; higher = more anomalous). Keep its name and arguments: the graders call it on
# hidden images, with the model your run saved (`last_model_{model_type}.pt`).

# %%
eval_batch_size = 200

def anomaly_score(model, images):
    # build testing dataloader
    data = torch.tensor(images, dtype=torch.float32)
    test_dataset = CustomTensorDataset(data)
    test_sampler = SequentialSampler(test_dataset)
    test_dataloader = DataLoader(test_dataset, sampler=test_sampler, batch_size=eval_batch_size)
    eval_loss = nn.MSELoss(reduction='none')

    model.eval()
    anomality = list()
    with torch.no_grad():
      for i, data in enumerate(test_dataloader):
        img = data.float().to(device)
        if model_type in ['fcn']:
          img = img.view(img.shape[0], -1)
        output = model(img)
        if model_type in ['vae']:
          output = output[0]
        if model_type in ['fcn']:
            loss = eval_loss(output, img).sum(-1)
        else:
            loss = eval_loss(output, img).sum([1, 2, 3])
        anomality.append(loss)
    anomality = torch.cat(anomality, axis=0)
    return torch.sqrt(anomality).cpu().numpy()

# %%
# load trained model
checkpoint_path = os.path.join(OUT_DIR, f'last_model_{model_type}.pt')
model = model_classes[model_type].to(device)
model.load_state_dict(torch.load(checkpoint_path, map_location=device))
model.eval()

# prediction file
out_file = os.path.join(OUT_DIR, 'prediction.csv')

anomality = anomaly_score(model, test).reshape(len(test), 1)

df = pd.DataFrame(anomality, columns=['score'])
df.to_csv(out_file, index_label = 'ID')

# %% [markdown]
# # Reference
# This notebook follows the ML2022 HW8 sample code (Hung-yi Lee, NTU; the course's TAs).
