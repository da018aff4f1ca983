# %% [markdown]
# # **Homework 14: Life-long Learning**
#
# Objectives:
# * Train one network on five tasks one after another (rotated digits: 0°, 20°, 40°, 60°, 80°) and
#   watch it forget the earlier tasks.
# * Understand the regularisation-based life-long learning methods: EWC, MAS, SI, RWalk, SCP.
#
# This is the ML2022 sample code, adapted to the course autograder:
# * the digits are read from `GRADE_DATA_DIR` (default: the current folder) in MNIST's own files
#   (`MNIST/raw/*-idx?-ubyte.gz`, what torchvision reads); nothing is downloaded and there is no
#   torchvision: the rotation is a torch affine transform;
# * the labels of the test images are hidden: the accuracy curve (`acc_summary.png`) is measured on a
#   validation part of each task's training images, and the notebook writes `pred.csv` — its
#   predictions for every test image in every task (`id = task * n_test + i`) — which is scored as the
#   mean accuracy over the five tasks after the last one;
# * it runs on one CPU core in about ten seconds per method: the hidden layers are halved
#   (1024-512-256 → 512-256-128) and the learning rate is 1e-3 (the course: 1e-4 with 60,000 images
#   per task; here there are about a thousand, so ten times fewer steps);
# * `args.methods` says which methods to train (the course trained all six; the unchanged notebook
#   trains the baseline only) and `args.submit` which one writes `pred.csv` and `model.ckpt`.

# %%
import os

DATA_DIR = os.environ.get("GRADE_DATA_DIR", ".")
OUT_DIR = os.environ.get("GRADE_OUTPUT_DIR", ".")

# %% [markdown]
# # Import packages

# %%
import csv
import gzip
import json
import math
import random
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

# CPU threads (the autograder sets OMP_NUM_THREADS).
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))

# %% [markdown]
# # Fix random seeds

# %%
def same_seeds(seed):
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed(seed)
        torch.cuda.manual_seed_all(seed)
    np.random.seed(seed)
    random.seed(seed)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True

same_seeds(0)

# %% [markdown]
# # Prepare data
# Rotated digits: the same images, rotated by 0°, 20°, 40°, 60° and 80°, are five tasks.
#
# The course read MNIST with torchvision and rotated each PIL image; here the idx files are read
# directly and the rotation is `affine_grid` + `grid_sample` (bilinear, black outside the frame).

# %%
def read_idx(path):
    '''Reads an MNIST idx file (gzipped): big-endian magic, sizes, then unsigned bytes.'''
    data = gzip.decompress(open(path, 'rb').read())
    ndim = struct.unpack('>I', data[:4])[0] & 0xFF
    shape = struct.unpack(f'>{ndim}I', data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)

def _rotate_image(image, angle):
    '''image: (N, 1, 28, 28) in [0, 1]; rotated counter-clockwise by `angle` degrees.'''
    if angle is None or angle == 0:
        return image
    a = math.radians(angle)
    theta = torch.tensor([[math.cos(a), math.sin(a), 0.0], [-math.sin(a), math.cos(a), 0.0]], dtype=image.dtype)
    grid = F.affine_grid(theta.expand(image.shape[0], 2, 3), list(image.shape), align_corners=False)
    return F.grid_sample(image, grid, mode='bilinear', padding_mode='zeros', align_corners=False)

class Data():
    '''One task: the images of one split, rotated by `angle`. split: train | valid | test.
    The last `valid_size` training images are the validation part (the course used the test set).'''
    def __init__(self, path, split='train', angle=None, valid_size=200):
        raw = os.path.join(path, 'MNIST', 'raw')
        if split == 'test':
            x = read_idx(os.path.join(raw, 't10k-images-idx3-ubyte.gz'))
            y = np.full(len(x), -1)                                  # hidden: the autograder has them
        else:
            x = read_idx(os.path.join(raw, 'train-images-idx3-ubyte.gz'))
            y = read_idx(os.path.join(raw, 'train-labels-idx1-ubyte.gz'))
            keep = slice(0, len(x) - valid_size) if split == 'train' else slice(len(x) - valid_size, len(x))
            x, y = x[keep], y[keep]
        x = torch.tensor(x, dtype=torch.float32).unsqueeze(1) / 255.0   # (N, 1, 28, 28), as ToTensor()
        self.dataset = TensorDataset(_rotate_image(x, angle), torch.tensor(y, dtype=torch.long))

