# %% [markdown]
# # **Homework 2: Phoneme Classification**
#
# Objectives:
# * Solve a classification problem with deep neural networks (DNN).
# * Understand recursive neural networks (RNN).
#
# Predict the phoneme class (41 classes) of every frame of an utterance from its 39-dim MFCC
# features (13 coefficients + delta + delta-delta, with CMVN).
#
# This is the ML2022 sample code, adapted to the course autograder:
# * the data is already in `GRADE_DATA_DIR` (default: the current folder), so the download cells
#   (`wget`/`gdown`/`unzip`) and the `nvidia-smi` cell are gone; `prediction.csv` and the model
#   checkpoint go to `GRADE_OUTPUT_DIR` (default: the current folder);
# * it needs no GPU and runs in about ten seconds on one CPU core: the data set of this course is
#   smaller than LibriSpeech and `num_epoch` is set for it;
# * `tqdm` is not in the course image, so the loops print one line per epoch instead of a progress bar;
# * the data loader's shuffling has its own seeded generator and `preprocess_data` gathers frames in a
#   list instead of a 3,000,000-row buffer, so memory follows the data size.

# %% [markdown]
# ## Data
# You should have
# - `libriphone/train_split.txt`: the training utterance ids, one per line
# - `libriphone/train_labels.txt`: one line per training utterance, `utt_id label label …` (a label per frame)
# - `libriphone/test_split.txt`: the test utterance ids, in the order of `prediction.csv`
# - `libriphone/feat/train/*.pt`: training features, a `(T, 39)` float tensor per utterance
# - `libriphone/feat/test/*.pt`: testing features
#
# in `DATA_DIR`; there is nothing to download.

# %%
import os

DATA_DIR = os.environ.get("GRADE_DATA_DIR", ".")
OUT_DIR = os.environ.get("GRADE_OUTPUT_DIR", ".")

# %% [markdown]
# ## Preparing Data

# %% [markdown]
# **Helper functions to pre-process the training data from raw MFCC features of each utterance.**
#
# A phoneme may span several frames and depends on past and future frames. Hence we concatenate
# neighbouring frames for training to achieve higher accuracy. The **concat_feat** function concatenates
# the past and future k frames (n = 2k+1 frames in total), and we predict the center frame. At the
# edges of an utterance the first (last) frame is repeated.
#
# Feel free to modify the data preprocess functions, but **do not drop any frame** (if you modify the
# functions, remember to check that the number of frames is the same as in `test_split.txt`'s
# utterances: `prediction.csv` needs one row per test frame).

# %%
import random
import numpy as np
import pandas as pd
import torch

# CPU threads (the autograder sets OMP_NUM_THREADS).
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))

def load_feat(path):
    feat = torch.load(path)
    return feat

def shift(x, n):
    # x: (T, D). Move the frames n steps (n > 0: frame t becomes frame t+n), repeating the edge frame.
    if n < 0:
        left = x[0].repeat(-n, 1)
        right = x[:n]
    elif n > 0:
        right = x[-1].repeat(n, 1)
        left = x[n:]
    else:
        return x
    return torch.cat((left, right), dim=0)

