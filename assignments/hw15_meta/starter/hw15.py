# %% [markdown]
# # **HW15: Meta Learning — Few-shot Classification**
#
# > Author: ML2022 TAs
#
# Please mail to ntu-ml-2022spring-ta@googlegroups.com if you have any questions.
#
# This is the ML2022 HW15 sample code, adapted to the course autograder:
# * the data is given to you (no download cells): `Omniglot/images_background/<alphabet>/character*/*.png`
#   (28x28 grayscale, 20 drawings per character; the course has 30 alphabets, this course's `ci` data
#   fewer) and `Omniglot-test/{support,query}/<task>/image_<j>.png` (640 tasks in the course; fewer
#   here), in `GRADE_DATA_DIR` (default: the current folder); `output.csv` goes to `GRADE_OUTPUT_DIR`
#   (default: the current folder);
# * torchvision is not installed: `transforms.ToTensor()` is the small `to_tensor` below;
# * the DataLoaders run in the main process (`num_workers=0`) and the character folders are sorted, so
#   that a re-run of this notebook gives the very same `output.csv` (the autograder re-runs it);
# * no GPU: the convolution blocks have 32 channels instead of 64, and the base solver trains for 5
#   epochs, so that the notebook runs in a few seconds of CPU. Unchanged, it reaches the simple baseline.
#
# The task: **5-way 1-shot classification**. Each test task has 5 support images (one per class;
# support image `j` is class `j`) and 5 query images; predict the class of every query image.

# %%
import os

DATA_DIR = os.environ.get("GRADE_DATA_DIR", ".")
OUT_DIR = os.environ.get("GRADE_OUTPUT_DIR", ".")

# %% [markdown]
# ## **Step 0: Check GPU**

# %%
import glob
import random
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset

# CPU threads (the autograder sets OMP_NUM_THREADS).
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
device = "cuda" if torch.cuda.is_available() else "cpu"
print("DEVICE =", device)

# %% [markdown]
# ## **Step 1: Download Data**
#
# The course downloads `omniglot.tar.gz` and `omniglot-test.tar.gz` here; the autograder gives you the
# unpacked folders `Omniglot/` and `Omniglot-test/` instead.

# %%
workspace_dir = DATA_DIR

# %% [markdown]
# ## **Step 2: Build the model**
#
# ### Library importation and fixing the random seed

# %%
def set_random_seed(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True


random_seed = 0
set_random_seed(random_seed)

# %% [markdown]
# ### Model Construction Preliminaries
#
# Since our task is image classification, we need to build a CNN-based model. However, to implement
# the MAML algorithm, we need to write the functional forward (`functional_forward`) ourselves: it
# computes the network with *given* parameters (the fast weights of the inner loop) instead of the
# module's own.

# %%
def ConvBlock(in_ch: int, out_ch: int):
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, 3, padding=1),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=2, stride=2),
    )


def ConvBlockFunction(x, w, b, w_bn, b_bn):
    x = F.conv2d(x, w, b, padding=1)
    x = F.batch_norm(x, running_mean=None, running_var=None, weight=w_bn, bias=b_bn, training=True)
    x = F.relu(x)
    x = F.max_pool2d(x, kernel_size=2, stride=2)
    return x


# %% [markdown]
# ### Model Class

