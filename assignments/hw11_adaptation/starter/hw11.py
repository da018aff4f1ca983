# %% [markdown]
# # **Homework 11 - Transfer Learning (Domain Adversarial Training)**
#
# > Author: ML2022 TAs
#
# If there are any questions, please contact the TAs.
#
# ## **Scenario and Why Domain Adversarial Training**
# We have labelled source data (real photos) and unlabelled target data (hand drawings) of the same
# 10 classes, and we want a classifier that works on the *target* domain. A model trained on the
# photos alone fails on the drawings: their distributions differ. Domain-Adversarial Training of
# Neural Networks (DaNN, Ganin et al. 2016) trains a feature extractor whose features predict the
# label of a photo *and* cannot tell which domain an image came from.
#
# This is the ML2022 HW11 sample code, adapted to the course autograder:
# * the data is given to you (no download): `real_or_drawing/train_data/{class}/{n}.bmp` (5,000 photos
#   in the course; 1,000 here) and `real_or_drawing/test_data/0/{NNNNN}.bmp` (100,000 drawings in the
#   course; 3,000 here) in `GRADE_DATA_DIR` (default: the current folder); `DaNN_submission.csv` and
#   the model files go to `GRADE_OUTPUT_DIR` (default: the current folder);
# * neither OpenCV nor torchvision is installed: `canny` is a small edge filter written with torch
#   (Sobel gradients and the two thresholds 170 / 300 of `cv2.Canny`, without its thinning step),
#   `ImageFolder` and the transforms are written with torch and PIL and do what the torchvision ones did;
# * the adversarial step goes through a gradient-reversal layer (`grad_reverse`: the identity forward,
#   -lamb times the gradient backward). It gives the feature extractor exactly the gradient of the
#   sample code's `loss = class_loss - lamb * domain_loss`, and the hidden tests call it;
# * the test images go through `test_transform`, the target transform without the random flip and
#   rotation, so that a re-run gives the very same predictions;
# * no GPU: the networks keep the sample code's layers at a quarter of the width, and the sample's
#   200 epochs are 1 here, so that the notebook trains in a few seconds of CPU. Unchanged, it
#   reaches the simple baseline.

# %%
import os

DATA_DIR = os.environ.get("GRADE_DATA_DIR", ".")
OUT_DIR = os.environ.get("GRADE_OUTPUT_DIR", ".")

# %% [markdown]
# # Data Introduce
#
# Our task contains source data: real photos, and target data: hand-drawn graffiti.
#
# We are going to train the model with the photos and their labels, and try to predict the labels of
# the hand-drawn graffiti. The ten classes: 0 circle, 1 triangle, 2 square, 3 star, 4 cross, 5 heart,
# 6 arrow, 7 moon, 8 lightning, 9 house. Both domains are label-balanced: 10% of each domain per class.

# %%
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from PIL import Image
from torch.utils.data import DataLoader, Dataset

# CPU threads (the autograder sets OMP_NUM_THREADS).
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))

# Added for the autograder: a fixed seed, so that a re-run reproduces DaNN_submission.csv.
myseed = 0
np.random.seed(myseed)
torch.manual_seed(myseed)

# %% [markdown]
# # Special Domain Knowledge
#
# When we graffiti, we usually draw the outline only, therefore we can perform edge detection
# processing on the source data to make it more similar to the target data.
#
# ## Canny Edge Detection
# The sample code calls `cv2.Canny(np.array(img), 170, 300)`: pixels whose gradient magnitude is above
# the high threshold are edges, and so are pixels above the low threshold next to one. `canny` does
# this with a Sobel filter in torch.

# %%
def canny(gray, low=170, high=300):
    """gray: [H, W] float tensor in 0..255 -> [H, W] edge map with values 0 or 255."""
    x = gray[None, None]                                                    # [1, 1, H, W]
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    g = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), torch.stack([kx, kx.T])[:, None])
    magnitude = g.abs().sum(1, keepdim=True)                                # L1 norm, as cv2.Canny
    strong = (magnitude >= high).float()
    edges = (magnitude >= low) & (F.max_pool2d(strong, 3, 1, 1) > 0)       # weak edges next to strong ones
    return edges.float()[0, 0] * 255