# %% [markdown]
# # Configuration

# %%
class Args:
    task_number = 5
    epochs_per_task = 10
    lr = 1.0e-3          # course: 1.0e-4 (60,000 images per task; here ~1,000)
    batch_size = 128
    test_size = 1000
    valid_size = 200     # validation images per task (the accuracy curve)
    seed = 0
    methods = ['baseline']   # course: all of baseline, ewc, mas, si, rwalk, scp
    submit = 'baseline'      # the method whose final model writes pred.csv and model.ckpt

args = Args()
device = 'cuda' if torch.cuda.is_available() else 'cpu'

# %%
# generate rotations for the tasks.
angle_list = [20 * x for x in range(args.task_number)]

# prepare rotated datasets.
train_datasets = [Data(DATA_DIR, 'train', angle=angle_list[index], valid_size=args.valid_size) for index in range(args.task_number)]
train_dataloaders = [DataLoader(data.dataset, batch_size=args.batch_size, shuffle=True,
                                generator=torch.Generator().manual_seed(args.seed + index))
                     for index, data in enumerate(train_datasets)]

valid_datasets = [Data(DATA_DIR, 'valid', angle=angle_list[index], valid_size=args.valid_size) for index in range(args.task_number)]
valid_dataloaders = [DataLoader(data.dataset, batch_size=args.test_size, shuffle=False) for data in valid_datasets]

test_datasets = [Data(DATA_DIR, 'test', angle=angle_list[index]) for index in range(args.task_number)]
test_dataloaders = [DataLoader(data.dataset, batch_size=args.test_size, shuffle=False) for data in test_datasets]

print(f"{args.task_number} tasks: {len(train_datasets[0].dataset)} train / {len(valid_datasets[0].dataset)} valid / "
      f"{len(test_datasets[0].dataset)} test images each")

# %% [markdown]
# # Visualization

# %%
sample = [valid_datasets[index].dataset[0][0] for index in range(args.task_number)]
fig, axes = plt.subplots(1, args.task_number, figsize=(2 * args.task_number, 2))
for index, ax in enumerate(axes):
    ax.imshow(sample[index][0].numpy(), cmap='gray')
    ax.set_title(f'task {index + 1}: {angle_list[index]}°')
    ax.axis('off')
plt.close(fig)

# %% [markdown]
# # Model
# The fixed model: 1*28*28 (input) → 512 → 256 → 128 → 10 (the course: 1024 → 512 → 256).
# Do not change it: every method is compared on the same network.

# %%
class Model(nn.Module):
    """
    Model architecture
    1*28*28 (input) → 512 → 256 → 128 → 10
    """
    def __init__(self):
        super(Model, self).__init__()
        self.fc1 = nn.Linear(1*28*28, 512)
        self.fc2 = nn.Linear(512, 256)
        self.fc3 = nn.Linear(256, 128)
        self.fc4 = nn.Linear(128, 10)
        self.relu = nn.ReLU()

    def forward(self, x):
        x = x.view(-1, 1*28*28)
        x = self.fc1(x)
        x = self.relu(x)
        x = self.fc2(x)
        x = self.relu(x)
        x = self.fc3(x)
        x = self.relu(x)
        x = self.fc4(x)
        return x

# %% [markdown]
# # Train and evaluate
# `train` learns one task; after each epoch it measures the mean accuracy over the tasks seen so far
# (the curve of `acc_summary.png`). `lll_object.penalty(model)` is the method's regulariser and
# `lll_object.update(model)` lets it follow the training path (SI, RWalk).