def concat_feat(x, concat_n):
    assert concat_n % 2 == 1 # n must be odd
    if concat_n < 2:
        return x
    seq_len, feature_dim = x.size(0), x.size(1)
    x = x.repeat(1, concat_n)
    x = x.view(seq_len, concat_n, feature_dim).permute(1, 0, 2) # concat_n, seq_len, feature_dim
    mid = (concat_n // 2)
    for r_idx in range(1, mid+1):
        x[mid + r_idx, :] = shift(x[mid + r_idx], r_idx)
        x[mid - r_idx, :] = shift(x[mid - r_idx], -r_idx)
    return x.permute(1, 0, 2).view(seq_len, concat_n * feature_dim)

def preprocess_data(split, feat_dir, phone_path, concat_nframes, train_ratio=0.8, train_val_seed=1337):
    class_num = 41 # NOTE: pre-computed, should not need change
    mode = 'train' if (split == 'train' or split == 'val') else 'test'

    label_dict = {}
    if mode != 'test':
        phone_file = open(os.path.join(phone_path, f'{mode}_labels.txt')).readlines()
        for line in phone_file:
            line = line.strip('\n').split(' ')
            label_dict[line[0]] = [int(p) for p in line[1:]]

    if split == 'train' or split == 'val':
        # split training and validation data
        usage_list = open(os.path.join(phone_path, 'train_split.txt')).readlines()
        random.seed(train_val_seed)
        random.shuffle(usage_list)
        percent = int(len(usage_list) * train_ratio)
        usage_list = usage_list[:percent] if split == 'train' else usage_list[percent:]
    elif split == 'test':
        usage_list = open(os.path.join(phone_path, 'test_split.txt')).readlines()
    else:
        raise ValueError('Invalid \'split\' argument for dataset: PhoneDataset!')

    usage_list = [line.strip('\n') for line in usage_list]
    print('[Dataset] - # phone classes: ' + str(class_num) + ', number of utterances for ' + split + ': ' + str(len(usage_list)))

    X, y = [], []
    for fname in usage_list:
        feat = load_feat(os.path.join(feat_dir, mode, f'{fname}.pt'))
        cur_len = len(feat)
        feat = concat_feat(feat, concat_nframes)
        X.append(feat)
        if mode != 'test':
            label = torch.LongTensor(label_dict[fname])
            assert len(label) == cur_len, f'{fname}: {len(label)} labels for {cur_len} frames'
            y.append(label)

    X = torch.cat(X, dim=0)
    print(f'[INFO] {split} set')
    print(X.shape)
    if mode != 'test':
        y = torch.cat(y, dim=0)
        print(y.shape)
        return X, y
    else:
        return X

# %% [markdown]
# ## Define Dataset

# %%
from torch.utils.data import Dataset
from torch.utils.data import DataLoader

class LibriDataset(Dataset):
    def __init__(self, X, y=None):
        self.data = X
        if y is not None:
            self.label = torch.LongTensor(y)
        else:
            self.label = None

    def __getitem__(self, idx):
        if self.label is not None:
            return self.data[idx], self.label[idx]
        else:
            return self.data[idx]

    def __len__(self):
        return len(self.data)

# %% [markdown]
# ## Define Model

# %%
import torch.nn as nn
import torch.nn.functional as F

class BasicBlock(nn.Module):
    def __init__(self, input_dim, output_dim):
        super(BasicBlock, self).__init__()

        # TODO: apply batch normalization and dropout for strong baseline.
        # Reference: https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm1d.html (batch normalization)
        #       https://pytorch.org/docs/stable/generated/torch.nn.Dropout.html (dropout)
        self.block = nn.Sequential(
            nn.Linear(input_dim, output_dim),
            nn.ReLU(),
        )

    def forward(self, x):
        x = self.block(x)
        return x


class Classifier(nn.Module):
    def __init__(self, input_dim, output_dim=41, hidden_layers=1, hidden_dim=256):
        super(Classifier, self).__init__()

        self.fc = nn.Sequential(
            BasicBlock(input_dim, hidden_dim),
            *[BasicBlock(hidden_dim, hidden_dim) for _ in range(hidden_layers)],
            nn.Linear(hidden_dim, output_dim)
        )

    def forward(self, x):
        x = self.fc(x)
        return x

# %% [markdown]
# ## Hyper-parameters
#
# The course trained 5 epochs over 2.1 million frames; this course's data set is smaller, so
# `num_epoch` is larger and the whole run still takes seconds on a CPU.

# %%
# data prarameters
# TODO: change the value of "concat_nframes" for medium baseline
concat_nframes = 1              # the number of frames to concat with, n must be odd (total 2k+1 = n frames)
train_ratio = 0.8               # the ratio of data used for training, the rest will be used for validation

# training parameters
seed = 0                        # random seed
batch_size = 512                # batch size
num_epoch = 10                  # the number of training epoch
learning_rate = 0.0001          # learning rate
model_path = os.path.join(OUT_DIR, 'model.ckpt')  # the path where the checkpoint will be saved

# model parameters
# TODO: change the value of "hidden_layers" or "hidden_dim" for medium baseline
input_dim = 39 * concat_nframes # the input dim of the model, you should not change the value
hidden_layers = 1               # the number of hidden layers
hidden_dim = 256                # the hidden dim

# %% [markdown]
# ## Prepare dataset and model

# %%
import gc

# preprocess data
feat_dir = os.path.join(DATA_DIR, 'libriphone', 'feat')
phone_path = os.path.join(DATA_DIR, 'libriphone')
train_X, train_y = preprocess_data(split='train', feat_dir=feat_dir, phone_path=phone_path, concat_nframes=concat_nframes, train_ratio=train_ratio)
val_X, val_y = preprocess_data(split='val', feat_dir=feat_dir, phone_path=phone_path, concat_nframes=concat_nframes, train_ratio=train_ratio)

# get dataset
train_set = LibriDataset(train_X, train_y)
val_set = LibriDataset(val_X, val_y)

# remove raw feature to save memory
del train_X, train_y, val_X, val_y
gc.collect()

# get dataloader (the shuffling generator is seeded, so every run sees the same batches)
train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                          generator=torch.Generator().manual_seed(seed))
val_loader = DataLoader(val_set, batch_size=batch_size, shuffle=False)