# %% [markdown]
# # Data Process
#
# The data is suitable for `torchvision.datasets.ImageFolder` (written below in a few lines). You can
# create a dataset with `ImageFolder` and use it with a DataLoader. The transforms turn the photos into
# edge maps and the drawings into 32x32 grayscale tensors, with the sample code's random flip and
# rotation (up to 15 degrees) as augmentation.

# %%
def _rotate(x, degrees):
    """transforms.RandomRotation's rotation, fill 0: x [C, H, W]."""
    a = np.deg2rad(degrees)
    theta = torch.tensor([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0]], dtype=torch.float32)
    grid = F.affine_grid(theta[None], [1, *x.shape], align_corners=False)
    return F.grid_sample(x[None], grid, align_corners=False)[0]

def _augment(x):
    if torch.rand(()) < 0.5:                                        # transforms.RandomHorizontalFlip()
        x = torch.flip(x, dims=[2])
    return _rotate(x, float(torch.rand(()) * 30 - 15))              # transforms.RandomRotation(15, fill=(0,))

def source_transform(img):
    # Turn RGB to grayscale (Canny does not take RGB), detect the edges, and augment.
    gray = torch.from_numpy(np.asarray(img.convert("L"), dtype=np.float32))   # transforms.Grayscale()
    x = (canny(gray, 170, 300) / 255)[None]                                    # transforms.ToTensor(): [1, 32, 32]
    return _augment(x)

def test_transform(img):
    # Grayscale, and resize the 28x28 drawings to the photos' 32x32.
    img = img.convert("L").resize((32, 32), Image.BILINEAR)                   # transforms.Resize((32, 32))
    return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255)[None]   # [1, 32, 32]

def target_transform(img):
    return _augment(test_transform(img))

class ImageFolder(Dataset):
    """torchvision.datasets.ImageFolder: root/{class}/{file}, classes and files in sorted order.
    The images are decoded once and kept in memory (they are small); the transform runs per item."""

    def __init__(self, root, transform):
        self.classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
        self.samples = [(os.path.join(root, c, f), i) for i, c in enumerate(self.classes)
                        for f in sorted(os.listdir(os.path.join(root, c)))]
        self.images = []
        for path, _ in self.samples:
            with Image.open(path) as im:
                self.images.append(im.copy())
        self.transform = transform

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, idx):
        return self.transform(self.images[idx]), self.samples[idx][1]

source_dataset = ImageFolder(os.path.join(DATA_DIR, "real_or_drawing/train_data"), transform=source_transform)
target_dataset = ImageFolder(os.path.join(DATA_DIR, "real_or_drawing/test_data"), transform=target_transform)
test_dataset = ImageFolder(os.path.join(DATA_DIR, "real_or_drawing/test_data"), transform=test_transform)

source_dataloader = DataLoader(source_dataset, batch_size=32, shuffle=True)
target_dataloader = DataLoader(target_dataset, batch_size=32, shuffle=True)
test_dataloader = DataLoader(test_dataset, batch_size=128, shuffle=False)

# %% [markdown]
# # Model
#
# Feature Extractor: classic VGG-like architecture (the sample's 64-128-256-256-512 channels at a quarter).
#
# Label Predictor / Domain Classifier: linear models.