# %%
class Classifier(nn.Module):
    def __init__(self, in_ch, k_way):
        super(Classifier, self).__init__()
        # the course: 64 channels; 32 here, for the CPU
        self.conv1 = ConvBlock(in_ch, 32)
        self.conv2 = ConvBlock(32, 32)
        self.conv3 = ConvBlock(32, 32)
        self.conv4 = ConvBlock(32, 32)
        self.logits = nn.Linear(32, k_way)

    def forward(self, x):
        x = self.conv1(x)
        x = self.conv2(x)
        x = self.conv3(x)
        x = self.conv4(x)
        x = x.view(x.shape[0], -1)
        x = self.logits(x)
        return x

    def functional_forward(self, x, params):
        """
        Arguments:
        x: input images [batch, 1, 28, 28]
        params: model parameters,
                i.e. weights and biases of convolution
                     and weights and biases of
                                   batch normalization
                type is an OrderedDict
        """
        for block in [1, 2, 3, 4]:
            x = ConvBlockFunction(
                x,
                params[f"conv{block}.0.weight"],
                params[f"conv{block}.0.bias"],
                params.get(f"conv{block}.1.weight"),
                params.get(f"conv{block}.1.bias"),
            )
        x = x.view(x.shape[0], -1)
        x = F.linear(x, params["logits.weight"], params["logits.bias"])
        return x


# %% [markdown]
# ### Create Label
#
# This function is used to create labels. In an N-way K-shot few-shot classification problem, each
# task has `n_way` classes, while there are `k_shot` images for each class. This is a function that
# creates such labels.

# %%
def create_label(n_way, k_shot):
    return torch.arange(n_way).repeat_interleave(k_shot).long()


# Try to create labels for 5-way 2-shot setting
create_label(5, 2)

# %% [markdown]
# ### Accuracy calculation

# %%
def calculate_accuracy(logits, labels):
    """utility function for accuracy calculation"""
    acc = np.asarray(
        [(torch.argmax(logits, -1).cpu().numpy() == labels.cpu().numpy())]
    ).mean()
    return acc


# %% [markdown]
# ### Define Dataset
#
# Define the dataset. The dataset returns images of a random character, with (`k_shot + q_query`)
# images, so the size of returned tensor is `[k_shot+q_query, 1, 28, 28]`.

# %%
def to_tensor(img):
    """transforms.ToTensor() for a grayscale PIL image: [1, H, W] float in [0, 1]."""
    return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0)[None]


class Omniglot(Dataset):
    def __init__(self, data_dir, k_shot, q_query, task_num=None):
        # sorted: the same character order on every machine (glob's order is the file system's)
        self.file_list = sorted(f for f in glob.glob(data_dir + "**/character*", recursive=True))
        # limit task number if task_num is set
        if task_num is not None:
            self.file_list = self.file_list[: min(len(self.file_list), task_num)]
        self.transform = to_tensor
        self.n = k_shot + q_query

    def __getitem__(self, idx):
        # For random sampling the characters we want.
        img_path = self.file_list[idx]
        img_list = [f for f in glob.glob(img_path + "**/*.png", recursive=True)]
        img_list.sort()

        sample = np.arange(len(img_list))
        np.random.shuffle(sample)

        # `k_shot + q_query` examples for each character
        imgs = [self.transform(Image.open(img_list[idx])) for idx in sample[: self.n]]
        imgs = torch.stack(imgs)
        return imgs

    def __len__(self):
        return len(self.file_list)


# %% [markdown]
# ## **Step 3: Learning Algorithms**
#
# ### Transfer learning
#
# The solver first chooses five tasks from the training set, then does normal classification
# training on the chosen five tasks. In inference, the model finetunes for `inner_train_step` steps on
# the support set images, and then does inference on the query set images.
#
# For consistency with the meta-learning solver, the base solver has the exact same input and output
# format as the meta-learning solver.

