"""HW9 (explainable AI) builder: the two models the questions are about, the fixed inputs, the questions,
and their answer keys computed by the reference explanation methods.

``build(ctx)`` writes, in the layout of the course's HW9 notebook:

    release/food/{label}_{k}.png        the ten fixed photos (HW3's generated dishes, 32x32, classes 0-9)
    release/checkpoint.pth              the food CNN: {"model_state_dict": …} (load with weights_only=True)
    release/bert/model.pth              the QA encoder's state dict; bert/vocab.txt its word vocabulary
    release/bert/examples.json          the fixed QA examples (question, context, answer) and sentences
    release/questions.json, questions.md   the 30 questions (20 on the CNN, 10 on the encoder), options A-D
    hidden/answers.csv                  question,answer: the keys (letters, sorted; all correct options)
    hidden/ref_*.npy                    the reference saliency / SmoothGrad / IG maps and distances on
                                        the probe inputs (the hidden code checks compare with them)
    hidden_inputs/probe/{label}_{k}.png photos the students never saw, hidden_inputs/vectors.npy vector pairs

The models are trained here, in a few seconds on one core:

* Part I, the food CNN: the course's HW9 `Classifier` (conv-BN-ReLU-pool stacks, 16/32/64 channels for
  32x32 photos), trained 8 epochs on 1,100 photos drawn by HW3's generator (assignments/hw03_cnn/data.py,
  imported by path: its `draw`, classes and training nuisances), so the network looks at the dish's
  shape, colour and texture — what saliency maps, SmoothGrad, LIME and IG then show.
* Part II, the QA model: the course used its HW7 fine-tuned bert-base-chinese; this course's HW7 builds a
  generated-entity QA set with plain-torch BERT stand-ins, and HW9 trains its own small BERT-style
  encoder (3 layers, 2 heads, d=32) on the same kind of task: short passages of facts ("bob works at
  apple .") and questions ("who works at apple ?") whose answer is a span. Some words are ambiguous on
  purpose — "apple" / "orange" are companies and foods, "washington" / "jordan" people and places — so
  the embedding-distance questions ask whether the encoder tells the senses apart by context.

Questions are drawn from templates (the course's sections: LIME, saliency maps, SmoothGrad, filter
activations, Integrated Gradients; attention maps, PCA of each layer's embeddings, Euclidean / cosine
distances). Each template yields many candidates (photos, layers, heads, sentences drawn with the seed);
the keys come from `reference_solutions/hw09/explain.py`, and only candidates whose answer is clear (the
winning number leads the next by a relative margin, or every truth value is far from its threshold) are
kept, so an honest run on another machine — other floating-point rounding, other SmoothGrad noise —
reaches the same answers (MIN_MARGIN below). Checked on course seeds 2-5: no key changes when the sheet
is recomputed with two threads instead of one or SmoothGrad with other noise draws; the CNN knows 7-9
of its ten photos, the QA encoder answers 51-65% of fresh questions; prepare takes 10-14 s of CPU.
"""
from __future__ import annotations

import csv
import importlib.util
import io
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
N_PHOTOS, N_PROBE, N_TRAIN, EPOCHS = 10, 4, 1100, 8
SIZE = 32


def _module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod            # dataclasses look their module up while the file runs
    try:
        spec.loader.exec_module(mod)
    finally:
        del sys.modules[name]
    return mod


def build(ctx) -> None:
    import torch

    if ctx.source != "generated":
        raise ValueError(f"hw9: unknown source {ctx.source!r}: only 'generated' exists")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)       # one thread: the same secret gives the same weights, the same keys
    try:
        _build(ctx)
    finally:
        torch.set_num_threads(threads)