# %%
def train(model, optimizer, dataloader, epochs_per_task, lll_object, lll_lambda, test_dataloaders, evaluate, device, log_step=1):
    model.train()
    model.zero_grad()
    objective = nn.CrossEntropyLoss()
    acc_per_epoch = []
    loss = 1.0
    for epoch in range(epochs_per_task):   # the course: a tqdm bar
        model.train()
        for imgs, labels in dataloader:
            imgs, labels = imgs.to(device), labels.to(device)
            outputs = model(imgs)
            loss = objective(outputs, labels)
            total_loss = loss
            lll_loss = lll_object.penalty(model)
            total_loss += lll_lambda * lll_loss
            lll_object.update(model)
            optimizer.zero_grad()
            total_loss.backward()
            optimizer.step()

            loss = total_loss.item()
        acc_average = []
        for test_dataloader in test_dataloaders:
            acc_test = evaluate(model, test_dataloader, device)
            acc_average.append(acc_test)
        average = np.mean(np.array(acc_average))
        acc_per_epoch.append(average * 100.0)

    return model, optimizer, acc_per_epoch

def evaluate(model, test_dataloader, device):
    model.eval()
    correct_cnt = 0
    total = 0
    with torch.no_grad():
        for imgs, labels in test_dataloader:
            imgs, labels = imgs.to(device), labels.to(device)
            outputs = model(imgs)
            _, pred_label = torch.max(outputs.data, 1)
            correct_cnt += (pred_label == labels.data).sum().item()
            total += torch.ones_like(labels.data).sum().item()
    return correct_cnt / total

# %% [markdown]
# # Methods
# ## Baseline
# Fine-tuning: no regularisation; each task simply continues from the last one.

# %%
class baseline(object):
    """
    baseline technique: do nothing in regularization term [initialize and all weight is zero]
    """
    def __init__(self, model, dataloader, device):
        self.model = model
        self.dataloader = dataloader
        self.device = device
        # extract all parameters in models
        self.params = {n: p for n, p in self.model.named_parameters() if p.requires_grad}
        # store current parameters
        self.p_old = {}
        # generate weight matrix
        self._precision_matrices = self._calculate_importance()
        for n, p in self.params.items():
            # keep the old parameter in self.p_old
            self.p_old[n] = p.clone().detach()

    def _calculate_importance(self):
        precision_matrices = {}
        # initialize weight matrix（fill zero）
        for n, p in self.params.items():
            precision_matrices[n] = p.clone().detach().fill_(0)
        return precision_matrices

    def penalty(self, model: nn.Module):
        loss = 0
        for n, p in model.named_parameters():
            _loss = self._precision_matrices[n] * (p - self.p_old[n]) ** 2
            loss += _loss.sum()
        return loss

    def update(self, model):
        # do nothing
        return

# %% [markdown]
# ## EWC
# Elastic Weight Consolidation: the importance of a parameter is the diagonal of the Fisher
# information, the squared gradient of the log-likelihood of the task's data, averaged over batches.
# `prev_guards` are the importances of the tasks before, which add up.