# %%
class FeatureExtractor(nn.Module):

    def __init__(self):
        super(FeatureExtractor, self).__init__()

        self.conv = nn.Sequential(
            nn.Conv2d(1, 16, 3, 1, 1),       # [16, 32, 32]
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.MaxPool2d(2),                 # [16, 16, 16]

            nn.Conv2d(16, 32, 3, 1, 1),      # [32, 16, 16]
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.MaxPool2d(2),                 # [32, 8, 8]

            nn.Conv2d(32, 64, 3, 1, 1),      # [64, 8, 8]
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.MaxPool2d(2),                 # [64, 4, 4]

            nn.Conv2d(64, 64, 3, 1, 1),      # [64, 4, 4]
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.MaxPool2d(2),                 # [64, 2, 2]

            nn.Conv2d(64, 128, 3, 1, 1),     # [128, 2, 2]
            nn.BatchNorm2d(128),
            nn.ReLU(),
            nn.MaxPool2d(2)                  # [128, 1, 1]
        )

    def forward(self, x):
        x = self.conv(x).squeeze()
        return x

class LabelPredictor(nn.Module):

    def __init__(self):
        super(LabelPredictor, self).__init__()

        self.layer = nn.Sequential(
            nn.Linear(128, 128),
            nn.ReLU(),

            nn.Linear(128, 128),
            nn.ReLU(),

            nn.Linear(128, 10),
        )

    def forward(self, h):
        c = self.layer(h)
        return c

class DomainClassifier(nn.Module):

    def __init__(self):
        super(DomainClassifier, self).__init__()

        self.layer = nn.Sequential(
            nn.Linear(128, 128),
            nn.BatchNorm1d(128),
            nn.ReLU(),

            nn.Linear(128, 128),
            nn.BatchNorm1d(128),
            nn.ReLU(),

            nn.Linear(128, 128),
            nn.BatchNorm1d(128),
            nn.ReLU(),

            nn.Linear(128, 128),
            nn.BatchNorm1d(128),
            nn.ReLU(),

            nn.Linear(128, 1),
        )

    def forward(self, h):
        y = self.layer(h)
        return y

# %% [markdown]
# # Gradient Reversal Layer
#
# The identity in the forward pass; in the backward pass it multiplies the gradient by `-lamb`. Put it
# between the feature extractor and the domain classifier: the domain classifier still learns to tell
# the domains apart, while the feature extractor gets the opposite gradient and learns to fool it.

# %%
class GradReverse(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x, lamb):
        ctx.lamb = lamb
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_output):
        return -ctx.lamb * grad_output, None      # no gradient for lamb

def grad_reverse(x, lamb):
    return GradReverse.apply(x, lamb)

# %% [markdown]
# # Pre-processing
#
# Here we use Adam as our optimizer.

# %%
feature_extractor = FeatureExtractor()
label_predictor = LabelPredictor()
domain_classifier = DomainClassifier()

class_criterion = nn.CrossEntropyLoss()
domain_criterion = nn.BCEWithLogitsLoss()

optimizer_F = optim.Adam(feature_extractor.parameters())
optimizer_C = optim.Adam(label_predictor.parameters())
optimizer_D = optim.Adam(domain_classifier.parameters())

# %% [markdown]
# # Start Training
#
# ## DaNN Implementation
#
# In the original paper, Gradient Reversal Layer is used. Feature Extractor, Label Predictor, and Domain
# Classifier are all trained at the same time. In this code, we train Domain Classifier first, and then
# train our Feature Extractor (same concept as Generator and Discriminator training process in GAN).
#
# ## Reminder
# * Lambda, which controls the domain adversarial loss, is adaptive in the original paper. You can refer
#   to [the original work](https://arxiv.org/pdf/1505.07818.pdf). Here lambda is set to 0.1.
# * We do not have the label of the target data, you can only evaluate your model by uploading your
#   result to the leaderboard.

