"""HW13 hidden probe — runs INSIDE the sandbox after the student's notebook.

It loads the notebook's definitions (imports, functions, classes, configuration; no training is
re-run), reloads the checkpoint the run saved (student_best.ckpt) with strict=True into
`get_student_model()`, runs it through `test_tfm` on photos the student never saw
(/hidden_inputs/probe/*.png, no labels anywhere) and on the released evaluation photos, and calls
`loss_fn_kd` on hidden logits (/hidden_inputs/kd_logits.npz). It writes plain arrays for the
host-side checks in test_hidden.py:

    /out/hidden_logits.npy  the reloaded student on the hidden photos          (B, 11)
    /out/eval_pred.npy      its predicted class of every evaluation photo, in file-name order (N,)
    /out/kd_loss.npy        loss_fn_kd on the hidden logits for each (alpha, T) of KD_SETTINGS (K,)
    /out/probe.json         problems met while loading the notebook, the error of every step,
                            which checkpoint was loaded
"""

import glob
import os

import numpy as np
import probelib
import torch
from PIL import Image

KD_SETTINGS = [(0.5, 1.0), (0.5, 4.0), (0.9, 2.0), (0.1, 8.0)]   # (alpha, temperature); test_hidden.py too

torch.set_num_threads(int(os.environ.get("GRADER_TORCH_THREADS", "1")))
sub, problems = probelib.load_definitions("/code/submission.ipynb", keep={"cfg", "test_tfm"})
errors: dict[str, str] = {}
info: dict = {"problems": problems, "errors": errors}


def checkpoint():
    """The weights the run saved: student_best.ckpt as in the sample code (anywhere in its output)."""
    found = sorted(os.path.join(d, f) for d, _, fs in os.walk("/run") for f in fs if f == "student_best.ckpt")
    if not found:
        raise FileNotFoundError("the re-executed notebook saved no student_best.ckpt")
    return found[0]


def batches(files, size=128):
    for i in range(0, len(files), size):
        yield torch.stack([sub.test_tfm(Image.open(p).convert("RGB")) for p in files[i:i + size]])


def probe_student():
    model = sub.get_student_model()
    path = checkpoint()
    info["checkpoint"] = os.path.relpath(path, "/run")
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    model.eval()
    with torch.no_grad():
        photos = sorted(glob.glob("/hidden_inputs/probe/*.png"))
        logits = torch.cat([model(x) for x in batches(photos)])
        probelib.save_npy("/out/hidden_logits.npy", logits.detach().float().numpy())
        evaluation = sorted(glob.glob("/data/Food-11/evaluation/*.png"))
        pred = torch.cat([model(x).argmax(dim=-1) for x in batches(evaluation)])
        probelib.save_npy("/out/eval_pred.npy", pred.numpy().astype(np.int64))


def probe_loss():
    kd = np.load("/hidden_inputs/kd_logits.npz")
    s, t, y = (torch.from_numpy(kd[k]) for k in ("student", "teacher", "labels"))
    values = []
    for alpha, temperature in KD_SETTINGS:
        out = sub.loss_fn_kd(s.clone(), y.clone(), t.clone(), alpha=alpha, temperature=temperature)
        if not isinstance(out, torch.Tensor) or out.numel() != 1:
            raise TypeError(f"loss_fn_kd returned {type(out).__name__}"
                            + (f" of shape {tuple(out.shape)}" if isinstance(out, torch.Tensor) else "")
                            + ", expected a scalar tensor")
        values.append(float(out.detach()))
    probelib.save_npy("/out/kd_loss.npy", np.array(values, dtype=np.float64))


for name, fn in (("student", probe_student), ("loss_fn_kd", probe_loss)):
    try:
        fn()
    except Exception as e:  # the student's code may raise anything: a message for the host checks
        errors[name] = f"{type(e).__name__}: {str(e)[:500]}"
probelib.save_json("/out/probe.json", info)
