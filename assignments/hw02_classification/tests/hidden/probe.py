"""HW2 hidden probe — runs INSIDE the sandbox after the student's notebook.

It calls the notebook's own `concat_feat` and `Classifier` (definitions and hyper-parameters only, no
training is re-run) on hidden MFCC sequences the student never saw, and writes plain arrays for the
host-side checks in test_hidden.py:

    /out/concat_<i>_<n>.npy  concat_feat(hidden sequence i, n) for n in CONCAT_NS    (T_i, n * 39)
    /out/logits.npy          the Classifier on every hidden frame                     (frames, 41)
    /out/probe.json          problems met, the hyper-parameters found, errors by call

The host compares concat_feat's output with the course's definition (edge frames repeated): the
expected values never enter the sandbox, only the hidden inputs do.
"""

import os
import traceback

import numpy as np
import torch
from probelib import load_definitions, save_json, save_npy

CONCAT_NS = (3, 5, 11)
# The sample code keeps its hyper-parameters in plain lower-case variables; load those as well
# (their right-hand sides only use each other, e.g. input_dim = 39 * concat_nframes).
HYPER = ("concat_nframes", "input_dim", "hidden_layers", "hidden_dim")

torch.set_num_threads(int(os.environ.get("GRADER_TORCH_THREADS", "1")))
sub, problems = load_definitions("/code/submission.ipynb", keep={*HYPER, "model_path"})
report = {"problems": problems, "errors": {}}


def failed(call: str, exc: Exception) -> None:
    report["errors"][call] = f"{type(exc).__name__}: {str(exc)[:300]}\n{traceback.format_exc(limit=4)[-1200:]}"


def as_array(t) -> np.ndarray:
    return np.asarray(torch.as_tensor(t).detach().cpu().numpy(), dtype=np.float32)


def checkpoint() -> str | None:
    """Where the run saved the weights: model_path, with the run's output folder now at /run."""
    path = os.path.normpath(str(getattr(sub, "model_path", "model.ckpt")))
    rel = os.path.relpath(path, "/out") if os.path.isabs(path) else path
    found = os.path.join("/run", rel)
    if not rel.startswith("..") and os.path.isfile(found):
        return found
    ckpts = [os.path.join(d, f) for d, _, fs in os.walk("/run") for f in fs if f.endswith((".ckpt", ".pt", ".pth"))]
    return ckpts[0] if len(ckpts) == 1 else None


seqs = [np.load(os.path.join("/hidden_inputs", name), allow_pickle=False)
        for name in sorted(os.listdir("/hidden_inputs")) if name.startswith("seq_") and name.endswith(".npy")]

# 1. concat_feat on every hidden sequence, for several window sizes.
for i, x in enumerate(seqs):
    for n in CONCAT_NS:
        try:
            save_npy(f"/out/concat_{i}_{n}.npy", as_array(sub.concat_feat(torch.from_numpy(x.copy()), n)))
        except Exception as e:  # one failing call must not hide the others
            failed(f"concat_feat(sequence {i}, {n})", e)

# 2. The Classifier on the hidden frames, built with the notebook's own hyper-parameters and, when
#    they fit, the weights its run saved.
hp = {k: getattr(sub, k) for k in HYPER if isinstance(getattr(sub, k, None), int)}
report["hyper_parameters"] = hp
try:
    n = hp.get("concat_nframes", 1)
    inputs = [torch.as_tensor(sub.concat_feat(torch.from_numpy(x.copy()), n)).float() for x in seqs]  # (T_i, D)
    model = sub.Classifier(input_dim=hp.get("input_dim", inputs[0].shape[1]),
                           **{k: hp[k] for k in ("hidden_layers", "hidden_dim") if k in hp})
    path = checkpoint()
    try:
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        report["weights"] = f"loaded from {path}"
    except Exception as e:
        report["weights"] = f"freshly initialised ({path}: {type(e).__name__})"
    model.eval()
    with torch.no_grad():
        try:
            logits = model(torch.cat(inputs))                          # a frame classifier: (frames, 41)
            report["input"] = "frames"
        except Exception as e:                                         # a sequence model: (1, T, 41) each
            failed("Classifier(frames)", e)
            logits = torch.cat([model(x.unsqueeze(0)).squeeze(0) for x in inputs])
            report["input"] = "sequences"
    save_npy("/out/logits.npy", as_array(logits))
except Exception as e:
    failed("Classifier", e)

save_json("/out/probe.json", report)