# %%
def train_epoch(source_dataloader, target_dataloader, lamb):
    '''
      Args:
        source_dataloader: source data的dataloader
        target_dataloader: target data的dataloader
        lamb: control the balance of domain adaptatoin and classification.
    '''

    # D loss: Domain Classifier的loss
    # F loss: Feature Extrator & Label Predictor的loss
    running_D_loss, running_F_loss = 0.0, 0.0
    total_hit, total_num = 0.0, 0.0

    for i, ((source_data, source_label), (target_data, _)) in enumerate(zip(source_dataloader, target_dataloader)):

        # Mixed the source data and target data, or it'll mislead the running params
        #   of batch_norm. (running mean/var of soucre and target data are different.)
        mixed_data = torch.cat([source_data, target_data], dim=0)
        domain_label = torch.zeros([source_data.shape[0] + target_data.shape[0], 1])
        # set domain label of source data to be 1.
        domain_label[:source_data.shape[0]] = 1

        # Step 1 : train domain classifier
        feature = feature_extractor(mixed_data)                     # [2B, 128]
        # We don't need to train feature extractor in step 1.
        # Thus we detach the feature neuron to avoid backpropgation.
        domain_logits = domain_classifier(feature.detach())
        loss = domain_criterion(domain_logits, domain_label)
        running_D_loss += loss.item()
        loss.backward()
        optimizer_D.step()
        optimizer_D.zero_grad()

        # Step 2 : train feature extractor and label classifier
        class_logits = label_predictor(feature[:source_data.shape[0]])
        domain_logits = domain_classifier(grad_reverse(feature, lamb))
        # The gradient reversal layer gives the feature extractor the gradient of
        # loss = cross entropy of classification - lamb * domain binary cross entropy.
        class_loss = class_criterion(class_logits, source_label)
        domain_loss = domain_criterion(domain_logits, domain_label)
        running_F_loss += class_loss.item() - lamb * domain_loss.item()
        (class_loss + domain_loss).backward()
        optimizer_F.step()
        optimizer_C.step()

        optimizer_D.zero_grad()
        optimizer_F.zero_grad()
        optimizer_C.zero_grad()

        total_hit += torch.sum(torch.argmax(class_logits, dim=1) == source_label).item()
        total_num += source_data.shape[0]
        print(i, end='\r')

    return running_D_loss / (i+1), running_F_loss / (i+1), total_hit / total_num

# train 1 epoch (the sample code: 200)
for epoch in range(1):

    train_D_loss, train_F_loss, train_acc = train_epoch(source_dataloader, target_dataloader, lamb=0.1)

    torch.save(feature_extractor.state_dict(), os.path.join(OUT_DIR, 'extractor_model.bin'))
    torch.save(label_predictor.state_dict(), os.path.join(OUT_DIR, 'predictor_model.bin'))

    print('epoch {:>3d}: train D loss: {:6.4f}, train F loss: {:6.4f}, acc {:6.4f}'.format(epoch, train_D_loss, train_F_loss, train_acc))

# %% [markdown]
# # Inference
#
# We use pandas to generate our csv file.
#
# BTW, the performance of the model trained for 200 epochs (in the course) might be unstable. You can
# train for more epochs for a more stable performance.

# %%
result = []
label_predictor.eval()
feature_extractor.eval()
with torch.no_grad():
    for i, (test_data, _) in enumerate(test_dataloader):
        class_logits = label_predictor(feature_extractor(test_data))

        x = torch.argmax(class_logits, dim=1).cpu().detach().numpy()
        result.append(x)

import pandas as pd
result = np.concatenate(result)

# Generate your submission
df = pd.DataFrame({'id': np.arange(0,len(result)), 'label': result})
df.to_csv(os.path.join(OUT_DIR, 'DaNN_submission.csv'),index=False)

# %% [markdown]
# # Visualization
# We use t-SNE to visualize the features of the extractor (`sklearn.manifold.TSNE` is installed).
#
# The report asks for the distribution of the features across classes (Q1) and across the source and
# target domains (Q2) at an early, a middle and the final stage of training: save `feature_extractor`'s
# state at those epochs and plot the t-SNE of the features of some photos and some drawings.
#
# # Training Statistics
# - Simple: 1 epoch, lambda 0.1 (here: a few seconds per epoch on one CPU core)
# - Medium: a scheduled lambda and more epochs
# - Strong: make use of the label balance of the drawings
# - Boss: + semi-/self-supervised learning on the drawings, ensembles