# %%
class ewc(object):
    """
    @article{kirkpatrick2017overcoming,
        title={Overcoming catastrophic forgetting in neural networks},
        author={Kirkpatrick, James and Pascanu, Razvan and Rabinowitz, Neil and Veness, Joel and Desjardins, Guillaume and Rusu, Andrei A and Milan, Kieran and Quan, John and Ramalho, Tiago and Grabska-Barwinska, Agnieszka and others},
        journal={Proceedings of the national academy of sciences},
        year={2017},
        url={https://arxiv.org/abs/1612.00796}
    }
    """
    def __init__(self, model, dataloader, device, prev_guards=[None]):
        self.model = model
        self.dataloader = dataloader
        self.device = device
        # extract all parameters in models
        self.params = {n: p for n, p in self.model.named_parameters() if p.requires_grad}
        # initialize parameters
        self.p_old = {}
        # save previous guards
        self.previous_guards_list = prev_guards
        # generate Fisher (F) matrix for EWC
        self._precision_matrices = self._calculate_importance()
        # keep the old parameter in self.p_old
        for n, p in self.params.items():
            self.p_old[n] = p.clone().detach()

    def _calculate_importance(self):
        precision_matrices = {}
        # initialize Fisher (F) matrix（all fill zero）and add previous guards
        for n, p in self.params.items():
            precision_matrices[n] = p.clone().detach().fill_(0)
            for i in range(len(self.previous_guards_list)):
                if self.previous_guards_list[i]:
                    precision_matrices[n] += self.previous_guards_list[i][n]

        self.model.eval()
        if self.dataloader is not None:
            number_data = len(self.dataloader)
            for data in self.dataloader:
                self.model.zero_grad()
                # get image data
                input = data[0].to(self.device)
                # image data forward model
                output = self.model(input)
                # Simply use groud truth label of dataset.
                label = data[1].to(self.device)
                ###########################################################################################
                #####  TODO: generate Fisher(F) matrix for EWC                                       #####
                #####  the loss is the negative log-likelihood of the labels (F.nll_loss of          #####
                #####  F.log_softmax); F is its squared gradient, averaged over the batches.         #####
                ###########################################################################################
                loss = F.nll_loss(F.log_softmax(output, dim=1), label)
                loss.backward()

                for n, p in self.model.named_parameters():
                    # get the gradient of each parameter and square it, then average it in all validation set.
                    precision_matrices[n].data += p.grad.data ** 2 / number_data

            precision_matrices = {n: p for n, p in precision_matrices.items()}
        return precision_matrices

    def penalty(self, model: nn.Module):
        loss = 0
        for n, p in model.named_parameters():
            # generate the final regularization term by the ewc weight (self._precision_matrices[n]) and the square of weight difference ((p - self.p_old[n]) ** 2).
            _loss = self._precision_matrices[n] * (p - self.p_old[n]) ** 2
            loss += _loss.sum()
        return loss

    def update(self, model):
        # do nothing
        return

# %% [markdown]
# ## MAS
# Memory Aware Synapses: the importance Ω of a parameter is how much the *output* moves with it — the
# gradient of the squared L2 norm of the model's output, in absolute value, averaged over batches. It
# needs no labels.

# %%
class mas(object):
    """
    @article{aljundi2017memory,
        title={Memory Aware Synapses: Learning what (not) to forget},
        author={Aljundi, Rahaf and Babiloni, Francesca and Elhoseiny, Mohamed and Rohrbach, Marcus and Tuytelaars, Tinne},
        booktitle={ECCV},
        year={2018},
        url={https://eccv2018.org/openaccess/content_ECCV_2018/papers/Rahaf_Aljundi_Memory_Aware_Synapses_ECCV_2018_paper.pdf}
    }
    """
    def __init__(self, model: nn.Module, dataloader, device, prev_guards=[None]):
        self.model = model
        self.dataloader = dataloader
        # extract all parameters in models
        self.params = {n: p for n, p in self.model.named_parameters() if p.requires_grad}
        # initialize parameters
        self.p_old = {}
        self.device = device
        # save previous guards
        self.previous_guards_list = prev_guards
        # generate Omega(Ω) matrix for MAS
        self._precision_matrices = self.calculate_importance()
        # keep the old parameter in self.p_old
        for n, p in self.params.items():
            self.p_old[n] = p.clone().detach()

    def calculate_importance(self):
        precision_matrices = {}
        # initialize Omega(Ω) matrix（all filled zero）
        for n, p in self.params.items():
            precision_matrices[n] = p.clone().detach().fill_(0)
            for i in range(len(self.previous_guards_list)):
                if self.previous_guards_list[i]:
                    precision_matrices[n] += self.previous_guards_list[i][n]

        self.model.eval()
        if self.dataloader is not None:
            num_data = len(self.dataloader)
            for data in self.dataloader:
                self.model.zero_grad()
                output = self.model(data[0].to(self.device))
                ###########################################################################################
                #####  TODO: generate Omega(Ω) matrix for MAS.                                       #####
                #####  the "loss" is the squared L2 norm of each output (summed over the 10 logits), #####
                #####  averaged over the batch; Ω is the absolute value of its gradient, averaged    #####
                #####  over the batches.                                                             #####
                ###########################################################################################
                # your code here: add this batch's share to precision_matrices[n] for every parameter n
                # (until you do, Ω stays zero and MAS is the baseline)
                pass

        precision_matrices = {n: p for n, p in precision_matrices.items()}
        return precision_matrices

    def penalty(self, model: nn.Module):
        loss = 0
        for n, p in model.named_parameters():
            _loss = self._precision_matrices[n] * (p - self.p_old[n]) ** 2
            loss += _loss.sum()
        return loss

    def update(self, model):
        # do nothing
        return