# %%
def BaseSolver(
    model,
    optimizer,
    x,
    n_way,
    k_shot,
    q_query,
    loss_fn,
    inner_train_step=1,
    inner_lr=0.4,
    train=True,
    return_labels=False,
):
    criterion, task_loss, task_acc = loss_fn, [], []
    labels = []

    for meta_batch in x:
        # Get data
        support_set = meta_batch[: n_way * k_shot]
        query_set = meta_batch[n_way * k_shot :]

        if train:
            """ training loop """
            # Use the support set to calculate loss
            labels = create_label(n_way, k_shot).to(device)
            logits = model.forward(support_set)
            loss = criterion(logits, labels)

            task_loss.append(loss)
            task_acc.append(calculate_accuracy(logits, labels))
        else:
            """ validation / testing loop """
            # First update model with support set images for `inner_train_step` steps
            fast_weights = OrderedDict(model.named_parameters())

            for inner_step in range(inner_train_step):
                # Simply training
                train_label = create_label(n_way, k_shot).to(device)
                logits = model.functional_forward(support_set, fast_weights)
                loss = criterion(logits, train_label)

                grads = torch.autograd.grad(loss, fast_weights.values(), create_graph=True)
                # Perform SGD
                fast_weights = OrderedDict(
                    (name, param - inner_lr * grad)
                    for ((name, param), grad) in zip(fast_weights.items(), grads)
                )

            if not return_labels:
                """ validation """
                val_label = create_label(n_way, q_query).to(device)

                logits = model.functional_forward(query_set, fast_weights)
                loss = criterion(logits, val_label)
                task_loss.append(loss)
                task_acc.append(calculate_accuracy(logits, val_label))
            else:
                """ testing """
                logits = model.functional_forward(query_set, fast_weights)
                labels.extend(torch.argmax(logits, -1).cpu().numpy())

    if return_labels:
        return labels

    batch_loss = torch.stack(task_loss).mean()
    task_acc = np.mean(task_acc)

    if train:
        # Update model
        model.train()
        optimizer.zero_grad()
        batch_loss.backward()
        optimizer.step()

    return batch_loss, task_acc


# %% [markdown]
# ### Meta Learning
#
# Here is the main Meta Learning algorithm. Please finish the TODO blocks for the inner and the outer
# loop update rules.
#
# * For implementing FO-MAML you can refer to the MAML paper: the gradient of the inner step is used
#   without its second-order term (`create_graph=False`).
# * For MAML, the gradient flows through the inner update (`create_graph=True`).
#
# The hidden tests call the solver you use (`solver` below) on a hidden task: one inner step must be
# the SGD update `param - inner_lr * grad` of every parameter on the support set.

# %%
def MetaSolver(
    model,
    optimizer,
    x,
    n_way,
    k_shot,
    q_query,
    loss_fn,
    inner_train_step=1,
    inner_lr=0.4,
    train=True,
    return_labels=False,
):
    criterion, task_loss, task_acc = loss_fn, [], []
    labels = []

    for meta_batch in x:
        # Get data
        support_set = meta_batch[: n_way * k_shot]
        query_set = meta_batch[n_way * k_shot :]

        # Copy the params for inner loop
        fast_weights = OrderedDict(model.named_parameters())

        ### ---------- INNER TRAIN LOOP ---------- ###
        for inner_step in range(inner_train_step):
            # Simply training
            train_label = create_label(n_way, k_shot).to(device)
            logits = model.functional_forward(support_set, fast_weights)
            loss = criterion(logits, train_label)
            # Inner gradients update! vvvvvvvvvvvvvvvvvvvv #
            """ Inner Loop Update """
            # TODO: Finish the inner loop update rule
            # hint: torch.autograd.grad(...), then fast_weights = OrderedDict(name: param - inner_lr * grad)
            raise NotImplementedError
            # Inner gradients update! ^^^^^^^^^^^^^^^^^^^^ #

        ### ---------- INNER VALID LOOP ---------- ###
        if not return_labels:
            """ training / validation """
            val_label = create_label(n_way, q_query).to(device)

            # Collect gradients for outer loop
            logits = model.functional_forward(query_set, fast_weights)
            loss = criterion(logits, val_label)
            task_loss.append(loss)
            task_acc.append(calculate_accuracy(logits, val_label))
        else:
            """ testing """
            logits = model.functional_forward(query_set, fast_weights)
            labels.extend(torch.argmax(logits, -1).cpu().numpy())

    if return_labels:
        return labels

    # Update outer loop
    model.train()
    optimizer.zero_grad()

    meta_batch_loss = torch.stack(task_loss).mean()
    if train:
        """ Outer Loop Update """
        # TODO: Finish the outer loop update
        # hint: backward the meta batch loss, then step the optimizer
        raise NotImplementedError

    task_acc = np.mean(task_acc)
    return meta_batch_loss, task_acc


