# %% [markdown]
# # **Homework 9: Explainable AI**
#
# Part 1: CNN explanation (the HW3 food classifier and ten fixed photos) — LIME, saliency maps,
# SmoothGrad, filter explanation, Integrated Gradients. Part 2: BERT explanation (a QA model as in
# HW7) — attention visualization, embedding visualization (PCA across layers), embedding analysis
# (Euclidean / cosine distance).
#
# Run the code, answer the questions in `questions.md` (30 multiple-choice questions: 20 on the CNN,
# 0.3 points each; 10 on BERT, 0.4 points each; a question counts only with all of its correct options)
# and submit `answers.json`.
#
# This is the ML2022 HW9 sample code, adapted to the course autograder:
# * everything is given to you (no download): `food/`, `checkpoint.pth`, `bert/` and `questions.json`
#   in `GRADE_DATA_DIR` (default: the current folder); `answers.json` goes to `GRADE_OUTPUT_DIR`;
# * the photos are 32x32 PNG dishes drawn like this course's HW3 data (the course: ten 128x128 Food-11
#   JPEGs), and the CNN is the course's HW9 `Classifier` with 16/32/64 channels instead of 128..512;
# * no GPU, no torchvision, no `lime`, `skimage`, `transformers` or exBERT: the transforms, LIME (on a
#   grid of squares instead of slic superpixels) and the attention plots are written here with torch,
#   scikit-learn and matplotlib, and Part 2's model is a small plain-torch BERT-style QA encoder over
#   generated English passages (the course: its fine-tuned bert-base-chinese); its classes follow
#   `BertForQuestionAnswering` / `BertTokenizerFast` as far as this homework uses them;
# * the sample sizes are scaled to one CPU core: LIME 200 samples (course 1000), SmoothGrad 100 noisy
#   copies (course 500), Integrated Gradients 20 steps (course 10);
# * **you write three methods** (the autograder runs them on photos you have not seen and compares them
#   with the course's): `compute_saliency_maps`, `smooth_grad` and `IntegratedGradients`, plus Part 2's
#   `euclidean_distance` and `cosine_similarity`. Each is marked `TODO`.

# %%
import os

DATA_DIR = os.environ.get("GRADE_DATA_DIR", ".")
OUT_DIR = os.environ.get("GRADE_OUTPUT_DIR", ".")

# %% [markdown]
# ## Environment settings

# %%
import json
import math
from types import SimpleNamespace

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from sklearn.decomposition import PCA
from sklearn.linear_model import Ridge
from sklearn.metrics import pairwise_distances
from torch.optim import Adam
from torch.utils.data import Dataset

# CPU threads (the autograder sets OMP_NUM_THREADS).
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
device = "cuda" if torch.cuda.is_available() else "cpu"
plt.rcParams["figure.max_open_warning"] = 0

# %% [markdown]
# # Part 1: CNN explanation
# ## Model definition and checkpoint loading
# The course's HW9 classifier: stacks of conv-BN-ReLU blocks, each stack ending in a max-pooling.
# `model.cnn[0]`, `model.cnn[4]` and `model.cnn[8]` are its three convolutions.

# %%
class Classifier(nn.Module):
    def __init__(self):
        super(Classifier, self).__init__()

        def building_block(indim, outdim):
            return [nn.Conv2d(indim, outdim, 3, 1, 1), nn.BatchNorm2d(outdim), nn.ReLU()]

        def stack_blocks(indim, outdim, block_num):
            layers = building_block(indim, outdim)
            for i in range(block_num - 1):
                layers += building_block(outdim, outdim)
            layers.append(nn.MaxPool2d(2, 2, 0))
            return layers

        cnn_list = []
        cnn_list += stack_blocks(3, 16, 1)    # [16, 16, 16]
        cnn_list += stack_blocks(16, 32, 1)   # [32, 8, 8]
        cnn_list += stack_blocks(32, 64, 1)   # [64, 4, 4]
        self.cnn = nn.Sequential(*cnn_list)
        self.fc = nn.Sequential(nn.Linear(64 * 4 * 4, 128), nn.ReLU(), nn.Dropout(p=0.3), nn.Linear(128, 11))

    def forward(self, x):
        out = self.cnn(x)                      # (B, 64, 4, 4)
        out = out.reshape(out.size()[0], -1)   # (B, 1024)
        return self.fc(out)                    # (B, 11)


