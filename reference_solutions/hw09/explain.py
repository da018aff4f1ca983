"""HW9 reference: every explanation method of the homework, and the answer sheet they give.

    python reference_solutions/hw09/explain.py --data RELEASE_DIR --out answers.json

Reads only the released files (food/*.png, checkpoint.pth, bert/*, questions.json), runs the course's
methods — LIME, saliency maps, SmoothGrad, filter activations, Integrated Gradients on the food CNN;
attention maps, PCA of every layer's hidden states and Euclidean / cosine distances on the QA encoder —
and answers every question of questions.json from their results. `data.py` computes the hidden keys with
this very module at prepare time, so this sheet scores 10.0 (~5 s on one CPU core, torch import included).

The two models are the starter notebook's `Classifier` (the course's HW9 CNN, scaled to 32x32 photos)
and `BertForQuestionAnswering` (a small plain-torch BERT-style encoder standing in for the course's
fine-tuned bert-base-chinese); `build_*` below train them at prepare time.
"""
from __future__ import annotations

import argparse
import json
import math
import os
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

N_CLASSES = 11


@dataclass
class Config:
    lime_samples: int = 200      # perturbed copies per image (the lime package's default is 1000)
    lime_seed: int = 0
    smooth_epoch: int = 100      # noisy copies per image (the course: 500 on 128x128 photos)
    smooth_sigma: float = 0.4    # param_sigma_multiplier, as the course
    smooth_seed: int = 0
    ig_steps: int = 20           # Riemann steps from the black baseline (the course: 10)


# ------------------------------------------------------------------------------------- the models

class Classifier(nn.Module):
    """The course's HW9 CNN (stacks of conv-BN-ReLU blocks, then max-pooling), with 16/32/64 channels
    for 32x32 photos instead of 128..512 for 128x128. model.cnn[0], [4], [8] are the convolutions."""

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
        self.fc = nn.Sequential(nn.Linear(64 * 4 * 4, 128), nn.ReLU(), nn.Dropout(p=0.3), nn.Linear(128, N_CLASSES))

    def forward(self, x):
        out = self.cnn(x)                      # (B, 64, 4, 4)
        out = out.reshape(out.size()[0], -1)   # (B, 1024)
        return self.fc(out)                    # (B, 11)


class SelfAttention(nn.Module):
    def __init__(self, d: int, heads: int):
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
    def __init__(self, d: int, heads: int, ff: int):
        super().__init__()
        self.attn, self.ln1, self.ln2 = SelfAttention(d, heads), nn.LayerNorm(d), nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, ff), nn.GELU(), nn.Linear(ff, d))

    def forward(self, x, mask):
        a, att = self.attn(x, mask)
        x = self.ln1(x + a)                    # post-LN, as BERT
        return self.ln2(x + self.ff(x)), att


class BertForQuestionAnswering(nn.Module):
    """BERT in miniature: word + position + segment embeddings, post-LN encoder layers, a span head.
    model(input_ids, token_type_ids, attention_mask) -> .start_logits, .end_logits, .hidden_states
    (embeddings + one per layer, each (B, T, d)), .attentions (one per layer, (B, heads, T, T))."""

    def __init__(self, vocab_size: int, d: int = 32, layers: int = 3, heads: int = 2, ff: int = 64, max_len: int = 32):
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
    """Word-level: the generated passages are lower-case words separated by spaces."""

    def __init__(self, vocab: list[str]):
        self.vocab, self.index = vocab, {w: i for i, w in enumerate(vocab)}

    def tokens(self, question: str, context: str | None = None) -> list[str]:
        toks = ["[CLS]"] + question.split() + ["[SEP]"]
        return toks + (context.split() + ["[SEP]"] if context is not None else [])

    def __call__(self, question: str, context: str | None = None) -> dict:
        toks = self.tokens(question, context)
        n_q = len(question.split()) + 2
        ids = [self.index.get(w, self.index["[UNK]"]) for w in toks]
        return {"input_ids": torch.tensor([ids]), "token_type_ids": torch.tensor([[0] * n_q + [1] * (len(ids) - n_q)]),
                "attention_mask": torch.ones(1, len(ids), dtype=torch.long)}


# ------------------------------------------------------------------------------- loading the release

def load_food(data: str):
    """The ten photos as the course's FoodDataset.getbatch(img_indices): (10, 3, 32, 32) in [0, 1], labels."""
    names = sorted(os.listdir(os.path.join(data, "food")), key=lambda n: int(n.replace(".png", "")) + 1000000 * int(n.split("_")[0]))
    images = torch.stack([to_tensor(Image.open(os.path.join(data, "food", n))) for n in names])
    return images, torch.tensor([int(n.split("_")[0]) for n in names])