# %%
device = 'cuda:0' if torch.cuda.is_available() else 'cpu'
print(f'DEVICE: {device}')

# %%
#fix seed
def same_seeds(seed):
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed(seed)
        torch.cuda.manual_seed_all(seed)
    np.random.seed(seed)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True

# %%
# fix random seed
same_seeds(seed)

# create model, define a loss function, and optimizer
model = Classifier(input_dim=input_dim, hidden_layers=hidden_layers, hidden_dim=hidden_dim).to(device)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)

# %% [markdown]
# ## Training

# %%
best_acc = 0.0
for epoch in range(num_epoch):
    train_acc = 0.0
    train_loss = 0.0
    val_acc = 0.0
    val_loss = 0.0

    # training
    model.train() # set the model to training mode
    for i, batch in enumerate(train_loader):
        features, labels = batch
        features = features.to(device)
        labels = labels.to(device)

        optimizer.zero_grad()
        outputs = model(features)

        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()

        _, train_pred = torch.max(outputs, 1) # get the index of the class with the highest probability
        train_acc += (train_pred.detach() == labels.detach()).sum().item()
        train_loss += loss.item()

    # validation
    if len(val_set) > 0:
        model.eval() # set the model to evaluation mode
        with torch.no_grad():
            for i, batch in enumerate(val_loader):
                features, labels = batch
                features = features.to(device)
                labels = labels.to(device)
                outputs = model(features)

                loss = criterion(outputs, labels)

                _, val_pred = torch.max(outputs, 1)
                val_acc += (val_pred.cpu() == labels.cpu()).sum().item() # get the index of the class with the highest probability
                val_loss += loss.item()

            print('[{:03d}/{:03d}] Train Acc: {:3.6f} Loss: {:3.6f} | Val Acc: {:3.6f} loss: {:3.6f}'.format(
                epoch + 1, num_epoch, train_acc/len(train_set), train_loss/len(train_loader), val_acc/len(val_set), val_loss/len(val_loader)
            ))

            # if the model improves, save a checkpoint at this epoch
            if val_acc > best_acc:
                best_acc = val_acc
                torch.save(model.state_dict(), model_path)
                print('saving model with acc {:.3f}'.format(best_acc/len(val_set)))
    else:
        print('[{:03d}/{:03d}] Train Acc: {:3.6f} Loss: {:3.6f}'.format(
            epoch + 1, num_epoch, train_acc/len(train_set), train_loss/len(train_loader)
        ))

# if not validating, save the last epoch
if len(val_set) == 0:
    torch.save(model.state_dict(), model_path)
    print('saving model at last epoch')

# %%
del train_loader, val_loader
gc.collect()

# %% [markdown]
# ## Testing
# Create a testing dataset, and load model from the saved checkpoint.

# %%
# load data
test_X = preprocess_data(split='test', feat_dir=feat_dir, phone_path=phone_path, concat_nframes=concat_nframes)
test_set = LibriDataset(test_X, None)
test_loader = DataLoader(test_set, batch_size=batch_size, shuffle=False)

# %%
# load model
model = Classifier(input_dim=input_dim, hidden_layers=hidden_layers, hidden_dim=hidden_dim).to(device)
model.load_state_dict(torch.load(model_path))

# %% [markdown]
# Make prediction.

# %%
test_acc = 0.0
test_lengths = 0
pred = np.array([], dtype=np.int32)

model.eval()
with torch.no_grad():
    for i, batch in enumerate(test_loader):
        features = batch
        features = features.to(device)

        outputs = model(features)

        _, test_pred = torch.max(outputs, 1) # get the index of the class with the highest probability
        pred = np.concatenate((pred, test_pred.cpu().numpy()), axis=0)

# %% [markdown]
# Write prediction to a CSV file.
#
# After this cell, `prediction.csv` is in `OUT_DIR`: check it with `grade check hw2 prediction.csv`
# and submit it with `grade submit hw2 prediction.csv`.

# %%
with open(os.path.join(OUT_DIR, 'prediction.csv'), 'w') as f:
    f.write('Id,Class\n')
    for i, y in enumerate(pred):
        f.write('{},{}\n'.format(i, y))

# %% [markdown]
# ## Reference
# This notebook follows the ML2022 HW2 sample code (Hung-yi Lee, NTU;
# https://github.com/virginiakm1988/ML2022-Spring/blob/main/HW02/HW02.ipynb). Features and labels of
# the course: LibriSpeech train-clean-100 (https://www.openslr.org/12); this course may use simulated
# features with the same layout.
