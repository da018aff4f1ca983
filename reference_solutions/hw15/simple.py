"""HW15 simple: transfer learning — the sample code's BaseSolver, as the starter notebook runs it.

    python reference_solutions/hw15/simple.py --data RELEASE_DIR --out OUT/output.csv

The starter's training, with the same seed (set_random_seed(0)), the same calls in the same order (so
the same global random streams) and the same hyper-parameters: the Classifier is trained for 5 epochs
of one step on the support images of tasks drawn from 10 background characters, with the arbitrary
labels 0-4 of each task; it learns no features that carry over to new characters. At test time 10
SGD steps (lr 0.4) on the 5 support images of each task, then the 5 query images are classified. The
unchanged starter writes the very same output.csv.
Expected: 0.63-0.68 accuracy on the ci data (tools/hw15_ladder.py, data seeds 1-3); ~9 s of CPU on one thread.
"""
import argparse
import glob
import os
import random
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset


@dataclass
class Config:
    seed: int = 0                    # the sample's random_seed
    n_way: int = 5
    k_shot: int = 1
    q_query: int = 1
    train_inner_train_step: int = 1
    val_inner_train_step: int = 3
    test_inner_train_step: int = 10
    inner_lr: float = 0.4
    meta_lr: float = 1e-3
    meta_batch_size: int = 32
    max_epoch: int = 5               # the sample's base solver: 5 epochs
    eval_batches: int = 20
    test_batches: int = 20
    task_num: int = 10               # the base solver trains on 10 characters (5 train, 5 validation)


def set_random_seed(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ----------------------------------------------------------------------------- model (the starter's)

def ConvBlock(in_ch, out_ch):
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, padding=1), nn.BatchNorm2d(out_ch), nn.ReLU(),
                         nn.MaxPool2d(kernel_size=2, stride=2))


def ConvBlockFunction(x, w, b, w_bn, b_bn):
    x = F.conv2d(x, w, b, padding=1)
    x = F.batch_norm(x, running_mean=None, running_var=None, weight=w_bn, bias=b_bn, training=True)
    return F.max_pool2d(F.relu(x), kernel_size=2, stride=2)


class Classifier(nn.Module):
    def __init__(self, in_ch, k_way):
        super().__init__()
        self.conv1 = ConvBlock(in_ch, 32)
        self.conv2 = ConvBlock(32, 32)
        self.conv3 = ConvBlock(32, 32)
        self.conv4 = ConvBlock(32, 32)
        self.logits = nn.Linear(32, k_way)

    def forward(self, x):
        # [B, 1, 28, 28] -> 14 -> 7 -> 3 -> 1 -> [B, 32] -> [B, k_way]
        x = self.conv4(self.conv3(self.conv2(self.conv1(x))))
        return self.logits(x.view(x.shape[0], -1))

    def functional_forward(self, x, params):
        for block in [1, 2, 3, 4]:
            x = ConvBlockFunction(x, params[f"conv{block}.0.weight"], params[f"conv{block}.0.bias"],
                                  params.get(f"conv{block}.1.weight"), params.get(f"conv{block}.1.bias"))
        return F.linear(x.view(x.shape[0], -1), params["logits.weight"], params["logits.bias"])


def create_label(n_way, k_shot):
    return torch.arange(n_way).repeat_interleave(k_shot).long()


# ----------------------------------------------------------------------------- data (the starter's)

def to_tensor(img):
    return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0)[None]


class Omniglot(Dataset):
    """A random character's k_shot + q_query drawings: [k_shot + q_query, 1, 28, 28]."""

    def __init__(self, data_dir, k_shot, q_query, task_num=None):
        self.file_list = sorted(glob.glob(data_dir + "**/character*", recursive=True))
        if task_num is not None:
            self.file_list = self.file_list[: min(len(self.file_list), task_num)]
        self.n = k_shot + q_query

    def __getitem__(self, idx):
        img_list = sorted(glob.glob(self.file_list[idx] + "**/*.png", recursive=True))
        sample = np.arange(len(img_list))
        np.random.shuffle(sample)        # the global numpy stream, as the sample
        return torch.stack([to_tensor(Image.open(img_list[i])) for i in sample[: self.n]])

    def __len__(self):
        return len(self.file_list)


class OmniglotTest(Dataset):
    def __init__(self, test_dir):
        self.test_dir, self.n = test_dir, 5

    def __getitem__(self, idx):
        read = lambda kind: torch.stack([to_tensor(Image.open(os.path.join(self.test_dir, kind, f"{idx:>04}", f"image_{i}.png")))
                                         for i in range(self.n)])
        return read("support"), read("query")

    def __len__(self):
        return len(os.listdir(os.path.join(self.test_dir, "support")))