def _build(ctx) -> None:
    import torch

    food = _module("hw03_data", REPO / "assignments" / "hw03_cnn" / "data.py")
    ref = _module("hw09_explain", REPO / "reference_solutions" / "hw09" / "explain.py")
    release, hidden, hin = Path(ctx.release_dir), Path(ctx.hidden_dir), Path(ctx.hidden_inputs_dir)
    for d in (release / "food", release / "bert", hidden, hin / "probe"):
        d.mkdir(parents=True, exist_ok=True)
    rng_train, rng_photos, rng_probe, rng_text, rng_q, rng_vec = np.random.default_rng(ctx.seed).spawn(6)
    tseed = int(np.random.default_rng(ctx.seed).integers(2**31))

    # ---- Part I: the CNN and the photos
    labels = rng_train.permutation(np.arange(N_TRAIN) % food.N_CLASSES)
    x = np.stack([food.draw(rng_train, int(y), SIZE, food.NUISANCE["train"]) for y in labels])
    cnn = train_cnn(ref, x, labels, tseed)
    buf = io.BytesIO()
    torch.save({"model_state_dict": cnn.state_dict()}, buf)
    (release / "checkpoint.pth").write_bytes(buf.getvalue())
    for k in range(N_PHOTOS):          # one photo per class 0-9, the training nuisances (clear photos)
        _png(release / "food" / f"{k}_{k}.png", food.draw(rng_photos, k, SIZE, food.NUISANCE["train"]))
    probe_labels = rng_probe.choice(food.N_CLASSES, N_PROBE, replace=False)   # four classes, unseen photos
    for k, y in enumerate(probe_labels):
        _png(hin / "probe" / f"{y}_{k}.png", food.draw(rng_probe, int(y), SIZE, food.NUISANCE["train"]))

    # ---- Part II: the encoder and its fixed inputs
    text = TextTask(rng_text)
    bert = train_bert(ref, text, tseed)
    buf = io.BytesIO()
    torch.save(bert.state_dict(), buf)
    (release / "bert" / "model.pth").write_bytes(buf.getvalue())
    (release / "bert" / "vocab.txt").write_text("\n".join(text.vocab), encoding="utf-8")
    (release / "bert" / "examples.json").write_text(json.dumps(text.fixed_inputs(), indent=1) + "\n", encoding="utf-8")

    # ---- the questions and their keys
    ex = ref.Explainer(str(release))
    questions = make_questions(ex, text, rng_q)
    for q in questions:
        q["key"] = ex.answer(q)
    public = [{k: v for k, v in q.items() if k != "key"} for q in questions]
    (release / "questions.json").write_text(json.dumps(public, indent=1) + "\n", encoding="utf-8")
    (release / "questions.md").write_text(questions_md(public), encoding="utf-8")
    with open(hidden / "answers.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["question", "answer"])
        w.writerows((q["id"], q["key"]) for q in questions)

    # ---- references for the hidden code checks (saliency, SmoothGrad, IG, distances)
    reference_maps(ref, cnn, hin, hidden)
    vec = rng_vec.normal(0, 1, (6, 2, 32)).astype(np.float32)
    np.save(hin / "vectors.npy", vec)
    np.save(hidden / "ref_dist.npy", np.array([[ref.euclidean_distance(a, b), ref.cosine_similarity(a, b)] for a, b in vec]))


def probe_photos(folder: Path):
    """The probe photos in the course's order (label, then index), as (N, 3, 32, 32) floats and labels."""
    from PIL import Image
    import torch

    names = sorted((p.name for p in folder.iterdir()), key=lambda n: (int(n.split("_")[0]), n))
    x = torch.stack([torch.from_numpy(np.asarray(Image.open(folder / n).convert("RGB"), dtype=np.float32) / 255.0)
                     .permute(2, 0, 1) for n in names])
    return x, torch.tensor([int(n.split("_")[0]) for n in names])


def reference_maps(ref, cnn, hin: Path, hidden: Path) -> None:
    """What a correct notebook's methods give on the probe photos (the probe repeats these calls)."""
    import torch

    x, y = probe_photos(hin / "probe")
    np.save(hidden / "ref_saliency.npy", ref.compute_saliency_maps(x, y, cnn).numpy().astype(np.float32))
    smooth = []
    for i in range(len(x)):
        torch.manual_seed(i)
        smooth.append(ref.smooth_grad(x[i], y[i], cnn, 100, 0.4)[0])
    np.save(hidden / "ref_smooth.npy", np.stack(smooth).astype(np.float32))
    ig = ref.IntegratedGradients(cnn)
    np.save(hidden / "ref_ig.npy", np.stack([ig.generate_integrated_gradients(x[i:i + 1], int(y[i]), 20)
                                             for i in range(len(x))]).astype(np.float32))


def _png(path: Path, img: np.ndarray) -> None:
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(img, "RGB").save(buf, format="PNG", optimize=False, compress_level=6)
    path.write_bytes(buf.getvalue())


def train_cnn(ref, x: np.ndarray, y: np.ndarray, seed: int):
    import torch

    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)            # the layers' initial weights
    model = ref.Classifier()
    xt = torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255.0           # (N, 3, 32, 32)
    yt = torch.from_numpy(y).long()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3, weight_decay=1e-5)
    for _ in range(EPOCHS):
        model.train()
        for idx in torch.randperm(len(xt), generator=g).split(64):
            batch = xt[idx]
            flip = torch.rand(len(idx), generator=g) < 0.5                 # the dishes are mirror-symmetric
            batch = torch.where(flip[:, None, None, None], batch.flip(-1), batch)
            loss = torch.nn.functional.cross_entropy(model(batch), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


# ------------------------------------------------------------------------------------ the text task

PERSONS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "washington", "jordan"]
PLACES = ["paris", "tokyo", "lima", "oslo", "cairo", "delhi", "rome", "seoul", "washington", "jordan"]
COMPANIES = ["apple", "orange", "google", "tesla", "nokia", "sony", "intel", "amazon"]
FOODS = ["apple", "orange", "rice", "bread", "noodles", "soup", "cake", "eggs"]
# fact: (sentence template, entity kind, question about the object, question about the person)
FACTS = {"live": ("{p} lives in {o} .", PLACES, "where does {p} live ?", "who lives in {o} ?"),
         "work": ("{p} works at {o} .", COMPANIES, "where does {p} work ?", "who works at {o} ?"),
         "eat": ("{p} eats {o} .", FOODS, "what does {p} eat ?", "who eats {o} ?")}
