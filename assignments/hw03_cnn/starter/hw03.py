# %% [markdown]
# # **Homework 3: Convolutional Neural Network (Image Classification)**
#
# Objectives:
# * Solve image classification with convolutional neural networks.
# * Improve the performance with data augmentations.
# * Understand popular image model techniques such as residual.
#
# This is the ML2022 HW3 sample code, adapted to the course autograder:
# * the data is given to you (no download): `food11/{training,validation,test}/` in `GRADE_DATA_DIR`
#   (default: the current folder); `submission.csv`, the checkpoint and the log go to
#   `GRADE_OUTPUT_DIR` (default: the current folder);
# * images are PNG files (the course's were JPEG), named as in the course: `{label}_{index}.png`
#   for training and validation, `{NNNN}.png` for the test set;
# * torchvision is not installed: `test_tfm` and `train_tfm` are plain functions written with torch
#   and PIL, doing what `transforms.Resize` + `transforms.ToTensor` did;
# * no GPU and no tqdm: the images are 32x32 (the course resized to 128x128), the network is the
#   course's five conv blocks at a quarter of the width, and `n_epochs` is scaled so that the
#   notebook runs in well under a minute on one CPU core. Unchanged, it reaches the simple baseline.

# %%
import os

DATA_DIR = os.environ.get("GRADE_DATA_DIR", ".")
OUT_DIR = os.environ.get("GRADE_OUTPUT_DIR", ".")

# %%
_exp_name = "sample"

# %%
# Import necessary packages.
import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
# "ConcatDataset" and "Subset" are possibly useful when doing semi-supervised learning.
from torch.utils.data import ConcatDataset, DataLoader, Subset, Dataset
import random

# CPU threads (the autograder sets OMP_NUM_THREADS).
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))

# %%
myseed = 6666  # set a random seed for reproducibility
torch.backends.cudnn.deterministic = True
torch.backends.cudnn.benchmark = False
np.random.seed(myseed)
torch.manual_seed(myseed)
if torch.cuda.is_available():
    torch.cuda.manual_seed_all(myseed)

# %% [markdown]
# ## **Transforms**
# Torchvision provides lots of useful utilities for image preprocessing, data wrapping as well as
# data augmentation. It is not available here, so the transforms are written with torch: each takes
# a PIL image and returns a float tensor of shape `[3, IMG_SIZE, IMG_SIZE]` with values in [0, 1].
#
# Please refer to PyTorch's official website (torch.nn.functional: `affine_grid`, `grid_sample`,
# `interpolate`; `torch.flip`; `torch.rand`) for the building blocks of augmentations.

# %%
IMG_SIZE = 32  # the course used 128; the full-size data set of this course is drawn at 128x128

# Normally, We don't need augmentations in testing and validation.
# All we need here is to resize the PIL image and transform it into Tensor.
def test_tfm(img):
    img = img.convert("RGB").resize((IMG_SIZE, IMG_SIZE), Image.BILINEAR)      # transforms.Resize
    x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0)            # transforms.ToTensor
    return x.permute(2, 0, 1).contiguous()                                     # [3, IMG_SIZE, IMG_SIZE]

# However, it is also possible to use augmentation in the testing phase.
# You may use train_tfm to produce a variety of images and then test using ensemble methods
def train_tfm(img):
    # Resize the image into a fixed shape (height = width = IMG_SIZE) and make it a tensor.
    x = test_tfm(img)
    # You may add some transforms here.
    # TODO: random crops / shifts, flips, rotations, colour jitter ... written with torch.
    return x

# %% [markdown]
# ## **Datasets**
# The data is labelled by the name, so we load images and label while calling '__getitem__'

# %%
class FoodDataset(Dataset):

    def __init__(self, path, tfm=test_tfm, files=None):
        super(FoodDataset).__init__()
        self.path = path
        self.files = sorted([os.path.join(path, x) for x in os.listdir(path) if x.endswith(".png")])
        if files != None:
            self.files = files
        print(f"One {path} sample", self.files[0])
        self.transform = tfm

    def __len__(self):
        return len(self.files)

    def __getitem__(self, idx):
        fname = self.files[idx]
        im = Image.open(fname)
        im = self.transform(im)
        try:
            label = int(fname.split("/")[-1].split("_")[0])
        except:
            label = -1  # test has no label
        return im, label