def to_tensor(img) -> torch.Tensor:
    """transforms.ToTensor without torchvision: (H, W, 3) uint8 -> (3, H, W) float in [0, 1]."""
    return torch.from_numpy(np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0).permute(2, 0, 1).contiguous()


def load_cnn(data: str) -> Classifier:
    model = Classifier()
    model.load_state_dict(torch.load(os.path.join(data, "checkpoint.pth"), map_location="cpu", weights_only=True)["model_state_dict"])
    return model.eval()


def load_bert(data: str):
    vocab = open(os.path.join(data, "bert", "vocab.txt"), encoding="utf-8").read().split("\n")
    state = torch.load(os.path.join(data, "bert", "model.pth"), map_location="cpu", weights_only=True)
    model = BertForQuestionAnswering(len(vocab))
    model.load_state_dict(state)
    return model.eval(), Tokenizer(vocab)


# ------------------------------------------------------------------------------ Part I: the methods

def normalize(image):
    return (image - image.min()) / (image.max() - image.min())


def compute_saliency_maps(x, y, model):
    """|d loss / d pixel|, max over the colour channels, min-max normalised per image: (N, H, W)."""
    model.eval()
    x = x.clone()
    x.requires_grad_()
    loss = torch.nn.CrossEntropyLoss()(model(x), y)
    loss.backward()
    saliencies, _ = torch.max(x.grad.data.abs().detach().cpu(), dim=1)
    return torch.stack([normalize(item) for item in saliencies])


def smooth_grad(x, y, model, epoch, param_sigma_multiplier):
    """Average |gradient| over `epoch` noisy copies of one image x (3, H, W): (1, 3, H, W), normalised.
    As the course: the noise's standard deviation is sigma**2 with sigma = multiplier / (max - min)."""
    model.eval()
    mean = 0
    sigma = param_sigma_multiplier / (torch.max(x) - torch.min(x)).item()
    smooth = np.zeros(x.unsqueeze(0).size())
    for i in range(epoch):
        noise = x.data.new(x.size()).normal_(mean, sigma ** 2)   # the global generator: seed it first
        x_mod = (x + noise).unsqueeze(0)
        x_mod.requires_grad_()
        loss = torch.nn.CrossEntropyLoss()(model(x_mod), y.unsqueeze(0))
        loss.backward()
        smooth += x_mod.grad.abs().detach().cpu().data.numpy()
    return normalize(smooth / epoch)


class IntegratedGradients():
    def __init__(self, model):
        self.model = model
        self.gradients = None
        self.model.eval()

    def generate_images_on_linear_path(self, input_image, steps):
        # The straight path from the black baseline to the image (the course's left Riemann sum).
        return [input_image * step / steps for step in range(steps)]

    def generate_gradients(self, input_image, target_class):
        input_image = input_image.detach().clone()
        input_image.requires_grad = True
        model_output = self.model(input_image)
        self.model.zero_grad()
        one_hot_output = torch.zeros(1, model_output.size()[-1])
        one_hot_output[0][target_class] = 1
        model_output.backward(gradient=one_hot_output)
        self.gradients = input_image.grad
        return self.gradients.data.cpu().numpy()[0]

    def generate_integrated_gradients(self, input_image, target_class, steps):
        """(1, 3, H, W) image -> (3, H, W) gradients of the class logit averaged along the path.
        (The course returns this average; multiplied by the image it sums to logit(x) - logit(0).)"""
        xbar_list = self.generate_images_on_linear_path(input_image, steps)
        integrated_grads = np.zeros(input_image.size())
        for xbar_image in xbar_list:
            integrated_grads = integrated_grads + self.generate_gradients(xbar_image, target_class) / steps
        return integrated_grads[0]