# %% [markdown]
# ## SI
# Synaptic Intelligence: while a task trains, `update` adds up each parameter's contribution to the
# drop of the loss (−gradient × step); at the end of the task that path integral, divided by how far
# the parameter moved (squared, + ε), is its importance ω.

# %%
class si(object):
    """
    @article{zenke2017continual,
        title={Continual Learning Through Synaptic Intelligence},
        author={Zenke, Friedemann and Poole, Ben and Ganguli, Surya},
        journal={International Conference on Machine Learning},
        year={2017},
        url={https://arxiv.org/abs/1703.04200}
    }
    """
    def __init__(self, model, dataloader, epsilon, device):
        self.model = model
        self.dataloader = dataloader
        self.device = device
        self.epsilon = epsilon
        # extract all parameters in models
        self.params = {n: p for n, p in self.model.named_parameters() if p.requires_grad}

        self._n_p_prev, self._n_omega = self._calculate_importance()
        self.W, self.p_old = self._init_()

    def _init_(self):
        W = {}
        p_old = {}
        for n, p in self.model.named_parameters():
            n = n.replace('.', '__')
            if p.requires_grad:
                W[n] = p.data.clone().zero_()
                p_old[n] = p.data.clone()
        return W, p_old

    def _calculate_importance(self):
        n_p_prev = {}
        n_omega = {}

        if self.dataloader != None:
            for n, p in self.model.named_parameters():
                n = n.replace('.', '__')
                if p.requires_grad:
                    # Find/calculate new values for quadratic penalty on parameters
                    p_prev = getattr(self.model, '{}_SI_prev_task'.format(n))
                    W = getattr(self.model, '{}_W'.format(n))
                    p_current = p.detach().clone()
                    p_change = p_current - p_prev
                    ###########################################################################################
                    #####  TODO: generate the importance ω of SI: the path integral W divided by the     #####
                    #####  squared change of the parameter over the task plus epsilon.                   #####
                    ###########################################################################################
                    omega_add = W / (p_change ** 2 + self.epsilon)
                    try:
                        omega = getattr(self.model, '{}_SI_omega'.format(n))
                    except AttributeError:
                        omega = p.detach().clone().zero_()
                    omega_new = omega + omega_add
                    n_omega[n] = omega_new
                    n_p_prev[n] = p_current

                    # Store these new values in the model
                    self.model.register_buffer('{}_SI_prev_task'.format(n), p_current)
                    self.model.register_buffer('{}_SI_omega'.format(n), omega_new)

        else:
            for n, p in self.model.named_parameters():
                n = n.replace('.', '__')
                if p.requires_grad:
                    n_p_prev[n] = p.detach().clone()
                    n_omega[n] = p.detach().clone().zero_()
                    self.model.register_buffer('{}_SI_prev_task'.format(n), p.detach().clone())
        return n_p_prev, n_omega

    def penalty(self, model: nn.Module):
        loss = 0.0
        for n, p in model.named_parameters():
            n = n.replace('.', '__')
            if p.requires_grad:
                prev_values = self._n_p_prev[n]
                omega = self._n_omega[n]
                _loss = omega * (p - prev_values) ** 2
                loss += _loss.sum()
        return loss

    def update(self, model):
        for n, p in model.named_parameters():
            n = n.replace('.', '__')
            if p.requires_grad:
                if p.grad is not None:
                    self.W[n].add_(-p.grad * (p.detach() - self.p_old[n]))
                    self.model.register_buffer('{}_W'.format(n), self.W[n])
                self.p_old[n] = p.detach().clone()
        return

