"""HW10 hidden probe — runs INSIDE the sandbox after the student's notebook.

It loads the notebook's definitions (imports, functions, classes, configuration such as epsilon and
alpha; no attack is re-run), builds a model the student has never seen (an untrained resnet8 of the
released proxy_models.py with the weights in /hidden_inputs/probe_model.pt) and calls the notebook's
`fgsm` and `ifgsm` on images the student has never seen (/hidden_inputs/probe_images.npy, normalised
as the sample code does). It writes plain arrays for the host-side checks in test_hidden.py, which
recompute the gradient's sign from the same weights themselves:

    /out/fgsm.npy         fgsm(model, x, y, loss_fn, epsilon=eps)                          (N, 3, 32, 32)
    /out/ifgsm_step.npy   ifgsm(..., epsilon=eps, alpha=0.8/255/std, num_iter=1): one step
    /out/ifgsm_clip.npy   ifgsm(..., epsilon=eps, alpha=3 * eps, num_iter=1): one step, clipped to eps
    /out/ifgsm_many.npy   ifgsm(..., epsilon=eps, alpha=0.8/255/std, num_iter=15)
    /out/probe.json       problems met while loading the notebook, the error of every step
"""

import json
import os
import sys

import numpy as np
import probelib
import torch
import torch.nn as nn

torch.set_num_threads(int(os.environ.get("GRADER_TORCH_THREADS", "1")))
sys.path.insert(0, "/data")  # the released proxy_models.py, as the notebook imports it
# The sample code's constants are lower-case assignments the attack functions' defaults need.
probelib.KEEP_ASSIGN |= {"cifar_10_mean", "cifar_10_std", "mean", "std", "epsilon", "alpha", "batch_size", "root"}
sub, problems = probelib.load_definitions("/code/submission.ipynb")
errors: dict[str, str] = {}
info: dict = {"problems": problems, "errors": errors}

import proxy_models  # noqa: E402  (after the notebook's own imports, which may have loaded it already)

MEAN = torch.tensor(proxy_models.cifar_10_mean).view(1, 3, 1, 1)
STD = torch.tensor(proxy_models.cifar_10_std).view(1, 3, 1, 1)
EPS = 8 / 255 / STD
ALPHA = 0.8 / 255 / STD

family = json.loads(open("/hidden_inputs/probe_model.json").read())["family"]
images = np.load("/hidden_inputs/probe_images.npy", allow_pickle=False)              # (N, 32, 32, 3) uint8
labels = torch.from_numpy(np.load("/hidden_inputs/probe_labels.npy", allow_pickle=False)).long()
x0 = ((torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255) - MEAN) / STD   # (N, 3, 32, 32)


def model():
    """A fresh copy for every call: a notebook that changes the model cannot change the next probe."""
    net = proxy_models.FAMILIES[family]()
    net.load_state_dict(torch.load("/hidden_inputs/probe_model.pt", map_location="cpu", weights_only=True))
    return net.eval()


def as_array(t, what):
    if isinstance(t, torch.Tensor):
        return t.detach().cpu().float().numpy()
    raise TypeError(f"{what} returned {type(t).__name__}, expected a torch.Tensor")


steps = {
    "fgsm": ("fgsm.npy", lambda: sub.fgsm(model(), x0.clone(), labels, nn.CrossEntropyLoss(), epsilon=EPS)),
    "ifgsm_step": ("ifgsm_step.npy", lambda: sub.ifgsm(model(), x0.clone(), labels, nn.CrossEntropyLoss(),
                                                         epsilon=EPS, alpha=ALPHA, num_iter=1)),
    "ifgsm_clip": ("ifgsm_clip.npy", lambda: sub.ifgsm(model(), x0.clone(), labels, nn.CrossEntropyLoss(),
                                                         epsilon=EPS, alpha=3 * EPS, num_iter=1)),
    "ifgsm_many": ("ifgsm_many.npy", lambda: sub.ifgsm(model(), x0.clone(), labels, nn.CrossEntropyLoss(),
                                                         epsilon=EPS, alpha=ALPHA, num_iter=15)),
}
for step, (name, call) in steps.items():
    try:
        probelib.save_npy(f"/out/{name}", as_array(call(), step.split("_")[0]))
    except Exception as e:  # the student's code may raise anything: a message for the host checks
        errors[step] = f"{type(e).__name__}: {str(e)[:500]}"
probelib.save_json("/out/probe.json", info)
