"""HW1 hidden probe — runs INSIDE the sandbox after the student's notebook.

It calls the notebook's own `select_feat` and `My_Model` (definitions only, no training is re-run) on
hidden rows the student never saw, loads the weights the notebook saved (config['save_path']), and
writes plain arrays for the host-side checks in test_hidden.py:

    /out/feat_x.npy         select_feat(...) applied to the hidden rows     (n_hidden, n_selected)
    /out/hidden_pred.npy    My_Model on those rows                          (n_hidden,)
    /out/hidden_pred_2.npy  the same, a second time (determinism)
    /out/test_pred.npy      My_Model on covid.test.csv, the released test rows (n_test,)
    /out/probe.json         problems met while loading the notebook, the feature count
"""

import os

import numpy as np
import pandas as pd
import torch
from probelib import load_definitions, save_json, save_npy

torch.set_num_threads(int(os.environ.get("GRADER_TORCH_THREADS", "1")))
sub, problems = load_definitions("/code/submission.ipynb")
cfg = getattr(sub, "config", {}) or {}
train = pd.read_csv("/data/covid.train.csv").values
test = pd.read_csv("/data/covid.test.csv").values
hidden = pd.read_csv("/hidden_inputs/probe.csv").values


def selected(rows: np.ndarray) -> np.ndarray:
    # select_feat(train, valid, test, select_all) -> x_train, x_valid, x_test, y_train, y_valid
    out = sub.select_feat(train, train[:10], rows, cfg.get("select_all", True))
    return np.asarray(out[2], dtype=np.float32)


def checkpoint() -> str:
    """Where the run phase saved the weights: config['save_path'], with its output folder now at /run."""
    path = os.path.normpath(cfg.get("save_path", "models/model.ckpt"))
    rel = os.path.relpath(path, "/out") if os.path.isabs(path) else path
    found = os.path.join("/run", rel)
    if not rel.startswith("..") and os.path.isfile(found):
        return found
    ckpts = [os.path.join(d, f) for d, _, fs in os.walk("/run") for f in fs if f.endswith((".ckpt", ".pt", ".pth"))]
    if len(ckpts) != 1:
        raise FileNotFoundError(f"expected the checkpoint at {found} (config['save_path']); found {ckpts}")
    return ckpts[0]


def predict(x: np.ndarray) -> np.ndarray:
    model = sub.My_Model(input_dim=x.shape[1])
    model.load_state_dict(torch.load(checkpoint(), map_location="cpu", weights_only=True))
    model.eval()
    with torch.no_grad():
        return model(torch.from_numpy(x)).reshape(-1).numpy().astype(np.float64)


fx = selected(hidden)
save_npy("/out/feat_x.npy", fx)
save_npy("/out/hidden_pred.npy", predict(fx))
save_npy("/out/hidden_pred_2.npy", predict(selected(hidden)))
save_npy("/out/test_pred.npy", predict(selected(test)))
save_json("/out/probe.json", {"problems": problems, "n_features": int(fx.shape[1])})