# %% [markdown]
# ## RWalk
# Riemannian Walk: SI's path integral measured with EWC's (running-average) Fisher, plus the Fisher itself.

# %%
class rwalk(object):
    def __init__(self, model, dataloader, epsilon, device, prev_guards=[None]):
        self.model = model
        self.dataloader = dataloader
        self.device = device
        self.epsilon = epsilon
        self.update_ewc_parameter = 0.4
        # extract model parameters and store in dictionary
        self.params = {n: p for n, p in self.model.named_parameters() if p.requires_grad}
        # initialize the guard for each parameters
        self._means = {}
        self.previous_guards_list = prev_guards
        # Generate Fisher (F) Information Matrix
        self._precision_matrices = self._calculate_importance_ewc()
        self._n_p_prev, self._n_omega = self._calculate_importance()
        self.W, self.p_old = self._init_()

    def _init_(self):
        W = {}
        p_old = {}
        for n, p in self.model.named_parameters():
            n = n.replace('.', '__')
            if p.requires_grad:
                W[n] = p.data.clone().zero_()
                p_old[n] = p.data.clone()
        return W, p_old

    def _calculate_importance(self):
        n_p_prev = {}
        n_omega = {}
        if self.dataloader != None:
            for n, p in self.model.named_parameters():
                n = n.replace('.', '__')
                if p.requires_grad:
                    # Find/calculate new values for quadratic penalty on parameters
                    p_prev = getattr(self.model, '{}_SI_prev_task'.format(n))
                    W = getattr(self.model, '{}_W'.format(n))
                    p_current = p.detach().clone()
                    p_change = p_current - p_prev
                    omega_add = W / (1.0 / 2.0 * self._precision_matrices[n] * p_change ** 2 + self.epsilon)
                    try:
                        omega = getattr(self.model, '{}_SI_omega'.format(n))
                    except AttributeError:
                        omega = p.detach().clone().zero_()
                    omega_new = 0.5 * omega + 0.5 * omega_add
                    n_omega[n] = omega_new
                    n_p_prev[n] = p_current

                    # Store these new values in the model
                    self.model.register_buffer('{}_SI_prev_task'.format(n), p_current)
                    self.model.register_buffer('{}_SI_omega'.format(n), omega_new)
        else:
            for n, p in self.model.named_parameters():
                n = n.replace('.', '__')
                if p.requires_grad:
                    n_p_prev[n] = p.detach().clone()
                    n_omega[n] = p.detach().clone().zero_()
                    self.model.register_buffer('{}_SI_prev_task'.format(n), p.detach().clone())
        return n_p_prev, n_omega

    def _calculate_importance_ewc(self):
        precision_matrices = {}
        for n, p in self.params.items():
            n = n.replace('.', '__')
            precision_matrices[n] = p.clone().detach().fill_(0)
            for i in range(len(self.previous_guards_list)):
                if self.previous_guards_list[i]:
                    precision_matrices[n] += self.previous_guards_list[i][n]

        self.model.eval()
        if self.dataloader is not None:
            number_data = len(self.dataloader)
            for n, p in self.model.named_parameters():
                n = n.replace('.', '__')
                precision_matrices[n].data *= (1 - self.update_ewc_parameter)
            for data in self.dataloader:
                self.model.zero_grad()
                input = data[0].to(self.device)
                output = self.model(input)
                label = data[1].to(self.device)
                loss = F.nll_loss(F.log_softmax(output, dim=1), label)
                loss.backward()
                for n, p in self.model.named_parameters():
                    n = n.replace('.', '__')
                    precision_matrices[n].data += self.update_ewc_parameter * p.grad.data ** 2 / number_data

            precision_matrices = {n: p for n, p in precision_matrices.items()}
        return precision_matrices

    def penalty(self, model):
        loss = 0.0
        for n, p in model.named_parameters():
            n = n.replace('.', '__')
            if p.requires_grad:
                prev_values = self._n_p_prev[n]
                omega = self._n_omega[n]
                # Generate regularization term  _loss by omega and Fisher Matrix
                _loss = (omega + self._precision_matrices[n]) * (p - prev_values) ** 2
                loss += _loss.sum()
        return loss

    def update(self, model):
        for n, p in model.named_parameters():
            n = n.replace('.', '__')
            if p.requires_grad:
                if p.grad is not None:
                    self.W[n].add_(-p.grad * (p.detach() - self.p_old[n]))
                    self.model.register_buffer('{}_W'.format(n), self.W[n])
                self.p_old[n] = p.detach().clone()
        return