KIND = {"live": "place", "work": "company", "eat": "food"}


class TextTask:
    """Passages of three facts about three different people; a question about one of them."""

    def __init__(self, rng):
        self.rng = rng
        words = {w for t in FACTS.values() for s in (t[0], t[2], t[3]) for w in s.split() if "{" not in w}
        self.vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"] + sorted(words | set(PERSONS + PLACES + COMPANIES + FOODS))

    def example(self):
        r = self.rng
        people = r.choice(PERSONS, 3, replace=False)
        used, facts = set(people), []
        for p in people:
            kind = str(r.choice(list(FACTS)))
            o = str(r.choice([w for w in FACTS[kind][1] if w not in used]))
            used.add(o)
            facts.append((kind, str(p), o))
        kind, p, o = facts[int(r.integers(3))]
        ask_object = r.random() < 0.6
        question = (FACTS[kind][2] if ask_object else FACTS[kind][3]).format(p=p, o=o)
        context = " ".join(FACTS[k][0].format(p=pp, o=oo) for k, pp, oo in facts)
        answer = o if ask_object else p
        # the answer's word position in the context (each entity appears once in a passage)
        return {"question": question, "context": context, "answer": answer,
                "answer_start": context.split().index(answer), "facts": facts}

    def fixed_inputs(self) -> dict:
        if not hasattr(self, "_fixed"):
            r = self.rng
            examples = {f"q{k + 1}": self.example() for k in range(4)}
            sentences, index, sense = [], [], []
            for word, kinds in (("apple", ("work", "eat")), ("washington", ("person", "live"))):
                j = 0
                while j < 6:
                    kind = kinds[j % 2]
                    if kind == "person":
                        k2 = str(r.choice(["live", "work", "eat"]))
                        o = str(r.choice([w for w in FACTS[k2][1] if w != word]))
                        s, pos, what = FACTS[k2][0].format(p=word, o=o), 0, "person"
                    else:
                        p = str(r.choice([w for w in PERSONS if w != word]))
                        s = FACTS[kind][0].format(p=p, o=word)
                        pos, what = s.split().index(word), KIND[kind]
                    if s in sentences:       # six different sentences per word
                        continue
                    j += 1
                    sentences.append(s)
                    index.append(pos)
                    sense.append(what)
            self._fixed = {"examples": {n: {k: e[k] for k in ("question", "context", "answer", "answer_start")}
                                        for n, e in examples.items()},
                           "sentences": sentences, "select_word_index": index, "_facts": examples, "_sense": sense}
        return {k: v for k, v in self._fixed.items() if not k.startswith("_")}