# %% [markdown]
# ## **Step 4: Initialization**
#
# After defining all components we need, the following initialize a model before training.
#
# ### Hyperparameters

# %%
n_way = 5
k_shot = 1
q_query = 1
train_inner_train_step = 1
val_inner_train_step = 3
inner_lr = 0.4
meta_lr = 0.001
meta_batch_size = 32
max_epoch = 5          # the course: 30
eval_batches = 20
train_data_path = os.path.join(workspace_dir, "Omniglot/images_background/")

# %% [markdown]
# ### Dataloader initialization

# %%
def dataloader_init(datasets, shuffle=True, num_workers=0):
    train_set, val_set = datasets
    train_loader = DataLoader(
        train_set,
        # The "batch_size" here is not \
        #    the meta batch size, but  \
        #    how many different        \
        #    characters in a task,     \
        #    i.e. the "n_way" in       \
        #    few-shot classification.
        batch_size=n_way,
        num_workers=num_workers,
        shuffle=shuffle,
        drop_last=True,
    )
    val_loader = DataLoader(
        val_set, batch_size=n_way, num_workers=num_workers, shuffle=shuffle, drop_last=True
    )

    train_iter = iter(train_loader)
    val_iter = iter(val_loader)
    return (train_loader, val_loader), (train_iter, val_iter)


# %% [markdown]
# ### Model & optimizer initialization

# %%
def model_init():
    meta_model = Classifier(1, n_way).to(device)
    optimizer = torch.optim.Adam(meta_model.parameters(), lr=meta_lr)
    loss_fn = nn.CrossEntropyLoss().to(device)
    return meta_model, optimizer, loss_fn


# %% [markdown]
# ### Utility function to get a meta-batch

# %%
def get_meta_batch(meta_batch_size, k_shot, q_query, data_loader, iterator):
    data = []
    for _ in range(meta_batch_size):
        try:
            # a "task_data" tensor is representing \
            #     the data of a task, with size of \
            #     [n_way, k_shot+q_query, 1, 28, 28]
            task_data = next(iterator)
        except StopIteration:
            iterator = iter(data_loader)
            task_data = next(iterator)
        train_data = task_data[:, :k_shot].reshape(-1, 1, 28, 28)
        val_data = task_data[:, k_shot:].reshape(-1, 1, 28, 28)
        task_data = torch.cat((train_data, val_data), 0)
        data.append(task_data)
    return torch.stack(data).to(device), iterator


# %% [markdown]
# ## **Step 5: Main program for training & testing**
#
# ### Start training!
#
# Choose the solver: `base` (transfer learning, the simple baseline) or `meta` (finish the TODOs of
# `MetaSolver` first).

# %%
solver = "base"  # base, meta
meta_model, optimizer, loss_fn = model_init()

# init solver and dataset according to solver type
if solver == "base":
    max_epoch = 5  # the base solver only needs 5 epochs
    Solver = BaseSolver
    train_set, val_set = torch.utils.data.random_split(
        Omniglot(train_data_path, k_shot, q_query, task_num=10), [5, 5]
    )
    (train_loader, val_loader), (train_iter, val_iter) = dataloader_init((train_set, val_set), shuffle=False)

elif solver == "meta":
    Solver = MetaSolver
    dataset = Omniglot(train_data_path, k_shot, q_query)
    train_split = int(0.8 * len(dataset))
    val_split = len(dataset) - train_split
    train_set, val_set = torch.utils.data.random_split(dataset, [train_split, val_split])
    (train_loader, val_loader), (train_iter, val_iter) = dataloader_init((train_set, val_set))
