"""HW3 hidden probe — runs INSIDE the sandbox after the student's notebook.

It loads the notebook's definitions (imports, functions, classes, configuration; no training is
re-run), calls `train_tfm`, `test_tfm` and `Classifier` on photos the student never saw
(/hidden_inputs/probe/*.png, drawn like the test set; no labels anywhere), and writes plain arrays
for the host-side checks in test_hidden.py:

    /out/train_views.npy   train_tfm on the first hidden photo, N_VIEWS times      (N_VIEWS, C, H, W)
    /out/test_x.npy        test_tfm on every hidden photo, stacked                  (B, C, H, W)
    /out/test_x_2.npy      the same a second time (test_tfm must be deterministic)
    /out/logits.npy        Classifier (with the weights the run saved) on test_x    (B, 11)
    /out/probe.json        problems met while loading the notebook, the error of every step,
                           which checkpoint was loaded
"""

import glob
import os
import random

import numpy as np
import probelib
import torch
from PIL import Image

N_VIEWS = 10

torch.set_num_threads(int(os.environ.get("GRADER_TORCH_THREADS", "1")))
# The course writes its transforms as assignments (train_tfm = transforms.Compose([...])): keep those
# too, and the experiment name that names the checkpoint.
probelib.KEEP_ASSIGN |= {"train_tfm", "test_tfm", "_exp_name"}
sub, problems = probelib.load_definitions("/code/submission.ipynb")
errors: dict[str, str] = {}
info: dict = {"problems": problems, "errors": errors}


def as_array(t, what):
    if isinstance(t, torch.Tensor):
        return t.detach().cpu().float().numpy()
    raise TypeError(f"{what} returned {type(t).__name__}, expected a torch.Tensor")


photos = [Image.open(p).convert("RGB") for p in sorted(glob.glob("/hidden_inputs/probe/*.png"))]
info["n_photos"] = len(photos)


def probe_train_tfm():
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    views = [as_array(sub.train_tfm(photos[0].copy()), "train_tfm") for _ in range(N_VIEWS)]
    probelib.save_npy("/out/train_views.npy", np.stack(views))


def probe_test_tfm():
    for name in ("test_x.npy", "test_x_2.npy"):
        x = np.stack([as_array(sub.test_tfm(p.copy()), "test_tfm") for p in photos])
        probelib.save_npy(f"/out/{name}", x)


def checkpoint():
    """The weights the run saved: f"{_exp_name}_best.ckpt" as in the sample code, else the only .ckpt."""
    name = f"{getattr(sub, '_exp_name', 'sample')}_best.ckpt"
    found = [os.path.join(d, f) for d, _, fs in os.walk("/run") for f in fs if f.endswith((".ckpt", ".pt", ".pth"))]
    named = [p for p in found if os.path.basename(p) == name]
    if named:
        return named[0]
    if len(found) == 1:
        return found[0]
    raise FileNotFoundError(f"no {name} in the run's output (found {[os.path.relpath(p, '/run') for p in found]})")


def probe_classifier():
    model = sub.Classifier()
    try:
        path = checkpoint()
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        info["checkpoint"] = os.path.relpath(path, "/run")
    except Exception as e:  # an untrained Classifier still shows its output shape
        info["checkpoint_error"] = f"{type(e).__name__}: {str(e)[:300]}"
    model.eval()
    x = torch.from_numpy(np.load("/out/test_x.npy"))
    with torch.no_grad():
        probelib.save_npy("/out/logits.npy", as_array(model(x), "Classifier.forward"))


for name, fn in (("train_tfm", probe_train_tfm), ("test_tfm", probe_test_tfm), ("Classifier", probe_classifier)):
    try:
        fn()
    except Exception as e:  # the student's code may raise anything: a message for the host checks
        errors[name] = f"{type(e).__name__}: {str(e)[:500]}"
probelib.save_json("/out/probe.json", info)