def train_bert(ref, text: TextTask, seed: int, n: int = 4000, epochs: int = 4):
    import torch

    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    tok = ref.Tokenizer(text.vocab)
    data = [text.example() for _ in range(n)]
    text.fixed_inputs()                       # drawn after the training set, from the same generator
    t = 32
    ids = torch.zeros(n, t, dtype=torch.long)
    seg, mask = torch.zeros_like(ids), torch.zeros_like(ids)
    start = torch.zeros(n, dtype=torch.long)
    for i, e in enumerate(data):
        enc = tok(e["question"], e["context"])
        m = enc["input_ids"].shape[1]
        ids[i, :m], seg[i, :m], mask[i, :m] = enc["input_ids"][0], enc["token_type_ids"][0], 1
        start[i] = len(e["question"].split()) + 2 + e["answer_start"]     # [CLS] q [SEP] then the context
    model = ref.BertForQuestionAnswering(len(text.vocab))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    steps = epochs * ((n + BATCH - 1) // BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(n, generator=g).split(BATCH):
            out = model(ids[idx], seg[idx], mask[idx])
            neg = (1 - mask[idx]) * -1e4       # padding is never an answer
            # one-word answers: the span starts and ends on the same token
            loss = (torch.nn.functional.cross_entropy(out.start_logits + neg, start[idx])
                    + torch.nn.functional.cross_entropy(out.end_logits + neg, start[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return model.eval()


# ------------------------------------------------------------------------------------ the questions

QUADS = ["top-left", "top-right", "bottom-left", "bottom-right"]
# (template, how many) per part, in the course's order
CNN_PLAN = [("lime_quadrant", 2), ("lime_sign", 2), ("saliency_quadrant", 3), ("saliency_centre", 2),
            ("smooth_quadrant", 2), ("smooth_centre", 2), ("filter", 4), ("ig_quadrant", 2), ("ig_sign", 1)]
BERT_PLAN = [("attention", 4), ("pca_separation", 3), ("euclidean", 2), ("cosine", 1)]
# How clear an answer must be (data.py keeps the clearest candidates above it). The methods are
# deterministic but for SmoothGrad's noise: floating-point differences between machines move their
# numbers by ~1e-6 of the scale; other noise draws move a SmoothGrad share by up to ~0.015 (shares
# ~0.3 in a quadrant, ~0.5 in the centre: margins of 0.12 and 0.08 of the largest keep 2-3x that).
MIN_MARGIN = {"smooth_quadrant": 0.12, "smooth_centre": 0.08}
DEFAULT_MARGIN = 0.04
BATCH = 32


def _photo(i: int) -> str:
    return f"food/{i}_{i}.png"


def make_questions(ex, text: TextTask, rng) -> list[dict]:
    out = []
    for part, plan in (("cnn", CNN_PLAN), ("bert", BERT_PLAN)):
        for template, count in plan:
            # a "choose every correct option" question with no correct option would reward a blank
            cands = [q for q in _candidates(template, ex, text, rng) if q["kind"] == "largest" or ex.answer(q)]
            scored = sorted(((ex.margin(q), k, q) for k, q in enumerate(cands)), key=lambda t: (-t[0], t[1]))
            seen, unique = set(), []
            for m, _, q in scored:           # the same photos drawn twice make one question
                key = json.dumps(q["args"], sort_keys=True)
                if key not in seen:
                    seen.add(key)
                    unique.append((m, q))
            clear = [q for m, q in unique if m >= MIN_MARGIN.get(template, DEFAULT_MARGIN)]
            pick = (clear if len(clear) >= count else [q for _, q in unique])[:count]
            out += pick
    n = {"cnn": 0, "bert": 0}
    for q in out:
        part = "cnn" if q["measure"] not in ("attention", "pca_separation", "euclidean", "cosine") else "bert"
        n[part] += 1
        q["id"] = f"{part}-{n[part]:02d}"
    return [{"id": q.pop("id"), **q} for q in out]


def _four(rng, n: int, size: int = 4) -> list[int]:
    return sorted(int(i) for i in rng.choice(n, size, replace=False))


def _candidates(template: str, ex, text: TextTask, rng):
    photos = range(N_PHOTOS)
    if template == "lime_quadrant":
        for i in photos:
            yield {"section": "LIME", "measure": "lime_quadrant", "kind": "largest", "args": {"image": i},
                   "text": f"LIME on {_photo(i)} (the segments: a 4x4 grid of 8x8 squares; 200 samples, seed 0): "
                           f"in which quadrant of the photo lies the segment with the largest weight?",
                   "options": QUADS}
    elif template == "lime_sign":
        for i in photos:
            segs = _four(rng, 16)
            yield {"section": "LIME", "measure": "lime_sign", "kind": "positive", "args": {"image": i, "segments": segs},
                   "text": f"LIME on {_photo(i)}: which of these segments have a positive weight (showing them "
                           f"raises the probability of the photo's class)? Segment s is row s // 4, column s % 4.",
                   "options": [f"segment {s} (row {s // 4}, column {s % 4})" for s in segs]}
    elif template in ("saliency_quadrant", "smooth_quadrant", "ig_quadrant"):
        what = {"saliency_quadrant": "the saliency map (compute_saliency_maps)",
                "smooth_quadrant": "the SmoothGrad map (smooth_grad, 100 noisy copies, sigma multiplier 0.4, "
                                   "torch.manual_seed(0) before the photo; max over the colour channels)",
                "ig_quadrant": "|Integrated Gradients x photo| (20 steps from a black image; summed over "
                               "the colour channels)"}[template]
        section = {"saliency_quadrant": "Saliency map", "smooth_quadrant": "SmoothGrad",
                   "ig_quadrant": "Integrated Gradients"}[template]
        for i in photos:
            yield {"section": section, "measure": template, "kind": "largest", "args": {"image": i},
                   "text": f"For {_photo(i)}, which quadrant holds the largest share of {what}?", "options": QUADS}
    elif template in ("saliency_centre", "smooth_centre"):
        name = "saliency map" if template == "saliency_centre" else "SmoothGrad map (as above)"
        for _ in range(40):
            imgs = _four(rng, N_PHOTOS)
            yield {"section": "Saliency map" if template == "saliency_centre" else "SmoothGrad",
                   "measure": template, "kind": "largest", "args": {"images": imgs},
                   "text": f"Which photo's {name} puts the largest share of its mass on the central 16x16 "
                           f"square (rows and columns 8-23, where the dish usually sits)?",
                   "options": [_photo(i) for i in imgs]}
    elif template == "filter":
        for cnnid in (0, 4, 8):
            channels = {0: 16, 4: 32, 8: 64}[cnnid]
            for f in rng.choice(channels, 4, replace=False):
                imgs = _four(rng, N_PHOTOS)
                yield {"section": "Filter explanation", "measure": "filter", "kind": "largest",
                       "args": {"cnnid": cnnid, "filter": int(f), "images": imgs},
                       "text": f"filter_explanation on model.cnn[{cnnid}], filter {int(f)}: which photo activates "
                               f"it the most (the sum of filter_activations over its map)?",
                       "options": [_photo(i) for i in imgs]}
    elif template == "ig_sign":
        for _ in range(20):
            imgs = _four(rng, N_PHOTOS)
            yield {"section": "Integrated Gradients", "measure": "ig_sign", "kind": "positive", "args": {"images": imgs},
                   "text": "Integrated Gradients (20 steps, for the photo's own class): for which photos is the sum "
                           "of IG x photo over every pixel and channel positive?",
                   "options": [_photo(i) for i in imgs]}
    elif template == "attention":
        fixed = text.fixed_inputs()
        for name, e in fixed["examples"].items():
            toks = ["[CLS]"] + e["question"].split() + ["[SEP]"] + e["context"].split() + ["[SEP]"]
            n_q = len(e["question"].split()) + 2
            query = next(k for k, w in enumerate(toks[:n_q]) if w in set(PERSONS + PLACES + COMPANIES + FOODS))
            out = ex.hidden(name, 0)
            for layer in range(len(out.attentions)):
                for head in range(out.attentions[layer].shape[1]):
                    att = out.attentions[layer][0, head, query].numpy()
                    ctx = [k for k in range(n_q, len(toks) - 1)]
                    best = max(ctx, key=lambda k: att[k])
                    others = [int(k) for k in rng.choice([k for k in ctx if k != best], 3, replace=False)]
                    pos = sorted([best] + others)
                    yield {"section": "Attention", "measure": "attention", "kind": "largest",
                           "args": {"example": name, "layer": layer, "head": head, "query": query, "positions": pos},
                           "text": f"Example {name} (\"{e['question']}\" / \"{e['context']}\"), layer {layer + 1}, "
                                   f"head {head + 1}: which context word does the question's word "
                                   f"\"{toks[query]}\" (token {query}) attend to most?",
                           "options": [f"\"{toks[p]}\" (token {p})" for p in pos]}
    elif template == "pca_separation":
        fixed = text.fixed_inputs()
        groups = {"people and places": ("person", "place"), "companies and foods": ("company", "food"),
                  "the answer and the rest of the passage": ("answer", "other"),
                  "people and companies": ("person", "company"), "places and foods": ("place", "food"),
                  "people and foods": ("person", "food")}
        for title, (a, b) in groups.items():
            tokens = []
            for name, e in fixed["examples"].items():
                n_q = len(e["question"].split()) + 2
                for k, w in enumerate(e["context"].split()):
                    role = _role(text, name, k, w)
                    if not role:
                        continue
                    g = 0 if a in role else 1 if (b in role or b == "other") else None
                    if g is not None:
                        tokens.append([name, n_q + k, g])
            yield {"section": "Embedding visualization", "measure": "pca_separation", "kind": "largest",
                   "args": {"layers": [0, 1, 2, 3], "tokens": tokens},
                   "text": f"Project the context tokens of examples q1-q4 (every layer's hidden states, PCA to 2-D "
                           f"per layer, as the course's embedding plots): in which layer are {title} separated "
                           f"best (distance between the two groups' centroids over the mean distance of the points "
                           f"to their own centroid)?",
                   "options": ["the embeddings (hidden_states[0])", "layer 1", "layer 2", "layer 3"]}
    elif template in ("euclidean", "cosine"):
        fixed = text.fixed_inputs()
        sents, index = fixed["sentences"], fixed["select_word_index"]
        for block in (range(0, 6), range(6, 12)):
            for anchor in block:
                for layer in (1, 2, 3):
                    for metric in (template,):
                        opts = sorted(int(s) for s in rng.choice([s for s in block if s != anchor], 4, replace=False))
                        word = sents[anchor].split()[index[anchor]]
                        how = "smallest Euclidean distance" if metric == "euclidean" else "largest cosine similarity"
                        yield {"section": "Embedding analysis", "measure": metric, "kind": "largest",
                               "args": {"anchor": anchor, "sentences": opts, "layer": layer,
                                        "index": {str(s): index[s] + 1 for s in [anchor] + opts}},
                               "text": f"Layer {layer}'s embedding of \"{word}\" in sentence {anchor} "
                                       f"(\"{sents[anchor]}\"): which sentence's \"{word}\" is nearest, by the "
                                       f"{how}?",
                               "options": [f"sentence {s}: \"{sents[s]}\"" for s in opts]}
    else:
        raise ValueError(template)


def _role(text: TextTask, name: str, k: int, w: str) -> set[str]:
    """What word k of example `name`'s passage is: person / place / company / food, and answer / other."""
    e = text._fixed["_facts"][name]
    roles = set()
    for kind, p, o in e["facts"]:
        if w == p:
            roles.add("person")
        if w == o:
            roles.add(KIND[kind])
    if not roles:
        return set()                 # function words take no part in the groups
    roles.add("answer" if k == e["answer_start"] else "entity")
    return roles


def questions_md(questions: list[dict]) -> str:
    lines = ["# HW9 questions", "", "Answer in `answers.json`: `{\"cnn-01\": \"B\", \"cnn-06\": [\"A\", \"C\"], …}`.",
             "A question earns its points only with all of its correct options and no other "
             "(0.3 points per CNN question, 0.4 per BERT question).", ""]
    section = None
    for q in questions:
        if q["section"] != section:
            section = q["section"]
            lines += [f"## {section}", ""]
        multi = " (choose every correct option)" if q["kind"] == "positive" else " (one option)"
        lines.append(f"**{q['id']}**{multi}. {q['text']}")
        lines += [f"- ({letter}) {opt}" for letter, opt in zip("ABCD", q["options"])]
        lines.append("")
    return "\n".join(lines)