def segmentation(input, cell: int = 8):
    """LIME's segments: a grid of cell x cell squares (the course used skimage's slic superpixels)."""
    h, w = input.shape[:2]
    rows, cols = np.meshgrid(np.arange(h) // cell, np.arange(w) // cell, indexing="ij")
    return rows * (w // cell) + cols                                       # (H, W) segment ids 0..15


def lime_weights(image, label, model, n_samples, seed):
    """LIME for one image: which segments, kept, raise the label's probability. Random on/off masks,
    a hidden segment painted with its mean colour, a weighted ridge fit on the masks: (n_segments,)."""
    from sklearn.linear_model import Ridge

    img = image.permute(1, 2, 0).numpy()                                 # (H, W, 3)
    seg = segmentation(img)
    n = seg.max() + 1
    fudged = img.copy()
    for s in range(n):
        fudged[seg == s] = img[seg == s].mean(axis=0)
    rng = np.random.default_rng(seed)
    z = rng.integers(0, 2, (n_samples, n))
    z[0] = 1                                                             # the image itself
    batch = np.where(z[:, seg][..., None] == 1, img[None], fudged[None])   # (S, H, W, 3)
    with torch.no_grad():
        probs = model(torch.from_numpy(batch).permute(0, 3, 1, 2).float()).softmax(-1)[:, label].numpy()
    dist = 1 - z.sum(1) / np.sqrt(n * np.maximum(z.sum(1), 1))            # cosine distance to all-on
    weight = np.exp(-dist ** 2 / 0.25 ** 2)
    return Ridge(alpha=1.0).fit(z, probs, sample_weight=weight).coef_


def filter_activations(x, model, cnnid):
    """What model.cnn[cnnid] outputs for each image, summed over the map: (N, channels)."""
    acts = {}
    handle = model.cnn[cnnid].register_forward_hook(lambda m, i, o: acts.setdefault("a", o))
    with torch.no_grad():
        model(x)
    handle.remove()
    return acts["a"].sum(dim=(2, 3)).numpy()


# ----------------------------------------------------------------------------- Part II: the methods

def euclidean_distance(a, b):
    return float(np.sqrt(np.sum((np.asarray(a, float) - np.asarray(b, float)) ** 2)))


def cosine_similarity(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def bert_outputs(model, tokenizer, question, context=None):
    with torch.no_grad():
        return model(**tokenizer(question, context))


def separation(points: np.ndarray, groups: np.ndarray) -> float:
    """How far apart two groups of 2-D PCA points lie: centroid distance over the mean spread."""
    a, b = points[groups == 0], points[groups == 1]
    spread = np.concatenate([np.linalg.norm(a - a.mean(0), axis=1), np.linalg.norm(b - b.mean(0), axis=1)]).mean()
    return float(np.linalg.norm(a.mean(0) - b.mean(0)) / (spread + 1e-8))


def pca_2d(x: np.ndarray) -> np.ndarray:
    from sklearn.decomposition import PCA
    return PCA(n_components=2, random_state=0).fit_transform(x)


# ---------------------------------------------------------------------------- measures → answers

QUADRANTS = ("top-left", "top-right", "bottom-left", "bottom-right")


def quadrant_shares(m: np.ndarray) -> np.ndarray:
    """Share of a (H, W) map's mass in each quadrant, in QUADRANTS order."""
    h, w = m.shape
    q = [m[: h // 2, : w // 2], m[: h // 2, w // 2:], m[h // 2:, : w // 2], m[h // 2:, w // 2:]]
    return np.array([x.sum() for x in q]) / m.sum()


def centre_share(m: np.ndarray) -> float:
    h, w = m.shape
    return float(m[h // 4: 3 * h // 4, w // 4: 3 * w // 4].sum() / m.sum())


class Explainer:
    """Runs each method once per image / sentence (cached) and turns a question's `measure` into
    numbers: one per option (the answer is the largest) or one truth value per option."""

    def __init__(self, data: str, cfg: Config = Config()):
        self.cfg, self.data = cfg, data
        self.images, self.labels = load_food(data)
        self.cnn = load_cnn(data)
        self.bert, self.tok = load_bert(data)
        self.bert_inputs = json.load(open(os.path.join(data, "bert", "examples.json"), encoding="utf-8"))
        self._cache: dict = {}

    def _once(self, key, fn):
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    # per-image maps, (H, W)
    def saliency(self, i):
        return self._once(("sal",), lambda: compute_saliency_maps(self.images, self.labels, self.cnn).numpy())[i]

    def smooth(self, i):
        def run():
            torch.manual_seed(self.cfg.smooth_seed)
            return smooth_grad(self.images[i], self.labels[i], self.cnn, self.cfg.smooth_epoch, self.cfg.smooth_sigma)[0].max(0)
        return self._once(("smooth", i), run)

    def ig(self, i):
        return self._once(("ig", i), lambda: IntegratedGradients(self.cnn).generate_integrated_gradients(
            self.images[i:i + 1], int(self.labels[i]), self.cfg.ig_steps))

    def lime(self, i):
        w = self._once(("lime", i), lambda: lime_weights(self.images[i], int(self.labels[i]), self.cnn,
                                                         self.cfg.lime_samples, self.cfg.lime_seed))
        return w

    def logits(self):
        with torch.no_grad():
            return self._once(("logits",), lambda: self.cnn(self.images).numpy())

    def hidden(self, name, layer):
        ex = self.bert_inputs["examples"][name] if name in self.bert_inputs["examples"] else None
        if ex is not None:
            out = self._once(("bert", name), lambda: bert_outputs(self.bert, self.tok, ex["question"], ex["context"]))
        else:
            s = self.bert_inputs["sentences"][int(name)]
            out = self._once(("bert", name), lambda: bert_outputs(self.bert, self.tok, s))
        return out

    def measure(self, q: dict) -> np.ndarray:
        """One number per option for `q["measure"]` (see data.py's question templates)."""
        m, a = q["measure"], q["args"]
        if m == "correct":                          # logit margin of the true class (> 0: right)
            lg = self.logits()
            out = []
            for i in a["images"]:
                other = np.delete(lg[i], int(self.labels[i]))
                out.append(lg[i][int(self.labels[i])] - other.max())
            return np.array(out)
        if m in ("saliency_quadrant", "smooth_quadrant", "ig_quadrant"):
            i = a["image"]
            mp = {"saliency_quadrant": self.saliency, "smooth_quadrant": self.smooth,
                  "ig_quadrant": lambda k: np.abs(self.ig(k) * self.images[k].numpy()).sum(0)}[m](i)
            return quadrant_shares(mp)
        if m in ("saliency_centre", "smooth_centre"):
            fn = self.saliency if m == "saliency_centre" else self.smooth
            return np.array([centre_share(fn(i)) for i in a["images"]])
        if m == "lime_quadrant":                    # the quadrant holding the most positive segment weight
            w = self.lime(a["image"]).reshape(4, 4)
            return np.array([w[:2, :2].max(), w[:2, 2:].max(), w[2:, :2].max(), w[2:, 2:].max()])
        if m == "lime_sign":                        # does keeping the segment raise the probability?
            w = self.lime(a["image"])
            return np.array([w[s] for s in a["segments"]])
        if m == "filter":
            acts = filter_activations(self.images, self.cnn, a["cnnid"])
            return np.array([acts[i, a["filter"]] for i in a["images"]])
        if m == "ig_sign":                          # completeness: sum of IG x image = logit(x) - logit(0)
            return np.array([(self.ig(i) * self.images[i].numpy()).sum() for i in a["images"]])
        if m == "attention":                        # attention from token `query` to each option token
            att = self.hidden(a["example"], 0).attentions[a["layer"]][0, a["head"], a["query"]].numpy()
            return np.array([att[p] for p in a["positions"]])
        if m == "pca_separation":                   # per option: one layer's separation in 2-D PCA
            out = []
            for layer in a["layers"]:
                pts, groups = [], []
                for name, pos, g in a["tokens"]:
                    pts.append(self.hidden(name, layer).hidden_states[layer][0, pos].numpy())
                    groups.append(g)
                out.append(separation(pca_2d(np.stack(pts)), np.array(groups)))
            return np.array(out)
        if m in ("euclidean", "cosine"):            # closeness of each option sentence's word to the anchor's
            def emb(s):
                return self.hidden(str(s), a["layer"]).hidden_states[a["layer"]][0, a["index"][str(s)]].numpy()
            anchor = emb(a["anchor"])
            if m == "euclidean":
                return np.array([-euclidean_distance(anchor, emb(s)) for s in a["sentences"]])
            return np.array([cosine_similarity(anchor, emb(s)) for s in a["sentences"]])
        raise ValueError(f"unknown measure {m!r}")

    def answer(self, q: dict) -> str:
        v = self.measure(q)
        letters = "ABCD"[: len(v)]
        if q["kind"] == "largest":
            return letters[int(np.argmax(v))]
        return "".join(l for l, x in zip(letters, v) if x > q.get("threshold", 0.0))   # "positive": every true option

    def margin(self, q: dict) -> float:
        """How clear the answer is, relative to the spread of the numbers (data.py keeps clear questions)."""
        v = self.measure(q)
        scale = np.abs(v).max() + 1e-12
        if q["kind"] == "largest":
            top = np.sort(v)[::-1]
            return float((top[0] - top[1]) / scale)
        return float(np.abs(v - q.get("threshold", 0.0)).min() / scale)


def answer_sheet(data: str) -> dict[str, str]:
    ex = Explainer(data)
    questions = json.load(open(os.path.join(data, "questions.json"), encoding="utf-8"))
    return {q["id"]: ex.answer(q) for q in questions}


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=".")
    ap.add_argument("--out", default="answers.json")
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    sheet = answer_sheet(args.data)
    with open(args.out, "w") as f:
        json.dump(sheet, f, indent=1)
    print(f"wrote {len(sheet)} answers to {args.out}")