# %%
# Load the trained model (weights only: a state dict, nothing else is unpickled).
model = Classifier().to(device)
checkpoint = torch.load(os.path.join(DATA_DIR, "checkpoint.pth"), map_location=device, weights_only=True)
model.load_state_dict(checkpoint["model_state_dict"])
model.eval()

# %% [markdown]
# ## Dataset definition and creation
# The ten photos are `food/{label}_{index}.png`. `ToTensor` (no torchvision): a PIL image to a
# `[3, 32, 32]` float tensor in [0, 1].

# %%
def to_tensor(img):
    return torch.from_numpy(np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0).permute(2, 0, 1).contiguous()


class FoodDataset(Dataset):
    def __init__(self, paths, labels, mode):
        # mode: 'train' or 'eval'
        self.paths = paths
        self.labels = labels
        self.transform = to_tensor          # the course: Resize((128, 128)) + ToTensor for 'eval'

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        X = Image.open(self.paths[index])
        X = self.transform(X)
        Y = self.labels[index]
        return X, Y

    # help to get images for visualizing
    def getbatch(self, indices):
        images = []
        labels = []
        for index in indices:
            image, label = self.__getitem__(index)
            images.append(image)
            labels.append(label)
        return torch.stack(images), torch.tensor(labels)


# help to get data path and label
def get_paths_labels(path):
    def my_key(name):
        return int(name.replace(".png", "")) + 1000000 * int(name.split("_")[0])

    imgnames = os.listdir(path)
    imgnames.sort(key=my_key)
    imgpaths = []
    labels = []
    for name in imgnames:
        imgpaths.append(os.path.join(path, name))
        labels.append(int(name.split("_")[0]))
    return imgpaths, labels


train_paths, train_labels = get_paths_labels(os.path.join(DATA_DIR, "food"))
train_set = FoodDataset(train_paths, train_labels, mode="eval")
img_indices = [i for i in range(10)]
images, labels = train_set.getbatch(img_indices)
fig, axs = plt.subplots(1, len(img_indices), figsize=(15, 8))
for i, img in enumerate(images):
    axs[i].imshow(img.cpu().permute(1, 2, 0))
plt.show()
with torch.no_grad():
    print("predicted:", model(images.to(device)).argmax(-1).tolist(), "labels:", labels.tolist())

# %% [markdown]
# ## Lime
# [Lime](https://github.com/marcotcr/lime) explains a prediction by switching parts of the image on
# and off and fitting a linear model to the classifier's outputs. The `lime` package is not installed:
# this is its `LimeImageExplainer` in a few lines, with the same pieces the course's code passed it —
# `predict` (the classifier function) and `segmentation` (here a grid of 8x8 squares; the course used
# skimage's slic). A hidden segment is painted with its mean colour (lime's default).

# %%
def predict(input):
    # input: numpy array, (batches, height, width, channels)
    model.eval()
    input = torch.FloatTensor(input).permute(0, 3, 1, 2)
    # pytorch tensor, (batches, channels, height, width)
    output = model(input.to(device))
    return output.detach().cpu().numpy()