# %%
class Classifier(nn.Module):
    def __init__(self):
        super(Classifier, self).__init__()
        # torch.nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding)
        # torch.nn.MaxPool2d(kernel_size, stride, padding)
        # input dimension [3, 32, 32] (the course: [3, 128, 128] and 4x the channels)
        self.cnn = nn.Sequential(
            nn.Conv2d(3, 16, 3, 1, 1),     # [16, 32, 32]
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.MaxPool2d(2, 2, 0),         # [16, 16, 16]

            nn.Conv2d(16, 32, 3, 1, 1),    # [32, 16, 16]
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.MaxPool2d(2, 2, 0),         # [32, 8, 8]

            nn.Conv2d(32, 64, 3, 1, 1),    # [64, 8, 8]
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.MaxPool2d(2, 2, 0),         # [64, 4, 4]

            nn.Conv2d(64, 128, 3, 1, 1),   # [128, 4, 4]
            nn.BatchNorm2d(128),
            nn.ReLU(),
            nn.MaxPool2d(2, 2, 0),         # [128, 2, 2]

            nn.Conv2d(128, 128, 3, 1, 1),  # [128, 2, 2]
            nn.BatchNorm2d(128),
            nn.ReLU(),
            nn.MaxPool2d(2, 2, 0),         # [128, 1, 1]
        )
        self.fc = nn.Sequential(
            nn.Linear(128 * (IMG_SIZE // 32) ** 2, 256),
            nn.ReLU(),
            nn.Linear(256, 128),
            nn.ReLU(),
            nn.Linear(128, 11)
        )

    def forward(self, x):
        out = self.cnn(x)
        out = out.view(out.size()[0], -1)
        return self.fc(out)

# %% [markdown]
# ## **Configurations**

# %%
batch_size = 64
_dataset_dir = os.path.join(DATA_DIR, "food11")
# Construct datasets.
train_set = FoodDataset(os.path.join(_dataset_dir, "training"), tfm=train_tfm)
train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, num_workers=0, pin_memory=False)
valid_set = FoodDataset(os.path.join(_dataset_dir, "validation"), tfm=test_tfm)
valid_loader = DataLoader(valid_set, batch_size=batch_size, shuffle=True, num_workers=0, pin_memory=False)

# %%
# "cuda" only when GPUs are available.
device = "cuda" if torch.cuda.is_available() else "cpu"

# The number of training epochs and patience.
n_epochs = 4
patience = 300  # If no improvement in 'patience' epochs, early stop

# Initialize a model, and put it on the device specified.
model = Classifier().to(device)

# For the classification task, we use cross-entropy as the measurement of performance.
criterion = nn.CrossEntropyLoss()

# Initialize optimizer, you may fine-tune some hyperparameters such as learning rate on your own.
optimizer = torch.optim.Adam(model.parameters(), lr=0.0003, weight_decay=1e-5)

# %% [markdown]
# ## **Start Training**

# %%
# Initialize trackers, these are not parameters and should not be changed
stale = 0
best_acc = 0

for epoch in range(n_epochs):

    # ---------- Training ----------
    # Make sure the model is in train mode before training.
    model.train()

    # These are used to record information in training.
    train_loss = []
    train_accs = []

    for batch in train_loader:

        # A batch consists of image data and corresponding labels.
        imgs, labels = batch

        # Forward the data. (Make sure data and model are on the same device.)
        logits = model(imgs.to(device))

        # Calculate the cross-entropy loss.
        # We don't need to apply softmax before computing cross-entropy as it is done automatically.
        loss = criterion(logits, labels.to(device))

        # Gradients stored in the parameters in the previous step should be cleared out first.
        optimizer.zero_grad()

        # Compute the gradients for parameters.
        loss.backward()

        # Clip the gradient norms for stable training.
        grad_norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm=10)

        # Update the parameters with computed gradients.
        optimizer.step()

        # Compute the accuracy for current batch.
        acc = (logits.argmax(dim=-1) == labels.to(device)).float().mean()

        # Record the loss and accuracy.
        train_loss.append(loss.item())
        train_accs.append(acc)

    train_loss = sum(train_loss) / len(train_loss)
    train_acc = sum(train_accs) / len(train_accs)

    # Print the information.
    print(f"[ Train | {epoch + 1:03d}/{n_epochs:03d} ] loss = {train_loss:.5f}, acc = {train_acc:.5f}")

    # ---------- Validation ----------
    # Make sure the model is in eval mode so that some modules like dropout are disabled and work normally.
    model.eval()

    # These are used to record information in validation.
    valid_loss = []
    valid_accs = []

    # Iterate the validation set by batches.
    for batch in valid_loader:

        # A batch consists of image data and corresponding labels.
        imgs, labels = batch

        # We don't need gradient in validation.
        # Using torch.no_grad() accelerates the forward process.
        with torch.no_grad():
            logits = model(imgs.to(device))

        # We can still compute the loss (but not the gradient).
        loss = criterion(logits, labels.to(device))

        # Compute the accuracy for current batch.
        acc = (logits.argmax(dim=-1) == labels.to(device)).float().mean()

        # Record the loss and accuracy.
        valid_loss.append(loss.item())
        valid_accs.append(acc)

    # The average loss and accuracy for entire validation set is the average of the recorded values.
    valid_loss = sum(valid_loss) / len(valid_loss)
    valid_acc = sum(valid_accs) / len(valid_accs)

    # Print the information.
    print(f"[ Valid | {epoch + 1:03d}/{n_epochs:03d} ] loss = {valid_loss:.5f}, acc = {valid_acc:.5f}")

    # update logs
    with open(os.path.join(OUT_DIR, f"{_exp_name}_log.txt"), "a") as log:
        best = " -> best" if valid_acc > best_acc else ""
        print(f"[ Valid | {epoch + 1:03d}/{n_epochs:03d} ] loss = {valid_loss:.5f}, acc = {valid_acc:.5f}{best}", file=log)

    # save models
    if valid_acc > best_acc:
        print(f"Best model found at epoch {epoch}, saving model")
        torch.save(model.state_dict(), os.path.join(OUT_DIR, f"{_exp_name}_best.ckpt"))  # only save best to prevent output memory exceed error
        best_acc = valid_acc
        stale = 0
    else:
        stale += 1
        if stale > patience:
            print(f"No improvment {patience} consecutive epochs, early stopping")
            break

