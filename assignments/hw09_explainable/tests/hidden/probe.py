"""HW9 hidden probe — runs INSIDE the sandbox after the student's notebook.

It loads the notebook's definitions (no cell is re-run), builds its `Classifier` with the released
checkpoint, and calls the methods the student wrote on photos they never saw (/hidden_inputs/probe) and
on random vector pairs (/hidden_inputs/vectors.npy), with the arguments the questions use:

    /out/saliency.npy   compute_saliency_maps(x, y, model)                         (N, 32, 32)
    /out/smooth.npy     smooth_grad(x[i], y[i], model, 100, 0.4), seed i before each  (N, 3, 32, 32)
    /out/ig.npy         IntegratedGradients(model).generate_integrated_gradients(x[i:i+1], y[i], 20)
    /out/distances.npy  [euclidean_distance(a, b), cosine_similarity(a, b)] per pair   (6, 2)
    /out/probe.json     what failed, per method (a method that raised writes no array)
"""

import os

import numpy as np
import torch
from PIL import Image
from probelib import load_definitions, save_json, save_npy

torch.set_num_threads(int(os.environ.get("GRADER_TORCH_THREADS", "1")))
sub, problems = load_definitions("/code/submission.ipynb")
sub.device = "cpu"                         # the methods move tensors to the notebook's `device`
failed = {}


def photos(folder="/hidden_inputs/probe"):
    names = sorted(os.listdir(folder), key=lambda n: (int(n.split("_")[0]), n))
    x = torch.stack([torch.from_numpy(np.asarray(Image.open(os.path.join(folder, n)).convert("RGB"), dtype=np.float32)
                                      / 255.0).permute(2, 0, 1) for n in names])
    return x, torch.tensor([int(n.split("_")[0]) for n in names])


def as_array(v, shape):
    v = v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    if v.size != int(np.prod(shape)):
        raise ValueError(f"returned shape {v.shape}, expected {shape}")
    return v.reshape(shape)


def attempt(name, fn):
    try:
        save_npy(f"/out/{name}.npy", fn())
    except Exception as e:  # a broken method loses its own check, not the others
        failed[name] = f"{type(e).__name__}: {e}"[:500]


model = sub.Classifier()
model.load_state_dict(torch.load("/data/checkpoint.pth", map_location="cpu", weights_only=True)["model_state_dict"])
model.eval()
x, y = photos()
n, h, w = len(x), x.shape[2], x.shape[3]


def smooth_all():
    out = []
    for i in range(n):
        torch.manual_seed(i)
        out.append(as_array(sub.smooth_grad(x[i].clone(), y[i], model, 100, 0.4), (3, h, w)))
    return np.stack(out)


def ig_all():
    ig = sub.IntegratedGradients(model)
    return np.stack([as_array(ig.generate_integrated_gradients(x[i:i + 1].clone(), int(y[i]), 20), (3, h, w))
                     for i in range(n)])


def distances():
    vec = np.load("/hidden_inputs/vectors.npy")
    return np.array([[float(sub.euclidean_distance(a, b)), float(sub.cosine_similarity(a, b))] for a, b in vec])


attempt("saliency", lambda: as_array(sub.compute_saliency_maps(x.clone(), y, model), (n, h, w)))
attempt("smooth", smooth_all)
attempt("ig", ig_all)
attempt("distances", distances)
save_json("/out/probe.json", {"problems": problems, "failed": failed})