def segmentation(input, cell=8):
    # a 4x4 grid of squares: segment s is row s // 4, column s % 4
    h, w = input.shape[:2]
    rows, cols = np.meshgrid(np.arange(h) // cell, np.arange(w) // cell, indexing="ij")
    return rows * (w // cell) + cols


def explain_instance(image, label, classifier_fn, segmentation_fn, num_samples=200, seed=0):
    """The weight of each segment for `label` (softmax probability): (n_segments,)."""
    seg = segmentation_fn(image)
    n = seg.max() + 1
    fudged = image.copy()
    for s in range(n):
        fudged[seg == s] = image[seg == s].mean(axis=0)
    rng = np.random.default_rng(seed)
    z = rng.integers(0, 2, (num_samples, n))
    z[0] = 1                                                            # the image itself
    batch = np.where(z[:, seg][..., None] == 1, image[None], fudged[None])   # (S, H, W, 3)
    probs = torch.from_numpy(classifier_fn(batch)).softmax(-1)[:, label].numpy()
    dist = 1 - z.sum(1) / np.sqrt(n * np.maximum(z.sum(1), 1))           # cosine distance to all-on
    weight = np.exp(-dist ** 2 / 0.25 ** 2)
    return Ridge(alpha=1.0).fit(z, probs, sample_weight=weight).coef_


lime_weights = []
fig, axs = plt.subplots(1, len(img_indices), figsize=(15, 8))
np.random.seed(16)
for idx, (image, label) in enumerate(zip(images.permute(0, 2, 3, 1).numpy(), labels)):
    x = image.astype(np.double)
    w = explain_instance(x, int(label), classifier_fn=predict, segmentation_fn=segmentation, num_samples=200, seed=0)
    lime_weights.append(w)
    # the course showed lime_img.get_image_and_mask(...): here the weight of each square, over the photo
    axs[idx].imshow(image)
    axs[idx].imshow(np.kron(w.reshape(4, 4), np.ones((8, 8))), cmap="bwr", alpha=0.5,
                    vmin=-abs(w).max(), vmax=abs(w).max())
plt.show()
plt.close()

# %% [markdown]
# ## Saliency Map
# What is a saliency map? The heatmaps that highlight pixels of the input image that contribute the
# most in the classification task. We put an image into the model, compute the loss, and the loss is
# related to: the value of the image, the model parameters and the label. The gradient of the loss
# with respect to each pixel says how much that pixel matters.

# %%
def normalize(image):
    return (image - image.min()) / (image.max() - image.min())
    # return torch.log(image)/torch.log(image.max())


def compute_saliency_maps(x, y, model):
    """x: (N, 3, H, W) photos, y: (N,) labels -> (N, H, W): for every pixel, the largest absolute
    gradient of the cross-entropy loss over its three channels, min-max normalised per image."""
    model.eval()
    x = x.to(device)
    # TODO: we want the gradient of the input x (x.requires_grad_()), compute the loss with
    # torch.nn.CrossEntropyLoss, backward, take torch.max(x.grad.abs(), dim=1) and normalize each image.
    saliencies = torch.zeros(x.shape[0], x.shape[2], x.shape[3])
    return saliencies


# %%
# images, labels = train_set.getbatch(img_indices)
saliencies = compute_saliency_maps(images, labels, model)

# visualize
fig, axs = plt.subplots(2, len(img_indices), figsize=(15, 8))
for row, target in enumerate([images, saliencies]):
    for column, img in enumerate(target):
        if row == 0:
            axs[row][column].imshow(img.permute(1, 2, 0).numpy())
        else:
            axs[row][column].imshow(img.numpy(), cmap=plt.cm.hot)
plt.show()
plt.close()

# %% [markdown]
# ## Smooth Grad
# Smooth grad's method is to randomly add noise to the image and get different heatmaps; the average
# of the heatmaps is more robust to noisy gradients.
# ref: https://arxiv.org/pdf/1706.03825.pdf

# %%
def smooth_grad(x, y, model, epoch, param_sigma_multiplier):
    """x: one photo (3, H, W), y: its label (a 0-d tensor) -> (1, 3, H, W) numpy: the mean |gradient|
    of the loss over `epoch` noisy copies, normalized. As the course's code: sigma =
    param_sigma_multiplier / (max(x) - min(x)) and the noise is normal(mean 0, std sigma ** 2), drawn
    with x.data.new(x.size()).normal_(mean, sigma ** 2) (torch's global generator: seed it first)."""
    model.eval()
    # x = x.to(device).unsqueeze(0)
    mean = 0
    sigma = param_sigma_multiplier / (torch.max(x) - torch.min(x)).item()
    smooth = np.zeros(x.unsqueeze(0).size())
    for i in range(epoch):
        # TODO: noise = ..., x_mod = (x + noise).unsqueeze(0) with requires_grad, the loss of
        # model(x_mod) against y.unsqueeze(0), backward, smooth += |x_mod.grad|
        pass
    smooth = smooth / epoch
    return smooth   # TODO: normalize(smooth / epoch)


# %%
smooth = []
for i, l in zip(images, labels):
    torch.manual_seed(0)   # the questions' SmoothGrad: seed 0 before every photo
    smooth.append(smooth_grad(i, l, model, 100, 0.4))
smooth = np.stack(smooth)
print(smooth.shape)   # (10, 1, 3, 32, 32)

fig, axs = plt.subplots(2, len(img_indices), figsize=(15, 8))
for row, target in enumerate([images, smooth]):
    for column, img in enumerate(target):
        axs[row][column].imshow(np.transpose(img.reshape(3, 32, 32), (1, 2, 0)))
plt.show()
plt.close()

# %% [markdown]
# ## Filter explanation
# What does a filter of a convolution react to? `filter_activations`: its output on the photos;
# `filter_visualizations`: the photo changed by gradient ascent to excite it more.

# %%
layer_activations = None


def filter_explanation(x, model, cnnid, filterid, iteration=100, lr=1):
    # x: input image
    # cnnid: cnn layer id
    # filterid: which filter
    model.eval()

    def hook(model, input, output):
        global layer_activations
        layer_activations = output

    hook_handle = model.cnn[cnnid].register_forward_hook(hook)
    # When the model forwards through the layer[cnnid], it calls the hook function first
    # The hook function saves the output of the layer[cnnid]
    # After forwarding, we have the loss and the layer activation

    # Filter activation: x passing the filter will generate the activation map
    model(x.to(device))  # forward

    # Based on the filterid given by the function argument, pick up the specific filter's activation map
    # We just need to plot it, so we can detach from graph and save as cpu tensor
    filter_activations = layer_activations[:, filterid, :, :].detach().cpu()

    # Filter visualization: find the image that can activate the filter the most
    x = x.to(device)
    x.requires_grad_()
    # input image gradient
    optimizer = Adam([x], lr=lr)
    # Use optimizer to modify the input image to amplify filter activation
    for iter in range(iteration):
        optimizer.zero_grad()
        model(x)
        objective = -layer_activations[:, filterid, :, :].sum()
        # We want to maximize the filter activation's summation
        # So we add a negative sign
        objective.backward()
        # Calculate the partial differential value of filter activation to input image
        optimizer.step()
        # Modify input image to maximize filter activation
    filter_visualizations = x.detach().cpu().squeeze()

    # Don't forget to remove the hook
    hook_handle.remove()
    # The hook will exist after the model register it, so you have to remove it after used
    # Just register a new hook if you want to use it
    return filter_activations, filter_visualizations


# %%
images, labels = train_set.getbatch(img_indices)
filter_activations, filter_visualizations = filter_explanation(images.clone(), model, cnnid=4, filterid=0,
                                                               iteration=100, lr=0.1)

fig, axs = plt.subplots(3, len(img_indices), figsize=(15, 8))
for i, img in enumerate(images):
    axs[0][i].imshow(img.permute(1, 2, 0))
for i, img in enumerate(filter_activations):
    axs[1][i].imshow(normalize(img))
for i, img in enumerate(filter_visualizations):
    axs[2][i].imshow(normalize(img.permute(1, 2, 0)))
plt.show()
plt.close()
print("sum of each photo's activation map:", filter_activations.sum(dim=(1, 2)).numpy().round(2))

# %% [markdown]
# ## Integrated Gradients
# Gradients of the class score along the straight path from a black image to the photo, averaged
# (a Riemann sum); times the photo they add up to the score's change (completeness).
# ref: https://arxiv.org/abs/1703.01365

# %%
class IntegratedGradients():
    def __init__(self, model):
        self.model = model
        self.gradients = None
        # Put model in evaluation mode
        self.model.eval()

    def generate_images_on_linear_path(self, input_image, steps):
        # Generate scaled xbar images: input_image * step / steps for step in 0 .. steps - 1
        # TODO
        xbar_list = [input_image for step in range(steps)]
        return xbar_list

    def generate_gradients(self, input_image, target_class):
        # We want to get the gradients of the input image
        input_image = input_image.detach().clone().to(device)
        input_image.requires_grad = True
        # Forward
        model_output = self.model(input_image)
        # Zero grads
        self.model.zero_grad()
        # Target for backprop: the score of target_class
        one_hot_output = torch.zeros(1, model_output.size()[-1], device=model_output.device)
        one_hot_output[0][target_class] = 1
        # Backward
        model_output.backward(gradient=one_hot_output)
        self.gradients = input_image.grad
        # Convert Pytorch variable to numpy array
        # [0] to get rid of the first channel (1,3,128,128)
        gradients_as_arr = self.gradients.data.cpu().numpy()[0]
        return gradients_as_arr

    def generate_integrated_gradients(self, input_image, target_class, steps):
        """input_image: (1, 3, H, W) -> (3, H, W): the mean of the gradients over the path."""
        # Generate xbar images
        xbar_list = self.generate_images_on_linear_path(input_image, steps)
        # Initialize an image composed of zeros
        integrated_grads = np.zeros(input_image.size())
        # TODO: for each xbar image, add its gradient (generate_gradients) divided by steps
        # [0] to get rid of the first channel (1,3,128,128)
        return integrated_grads[0]


# %%
# put the image to cuda
images, labels = train_set.getbatch(img_indices)
images = images.to(device)

ig = IntegratedGradients(model)
integrated_grads = []
for i, img in enumerate(images):
    img = img.unsqueeze(0)
    integrated_grads.append(ig.generate_integrated_gradients(img, labels[i], 20))
fig, axs = plt.subplots(2, len(img_indices), figsize=(15, 8))
for i, img in enumerate(images):
    axs[0][i].imshow(img.cpu().permute(1, 2, 0))
for i, img in enumerate(integrated_grads):
    axs[1][i].imshow(np.moveaxis(normalize(np.abs(img * images[i].cpu().numpy())), 0, -1))
plt.show()
plt.close()

# %% [markdown]
# ## Numbers for the questions
# The questions ask about shares of a map (its quadrants, its central 16x16 square) and about sums.
# These helpers compute them from the maps above.

# %%
QUADRANTS = ["top-left", "top-right", "bottom-left", "bottom-right"]


def quadrant_shares(m):
    m = np.asarray(m, dtype=float)
    h, w = m.shape
    q = [m[: h // 2, : w // 2], m[: h // 2, w // 2:], m[h // 2:, : w // 2], m[h // 2:, w // 2:]]
    return np.array([x.sum() for x in q]) / m.sum()


def centre_share(m):
    m = np.asarray(m, dtype=float)
    h, w = m.shape
    return m[h // 4: 3 * h // 4, w // 4: 3 * w // 4].sum() / m.sum()


with np.errstate(invalid="ignore", divide="ignore"):
    for i, name in enumerate(train_paths):
        photo = images[i].cpu().numpy()
        print(os.path.basename(name),
              "saliency", quadrant_shares(saliencies[i].numpy()).round(3), round(float(centre_share(saliencies[i].numpy())), 3),
              "| smooth", quadrant_shares(smooth[i][0].max(0)).round(3), round(float(centre_share(smooth[i][0].max(0))), 3),
              "| IG", quadrant_shares(np.abs(integrated_grads[i] * photo).sum(0)).round(3),
              "sum(IG x photo)", round(float((integrated_grads[i] * photo).sum()), 3),
              "| LIME", lime_weights[i].round(3))

# %% [markdown]
# # Part 2: BERT explanation
# ## Model and tokenizer
# A small BERT-style encoder fine-tuned for extractive QA, as your HW7 model: word + position +
# segment embeddings, three post-LN encoder layers with two attention heads, a span head. Like
# `transformers`' models, `model(**inputs)` returns `start_logits`, `end_logits`, `hidden_states`
# (the embeddings and one per layer, each `[1, T, 32]`) and `attentions` (one per layer, `[1, 2, T, T]`).

# %%
class SelfAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.h, self.dk = heads, d // heads
        self.qkv, self.o = nn.Linear(d, 3 * d), nn.Linear(d, d)

    def forward(self, x, mask):
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.h, self.dk).permute(2, 0, 3, 1, 4)   # 3 x (B, H, T, dk)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(self.dk)                           # (B, H, T, T)
        att = att.masked_fill(~mask[:, None, None, :], -1e9).softmax(-1)
        return self.o((att @ v).transpose(1, 2).reshape(b, t, d)), att


class Layer(nn.Module):
    def __init__(self, d, heads, ff):
        super().__init__()
        self.attn, self.ln1, self.ln2 = SelfAttention(d, heads), nn.LayerNorm(d), nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, ff), nn.GELU(), nn.Linear(ff, d))

    def forward(self, x, mask):
        a, att = self.attn(x, mask)
        x = self.ln1(x + a)
        return self.ln2(x + self.ff(x)), att


class BertForQuestionAnswering(nn.Module):
    def __init__(self, vocab_size, d=32, layers=3, heads=2, ff=64, max_len=32):
        super().__init__()
        self.word, self.pos, self.seg = nn.Embedding(vocab_size, d), nn.Embedding(max_len, d), nn.Embedding(2, d)
        self.ln = nn.LayerNorm(d)
        self.layers = nn.ModuleList([Layer(d, heads, ff) for _ in range(layers)])
        self.qa_outputs = nn.Linear(d, 2)

    def forward(self, input_ids, token_type_ids, attention_mask):
        t = input_ids.shape[1]
        x = self.ln(self.word(input_ids) + self.pos(torch.arange(t))[None] + self.seg(token_type_ids))
        hidden, atts, mask = [x], [], attention_mask.bool()
        for layer in self.layers:
            x, att = layer(x, mask)
            hidden.append(x)
            atts.append(att)
        start, end = self.qa_outputs(x).unbind(-1)
        return SimpleNamespace(start_logits=start, end_logits=end, hidden_states=tuple(hidden), attentions=tuple(atts))


class Tokenizer:
    """Word-level (the passages are lower-case words): tokenizer(question, context) gives
    [CLS] question [SEP] context [SEP] as input_ids, token_type_ids and attention_mask."""

    def __init__(self, vocab):
        self.vocab, self.index = vocab, {w: i for i, w in enumerate(vocab)}

    def tokens(self, question, context=None):
        toks = ["[CLS]"] + question.split() + ["[SEP]"]
        return toks + (context.split() + ["[SEP]"] if context is not None else [])

    def __call__(self, question, context=None):
        toks = self.tokens(question, context)
        n_q = len(question.split()) + 2
        ids = [self.index.get(w, self.index["[UNK]"]) for w in toks]
        return {"input_ids": torch.tensor([ids]), "token_type_ids": torch.tensor([[0] * n_q + [1] * (len(ids) - n_q)]),
                "attention_mask": torch.ones(1, len(ids), dtype=torch.long)}


# %%
vocab = open(os.path.join(DATA_DIR, "bert", "vocab.txt"), encoding="utf-8").read().split("\n")
tokenizer = Tokenizer(vocab)
bert = BertForQuestionAnswering(len(vocab))
bert.load_state_dict(torch.load(os.path.join(DATA_DIR, "bert", "model.pth"), map_location="cpu", weights_only=True))
bert.eval()
fixed = json.load(open(os.path.join(DATA_DIR, "bert", "examples.json"), encoding="utf-8"))
contexts = [e["context"] for e in fixed["examples"].values()]
questions = [e["question"] for e in fixed["examples"].values()]
answers = [e["answer"] for e in fixed["examples"].values()]
for n, (q, c, a) in enumerate(zip(questions, contexts, answers), start=1):
    with torch.no_grad():
        out = bert(**tokenizer(q, c))
    toks = tokenizer.tokens(q, c)
    print(f"q{n}: {q} | {c} | answer {a!r}, the model says {toks[int(out.start_logits[0].argmax())]!r}")

# %% [markdown]
# ## Attention visualization
# The course used exBERT. Here: every layer's and head's attention, as heatmaps (row: the token that
# attends, column: the token attended to).

# %%
QUESTION = 1
toks = tokenizer.tokens(questions[QUESTION - 1], contexts[QUESTION - 1])
with torch.no_grad():
    output = bert(**tokenizer(questions[QUESTION - 1], contexts[QUESTION - 1]))
n_layers, n_heads = len(output.attentions), output.attentions[0].shape[1]
fig, axs = plt.subplots(n_layers, n_heads, figsize=(6 * n_heads, 6 * n_layers))
for layer in range(n_layers):
    for head in range(n_heads):
        ax = axs[layer][head]
        ax.imshow(output.attentions[layer][0, head].numpy(), cmap="viridis")
        ax.set_xticks(range(len(toks)), toks, rotation=90)
        ax.set_yticks(range(len(toks)), toks)
        ax.set_title(f"layer {layer + 1}, head {head + 1}")
plt.show()
plt.close()

# %% [markdown]
# ## Embedding visualization
# Each layer's hidden states of one example, projected to 2-D with PCA: question tokens, context
# tokens and the answer in different colours.

# %%
QUESTION = 1
q, c = questions[QUESTION - 1], contexts[QUESTION - 1]
with torch.no_grad():
    output = bert(**tokenizer(q, c))
toks = tokenizer.tokens(q, c)
n_q = len(q.split()) + 2
answer_pos = n_q + fixed["examples"][f"q{QUESTION}"]["answer_start"]
fig, axs = plt.subplots(1, len(output.hidden_states), figsize=(6 * len(output.hidden_states), 5))
for layer_index, embedding in enumerate(output.hidden_states):
    reduced_embedding = PCA(n_components=2, random_state=0).fit_transform(embedding[0].numpy())
    for i, token in enumerate(toks):
        color = "red" if i == answer_pos else "green" if i < n_q else "blue"
        axs[layer_index].scatter(*reduced_embedding[i], color=color)
        axs[layer_index].text(*reduced_embedding[i], token)
    axs[layer_index].set_title(f"layer {layer_index}")
plt.show()
plt.close()

# %% [markdown]
# ## Embedding analysis
# The same word in different sentences: are its embeddings close? Implement the two distances.

# %%
sentences = fixed["sentences"]
# The index (in words) of the word to compare in each sentence
select_word_index = fixed["select_word_index"]


def euclidean_distance(a, b):
    # Compute euclidean distance (L2 norm) between two numpy vectors a and b
    return 0  # TODO


def cosine_similarity(a, b):
    # Compute cosine similarity between two numpy vectors a and b
    return 0  # TODO


# Metric for comparison. Choose from euclidean_distance, cosine_similarity
METRIC = euclidean_distance


def get_select_embedding(output, tokenized_sentence, select_word_index):
    # The layer to visualize, choose from 0 to 3
    LAYER = 3
    # Get selected layer's hidden state
    hidden_state = output.hidden_states[LAYER][0]
    # Convert select_word_index in sentence to select_word_index in tokenized_sentence ([CLS] first)
    select_word_index = select_word_index + 1
    # Return embedding of selected word
    return hidden_state[select_word_index].numpy()


# %%
tokenized_sentences = [tokenizer(sentence) for sentence in sentences]
with torch.no_grad():
    outputs = [bert(**tokenized_sentence) for tokenized_sentence in tokenized_sentences]
embeddings = [get_select_embedding(outputs[i], tokenized_sentences[i], select_word_index[i]) for i in range(len(outputs))]
similarity_matrix = pairwise_distances(embeddings, metric=METRIC)

plt.imshow(similarity_matrix, cmap="Reds")
plt.colorbar()
plt.yticks(ticks=range(len(sentences)), labels=sentences, size=8)
plt.title("Comparison of BERT Word Embeddings")
for (i, j), label in np.ndenumerate(similarity_matrix):
    plt.text(i, j, "{:.2f}".format(label), ha="center", va="center", size=5)
plt.show()
plt.close()

# %% [markdown]
# # Your answers
# Fill `ANSWERS` with your options for the questions in `questions.md` (a letter, or a list of letters
# when several options are correct). Unanswered questions are written as "" and earn nothing.
# Submit the `answers.json` this cell writes; it must be the one your notebook writes (the autograder
# re-runs the notebook and compares).

# %%
ANSWERS = {
    # "cnn-01": "B",
    # "cnn-04": ["A", "C"],
}
question_ids = [q["id"] for q in json.load(open(os.path.join(DATA_DIR, "questions.json"), encoding="utf-8"))]
sheet = {q: ANSWERS.get(q, "") for q in question_ids}
with open(os.path.join(OUT_DIR, "answers.json"), "w") as f:
    json.dump(sheet, f, indent=1)
print(f"wrote {sum(bool(v) for v in sheet.values())} of {len(sheet)} answers to answers.json")