# %% [markdown]
# ## **Dataloader for test**

# %%
# Construct test datasets.
test_set = FoodDataset(os.path.join(_dataset_dir, "test"), tfm=test_tfm)
test_loader = DataLoader(test_set, batch_size=batch_size, shuffle=False, num_workers=0, pin_memory=False)

# %% [markdown]
# ## **Testing and generate prediction CSV**

# %%
model_best = Classifier().to(device)
model_best.load_state_dict(torch.load(os.path.join(OUT_DIR, f"{_exp_name}_best.ckpt")))
model_best.eval()
prediction = []
with torch.no_grad():
    for data, _ in test_loader:
        test_pred = model_best(data.to(device))
        test_label = np.argmax(test_pred.cpu().data.numpy(), axis=1)
        prediction += test_label.squeeze().tolist()

# %%
# create test csv
def pad4(i):
    return "0" * (4 - len(str(i))) + str(i)
df = pd.DataFrame()
df["Id"] = [pad4(i) for i in range(1, len(test_set) + 1)]
df["Category"] = prediction
df.to_csv(os.path.join(OUT_DIR, "submission.csv"), index=False)

# %% [markdown]
# # **Q1. Augmentation Implementation**
# ## Implement augmentation by finishing `train_tfm` in the code with image size of your choice.
# ### Your `train_tfm` must be capable of producing 5+ different results when given an identical image multiple times.
#
# The graders call your `train_tfm` (the last definition in the notebook) several times on an image
# you have not seen and count the different tensors it returns. Keep `train_tfm`, `test_tfm` and
# `Classifier` as top-level names, each transform taking a PIL image and returning a
# `[3, H, W]` float tensor that `Classifier` accepts.

# %% [markdown]
# # **Q2. Residual Implementation**
# ![](https://i.imgur.com/GYsq1Ap.png)
# ## Directly copy the following block and paste it on GradeScope after you finish the code
# ### Only the forward function needs to be changed: add residual connections where the shapes agree
# ### (for instance the input of a block to its output).
# The sizes are those of this course's 32x32 images (the course: 64/128/256 channels on 128x128).

# %%
class Residual_Network(nn.Module):
    def __init__(self):
        super(Residual_Network, self).__init__()

        self.cnn_layer1 = nn.Sequential(
            nn.Conv2d(3, 16, 3, 1, 1),
            nn.BatchNorm2d(16),
        )

        self.cnn_layer2 = nn.Sequential(
            nn.Conv2d(16, 16, 3, 1, 1),
            nn.BatchNorm2d(16),
        )

        self.cnn_layer3 = nn.Sequential(
            nn.Conv2d(16, 32, 3, 2, 1),
            nn.BatchNorm2d(32),
        )

        self.cnn_layer4 = nn.Sequential(
            nn.Conv2d(32, 32, 3, 1, 1),
            nn.BatchNorm2d(32),
        )
        self.cnn_layer5 = nn.Sequential(
            nn.Conv2d(32, 64, 3, 2, 1),
            nn.BatchNorm2d(64),
        )
        self.cnn_layer6 = nn.Sequential(
            nn.Conv2d(64, 64, 3, 1, 1),
            nn.BatchNorm2d(64),
        )
        self.fc_layer = nn.Sequential(
            nn.Linear(64 * (IMG_SIZE // 4) ** 2, 256),
            nn.ReLU(),
            nn.Linear(256, 11)
        )
        self.relu = nn.ReLU()

    def forward(self, x):
        # input (x): [batch_size, 3, 32, 32]
        # output: [batch_size, 11]

        # Extract features by convolutional layers.
        x1 = self.cnn_layer1(x)

        x1 = self.relu(x1)

        x2 = self.cnn_layer2(x1)

        x2 = self.relu(x2)

        x3 = self.cnn_layer3(x2)

        x3 = self.relu(x3)

        x4 = self.cnn_layer4(x3)

        x4 = self.relu(x4)

        x5 = self.cnn_layer5(x4)

        x5 = self.relu(x5)

        x6 = self.cnn_layer6(x5)

        x6 = self.relu(x6)

        # The extracted feature map must be flatten before going to fully-connected layers.
        xout = x6.flatten(1)

        # The features are transformed by fully-connected layers to obtain the final logits.
        xout = self.fc_layer(xout)
        return xout

# %% [markdown]
# # **Reference**
# This notebook follows the ML2022 HW3 sample code (Hung-yi Lee, NTU). The Food-11 images of the
# course are replaced by procedurally drawn dishes of eleven classes with the same names and layout.