else:
    raise NotImplementedError

# main training loop
for epoch in range(max_epoch):
    print("Epoch %d" % (epoch + 1))
    train_meta_loss = []
    train_acc = []
    # The "step" here is a meta-gradinet update step
    for step in range(max(1, len(train_loader) // meta_batch_size)):
        x, train_iter = get_meta_batch(meta_batch_size, k_shot, q_query, train_loader, train_iter)
        meta_loss, acc = Solver(
            meta_model,
            optimizer,
            x,
            n_way,
            k_shot,
            q_query,
            loss_fn,
            inner_train_step=train_inner_train_step,
            inner_lr=inner_lr,
        )
        train_meta_loss.append(meta_loss.item())
        train_acc.append(acc)
    print("  Loss    : ", "%.3f" % (np.mean(train_meta_loss)), end="\t")
    print("  Accuracy: ", "%.3f %%" % (np.mean(train_acc) * 100))

    # See the validation accuracy after each epoch.
    # Early stopping is welcomed to implement.
    val_acc = []
    for eval_step in range(max(1, len(val_loader) // (eval_batches))):
        x, val_iter = get_meta_batch(eval_batches, k_shot, q_query, val_loader, val_iter)
        # We update three inner steps when testing.
        _, acc = Solver(
            meta_model,
            optimizer,
            x,
            n_way,
            k_shot,
            q_query,
            loss_fn,
            inner_train_step=val_inner_train_step,
            inner_lr=inner_lr,
            train=False,
        )
        val_acc.append(acc)
    print("  Validation accuracy: ", "%.3f %%" % (np.mean(val_acc) * 100))

# %% [markdown]
# ### Testing the result
#
# Since the testing data is sampled by TAs in advance, you should not change the code in
# `OmniglotTest` dataset, otherwise your score may not be correct on the Kaggle leaderboard.
#
# However, fell free to chagne the variable `inner_train_step` to set the training steps on the query
# set images.

# %%
class OmniglotTest(Dataset):
    def __init__(self, test_dir):
        self.test_dir = test_dir
        self.n = 5

        self.transform = to_tensor

    def __getitem__(self, idx):
        support_files = [
            os.path.join(self.test_dir, "support", f"{idx:>04}", f"image_{i}.png")
            for i in range(self.n)
        ]
        query_files = [
            os.path.join(self.test_dir, "query", f"{idx:>04}", f"image_{i}.png")
            for i in range(self.n)
        ]

        support_imgs = torch.stack([self.transform(Image.open(e)) for e in support_files])
        query_imgs = torch.stack([self.transform(Image.open(e)) for e in query_files])

        return support_imgs, query_imgs

    def __len__(self):
        return len(os.listdir(os.path.join(self.test_dir, "support")))


# %%
test_inner_train_step = 10  # you can change this

test_batches = 20
test_dataset = OmniglotTest(os.path.join(workspace_dir, "Omniglot-test"))
test_loader = DataLoader(test_dataset, batch_size=test_batches, shuffle=False)

output = []
for _, batch in enumerate(test_loader):
    support_set, query_set = batch
    x = torch.cat([support_set, query_set], dim=1)
    x = x.to(device)

    labels = Solver(
        meta_model,
        optimizer,
        x,
        n_way,
        k_shot,
        q_query,
        loss_fn,
        inner_train_step=test_inner_train_step,
        inner_lr=inner_lr,
        train=False,
        return_labels=True,
    )

    output.extend(labels)

# write to csv
with open(os.path.join(OUT_DIR, "output.csv"), "w") as f:
    f.write(f"id,class\n")
    for i, label in enumerate(output):
        f.write(f"{i},{label}\n")

# %% [markdown]
# ## **Step 6: Report**
#
# 1. Plot the dev accuracy against the number of training tasks (2 pts).
# 2. Plot the dev accuracy against the number of inner update steps at inference (2 pts).
