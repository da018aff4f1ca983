"""HW11 hidden probe — runs INSIDE the sandbox after the student's notebook.

It loads the notebook's definitions (imports, functions, classes, configuration; no training is
re-run), calls the student's gradient-reversal layer `grad_reverse(x, lamb)` on hidden tensors with
hidden upstream gradients and lambdas, and the three networks on drawings the student never saw, and
writes plain arrays for the host-side checks in test_hidden.py:

    /out/grl_forward.npy    grad_reverse(x_k, lamb_k) for every hidden x_k, stacked      (K, ...)
    /out/grl_backward.npy   x_k.grad after backward(grad_k) through grad_reverse          (K, ...)
    /out/features.npy       FeatureExtractor() on the hidden drawings (test_transform'ed)  (B, D)
    /out/class_logits.npy   LabelPredictor() on those features                             (B, 10)
    /out/domain_logits.npy  DomainClassifier() on those features                           (B, 1)
    /out/probe.json         problems met while loading the notebook, the error of every step
"""

import os

import numpy as np
import probelib
import torch
from PIL import Image

torch.set_num_threads(int(os.environ.get("GRADER_TORCH_THREADS", "1")))
probelib.KEEP_ASSIGN |= {"source_transform", "target_transform", "test_transform"}
sub, problems = probelib.load_definitions("/code/submission.ipynb")
errors: dict[str, str] = {}
info: dict = {"problems": problems, "errors": errors}


def as_array(t, what):
    if isinstance(t, torch.Tensor):
        return t.detach().cpu().double().numpy()
    raise TypeError(f"{what} returned {type(t).__name__}, expected a torch.Tensor")


def probe_grad_reverse():
    xs, grads = np.load("/hidden_inputs/grl_x.npy"), np.load("/hidden_inputs/grl_grad.npy")
    lambdas = np.load("/hidden_inputs/grl_lambda.npy")
    forward, backward = [], []
    for x, g, lamb in zip(xs, grads, lambdas):
        t = torch.tensor(x, dtype=torch.float32, requires_grad=True)
        y = sub.grad_reverse(t, float(lamb))
        forward.append(as_array(y, "grad_reverse"))
        y.backward(torch.tensor(g, dtype=torch.float32))
        if t.grad is None:
            raise RuntimeError("grad_reverse gave no gradient to its input")
        backward.append(as_array(t.grad, "the gradient of grad_reverse"))
    probelib.save_npy("/out/grl_forward.npy", np.stack(forward))
    probelib.save_npy("/out/grl_backward.npy", np.stack(backward))


def probe_models():
    images = np.load("/hidden_inputs/probe_images.npy")                       # (B, 28, 28) uint8
    transform = getattr(sub, "test_transform", None)
    if transform is not None:
        x = torch.stack([transform(Image.fromarray(im, "L")) for im in images])
    else:                                                                    # the course's 32x32 grayscale
        x = torch.stack([torch.from_numpy(np.asarray(Image.fromarray(im, "L").resize((32, 32), Image.BILINEAR),
                                                     dtype=np.float32) / 255)[None] for im in images])
    torch.manual_seed(0)
    fe, lp, dc = sub.FeatureExtractor(), sub.LabelPredictor(), sub.DomainClassifier()
    for m in (fe, lp, dc):
        m.eval()
    with torch.no_grad():
        h = fe(x)
        probelib.save_npy("/out/features.npy", as_array(h, "FeatureExtractor.forward"))
        probelib.save_npy("/out/class_logits.npy", as_array(lp(h), "LabelPredictor.forward"))
        probelib.save_npy("/out/domain_logits.npy", as_array(dc(h), "DomainClassifier.forward"))
    info["n_images"] = int(len(images))


for name, fn in (("grad_reverse", probe_grad_reverse), ("models", probe_models)):
    try:
        fn()
    except Exception as e:  # the student's code may raise anything: a message for the host checks
        errors[name] = f"{type(e).__name__}: {str(e)[:500]}"
probelib.save_json("/out/probe.json", info)