# %% [markdown]
# ## SCP
# Sliced Cramér Preservation: the importance is the squared gradient of the mean output projected on
# `L` random unit directions (a sliced distance between output distributions).

# %%
def sample_spherical(npoints, ndim=3):
    vec = np.random.randn(ndim, npoints)
    vec /= np.linalg.norm(vec, axis=0)
    return torch.from_numpy(vec)

class scp(object):
    """
    OPEN REVIEW VERSION:
    https://openreview.net/forum?id=BJge3TNKwH
    """
    def __init__(self, model: nn.Module, dataloader, L: int, device, prev_guards=[None]):
        self.model = model
        self.dataloader = dataloader
        self.params = {n: p for n, p in self.model.named_parameters() if p.requires_grad}
        self._state_parameters = {}
        self.L = L
        self.device = device
        self.previous_guards_list = prev_guards
        self._precision_matrices = self.calculate_importance()
        for n, p in self.params.items():
            self._state_parameters[n] = p.clone().detach()

    def calculate_importance(self):
        precision_matrices = {}
        for n, p in self.params.items():
            precision_matrices[n] = p.clone().detach().fill_(0)
            for i in range(len(self.previous_guards_list)):
                if self.previous_guards_list[i]:
                    precision_matrices[n] += self.previous_guards_list[i][n]

        self.model.eval()
        if self.dataloader is not None:
            num_data = len(self.dataloader)
            for data in self.dataloader:
                self.model.zero_grad()
                output = self.model(data[0].to(self.device))

                mean_vec = output.mean(dim=0)
                L_vectors = sample_spherical(self.L, output.shape[-1])
                L_vectors = L_vectors.transpose(1, 0).to(self.device).float()

                total_scalar = 0
                for vec in L_vectors:
                    scalar = torch.matmul(vec, mean_vec)
                    total_scalar += scalar
                total_scalar /= L_vectors.shape[0]
                total_scalar.backward()

                for n, p in self.model.named_parameters():
                    precision_matrices[n].data += p.grad ** 2 / num_data

        precision_matrices = {n: p for n, p in precision_matrices.items()}
        return precision_matrices

    def penalty(self, model: nn.Module):
        loss = 0
        for n, p in model.named_parameters():
            _loss = self._precision_matrices[n] * (p - self._state_parameters[n]) ** 2
            loss += _loss.sum()
        return loss

    def update(self, model):
        return

# %% [markdown]
# # Run the methods
# Each method starts from the same initial weights (`same_seeds(args.seed)` before `Model()`), learns
# the five tasks in order with a fresh Adam optimizer per task, and records the curve.
# Set `lll_lambda` (the weight of the regulariser) for each method: it decides how much the network
# keeps of the old tasks and how much room it leaves for the new one.

# %%
results = {}   # method -> (final model, accuracy after each epoch)

def run_method(name, make_lll_object, lll_lambda, keeps_guards=False):
    print(f"RUN {name.upper()}")
    same_seeds(args.seed)
    model = Model().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    # initialize the lifelong learning object without any regularization term (no task learned yet).
    lll_object = make_lll_object(model, None, [None])
    acc = []
    prev_guards = []
    # iterate training on each task continually (the course: a tqdm bar).
    for train_indexes in range(len(train_dataloaders)):
        # Train each task
        model, _, acc_list = train(model, optimizer, train_dataloaders[train_indexes], args.epochs_per_task,
                                   lll_object, lll_lambda, evaluate=evaluate, device=device,
                                   test_dataloaders=valid_dataloaders[:train_indexes + 1])
        # get the importance of the task just learned (the guards of the ones before add up).
        if keeps_guards:
            prev_guards.append(lll_object._precision_matrices)
        lll_object = make_lll_object(model, train_dataloaders[train_indexes], prev_guards)
        # new a optimizer
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
        # Collect average accuracy in each epoch
        acc.extend(acc_list)
        print(f"  after task {train_indexes + 1}: mean valid accuracy {acc_list[-1]:.2f} %")
    results[name] = (model, acc)
    with open(os.path.join(OUT_DIR, f'{name}_acc.txt'), 'w') as f:
        json.dump(acc, f)
    print("==================================================================================================")