def get_meta_batch(meta_batch_size, k_shot, q_query, data_loader, iterator):
    data = []
    for _ in range(meta_batch_size):
        try:
            task_data = next(iterator)                       # [n_way, k_shot + q_query, 1, 28, 28]
        except StopIteration:
            iterator = iter(data_loader)
            task_data = next(iterator)
        train_data = task_data[:, :k_shot].reshape(-1, 1, 28, 28)
        val_data = task_data[:, k_shot:].reshape(-1, 1, 28, 28)
        data.append(torch.cat((train_data, val_data), 0))
    return torch.stack(data), iterator


# ----------------------------------------------------------------------------- the base solver

def BaseSolver(model, optimizer, x, n_way, k_shot, q_query, loss_fn, inner_train_step=1, inner_lr=0.4,
               train=True, return_labels=False):
    """train: plain classification of each task's support images; otherwise fine-tune fast weights
    for inner_train_step SGD steps on the support set and classify the query set."""
    task_loss, task_acc, labels = [], [], []
    for meta_batch in x:
        support_set, query_set = meta_batch[: n_way * k_shot], meta_batch[n_way * k_shot:]
        if train:
            logits = model.forward(support_set)
            y = create_label(n_way, k_shot)
            task_loss.append(loss_fn(logits, y))
            task_acc.append((logits.argmax(-1) == y).float().mean().item())
            continue
        fast_weights = OrderedDict(model.named_parameters())
        for _ in range(inner_train_step):
            loss = loss_fn(model.functional_forward(support_set, fast_weights), create_label(n_way, k_shot))
            grads = torch.autograd.grad(loss, fast_weights.values(), create_graph=True)
            fast_weights = OrderedDict((n, p - inner_lr * g) for ((n, p), g) in zip(fast_weights.items(), grads))
        logits = model.functional_forward(query_set, fast_weights)
        if return_labels:
            labels.extend(torch.argmax(logits, -1).numpy())
        else:
            y = create_label(n_way, q_query)
            task_loss.append(loss_fn(logits, y))
            task_acc.append((logits.argmax(-1) == y).float().mean().item())
    if return_labels:
        return labels
    batch_loss = torch.stack(task_loss).mean()
    if train:
        model.train()
        optimizer.zero_grad()
        batch_loss.backward()
        optimizer.step()
    return batch_loss, np.mean(task_acc)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    cfg = Config()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    t0 = time.time()
    set_random_seed(cfg.seed)

    # the starter's order of calls: the model, then the split, then the loaders' iterators
    model = Classifier(1, cfg.n_way)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.meta_lr)
    loss_fn = nn.CrossEntropyLoss()
    train_path = os.path.join(args.data, "Omniglot/images_background/")
    half = cfg.task_num // 2
    train_set, val_set = torch.utils.data.random_split(
        Omniglot(train_path, cfg.k_shot, cfg.q_query, task_num=cfg.task_num), [half, cfg.task_num - half])
    train_loader = DataLoader(train_set, batch_size=cfg.n_way, num_workers=0, shuffle=False, drop_last=True)
    val_loader = DataLoader(val_set, batch_size=cfg.n_way, num_workers=0, shuffle=False, drop_last=True)
    train_iter, val_iter = iter(train_loader), iter(val_loader)

    for epoch in range(cfg.max_epoch):
        for _ in range(max(1, len(train_loader) // cfg.meta_batch_size)):
            x, train_iter = get_meta_batch(cfg.meta_batch_size, cfg.k_shot, cfg.q_query, train_loader, train_iter)
            loss, acc = BaseSolver(model, optimizer, x, cfg.n_way, cfg.k_shot, cfg.q_query, loss_fn,
                                   inner_train_step=cfg.train_inner_train_step, inner_lr=cfg.inner_lr)
        # the starter validates after every epoch; it draws from the same random streams, so it runs here too
        val_acc = []
        for _ in range(max(1, len(val_loader) // cfg.eval_batches)):
            x, val_iter = get_meta_batch(cfg.eval_batches, cfg.k_shot, cfg.q_query, val_loader, val_iter)
            _, a = BaseSolver(model, optimizer, x, cfg.n_way, cfg.k_shot, cfg.q_query, loss_fn,
                              inner_train_step=cfg.val_inner_train_step, inner_lr=cfg.inner_lr, train=False)
            val_acc.append(a)
        print(f"epoch {epoch + 1}: loss {loss.item():.3f}, train acc {acc:.3f}, validation acc {np.mean(val_acc):.3f}")

    test_loader = DataLoader(OmniglotTest(os.path.join(args.data, "Omniglot-test")), batch_size=cfg.test_batches,
                             shuffle=False)
    output = []
    for support_set, query_set in test_loader:
        x = torch.cat([support_set, query_set], dim=1)                  # [tasks, 10, 1, 28, 28]
        output.extend(BaseSolver(model, optimizer, x, cfg.n_way, cfg.k_shot, cfg.q_query, loss_fn,
                                 inner_train_step=cfg.test_inner_train_step, inner_lr=cfg.inner_lr,
                                 train=False, return_labels=True))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write("id,class\n" + "".join(f"{i},{label}\n" for i, label in enumerate(output)))
    print(f"wrote {len(output)} predictions to {args.out} in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