# %%
# Baseline
if 'baseline' in args.methods:
    run_method('baseline', lambda model, dataloader, guards: baseline(model=model, dataloader=dataloader, device=device),
               lll_lambda=0.0)

# %%
# EWC
if 'ewc' in args.methods:
    run_method('ewc', lambda model, dataloader, guards: ewc(model=model, dataloader=dataloader, device=device, prev_guards=guards or [None]),
               lll_lambda=100, keeps_guards=True)

# %%
# MAS
if 'mas' in args.methods:
    run_method('mas', lambda model, dataloader, guards: mas(model=model, dataloader=dataloader, device=device, prev_guards=guards or [None]),
               lll_lambda=0.1, keeps_guards=True)

# %%
# SI
if 'si' in args.methods:
    run_method('si', lambda model, dataloader, guards: si(model=model, dataloader=dataloader, epsilon=0.1, device=device),
               lll_lambda=1)

# %%
# RWalk
if 'rwalk' in args.methods:
    run_method('rwalk', lambda model, dataloader, guards: rwalk(model=model, dataloader=dataloader, epsilon=0.1, device=device, prev_guards=guards or [None]),
               lll_lambda=100, keeps_guards=True)

# %%
# SCP
if 'scp' in args.methods:
    run_method('scp', lambda model, dataloader, guards: scp(model=model, dataloader=dataloader, L=100, device=device, prev_guards=guards or [None]),
               lll_lambda=100, keeps_guards=True)

# %% [markdown]
# # Plot function
# The report's learning curve: after each epoch, the mean validation accuracy over the tasks seen so far.

# %%
def plot_result(mode_list, task1, task2):
    # draw the lines
    for reg_name in mode_list:
        with open(os.path.join(OUT_DIR, f'{reg_name}_acc.txt'), 'r') as f:
            acc = json.load(f)
        plt.plot(range(1, len(acc) + 1), acc, label=reg_name)
    plt.title(f"Mean accuracy over the tasks seen so far ({task1} tasks, {task2} epochs each)")
    plt.xlabel("epoch")
    plt.ylabel("accuracy (%)")
    plt.legend()
    plt.savefig(os.path.join(OUT_DIR, 'acc_summary.png'))
    plt.close()

plot_result(list(results), args.task_number, args.epochs_per_task)

# %% [markdown]
# # Predict the test images
# `pred.csv`: the chosen method's final model on every test image of every task, `id = task * n_test + i`.

# %%
def predict(model, test_dataloaders, device):
    model.eval()
    preds = []
    with torch.no_grad():
        for test_dataloader in test_dataloaders:
            for imgs, _ in test_dataloader:
                preds.append(model(imgs.to(device)).argmax(dim=1).cpu())
    return torch.cat(preds).numpy()

def save_pred(preds, file):
    with open(file, 'w', newline='') as fp:
        writer = csv.writer(fp)
        writer.writerow(['id', 'label'])
        for i, p in enumerate(preds):
            writer.writerow([i, int(p)])

final_model = results[args.submit][0]
torch.save(final_model.state_dict(), os.path.join(OUT_DIR, 'model.ckpt'))
save_pred(predict(final_model, test_dataloaders, device), os.path.join(OUT_DIR, 'pred.csv'))

# %% [markdown]
# # Reference
# This notebook follows the ML2022 HW14 sample code (Hung-yi Lee, NTU): the methods EWC, MAS, SI, RWalk
# and SCP as the course implemented them (https://github.com/virginiakm1988/ML2022-Spring, HW14).
