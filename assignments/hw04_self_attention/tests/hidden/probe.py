"""HW4 hidden probe — runs INSIDE the sandbox after the student's notebook.

It builds the notebook's own `Classifier(n_spks=...)` (definitions only, no training is re-run), loads
the weights the notebook saved (its inference `parse_args()["model_path"]`, else the one checkpoint
under the run's output), and calls it on utterances the student never saw, padded the way
`collate_batch` pads (-20). It writes plain arrays for the host-side checks in test_hidden.py:

    /out/batch_scores.npy    the model on all probe utterances in one padded batch   (n_probe, n_spks)
    /out/alone_scores.npy    the model on each probe utterance alone, unpadded        (n_probe, n_spks)
    /out/alone_scores_2.npy  the same, a second time (determinism)
    /out/test_pred.npy       argmax speaker id of every released test utterance, each alone, in
                             testdata.json order (as the sample's inference runs)      (n_test,)
    /out/probe.json          problems met while loading the notebook or calling the model

Every call is guarded: a model that raises leaves its array out and its message in probe.json.
"""

import json
import os
import traceback

import numpy as np
import torch
from probelib import load_definitions, save_json, save_npy

torch.set_num_threads(int(os.environ.get("GRADER_TORCH_THREADS", "1")))
DATA = "/data/Dataset"
report = {"problems": [], "errors": {}}
sub, report["problems"] = load_definitions("/code/submission.ipynb")
mapping = json.load(open(os.path.join(DATA, "mapping.json")))
n_spks = len(mapping["id2speaker"])
mels = np.load("/hidden_inputs/probe_mels.npy", allow_pickle=False)     # (N, T_max, 40), padded with -20
lens = np.load("/hidden_inputs/probe_lens.npy", allow_pickle=False)     # (N,)


def checkpoint() -> str:
    """Where the run phase saved the weights: parse_args()['model_path'], its output folder now at /run."""
    try:
        path = os.path.normpath(sub.parse_args().get("model_path", "model.ckpt"))
    except Exception:
        path = "model.ckpt"
    rel = os.path.relpath(path, "/out") if os.path.isabs(path) else path
    found = os.path.join("/run", rel)
    if not rel.startswith("..") and os.path.isfile(found):
        return found
    ckpts = [os.path.join(d, f) for d, _, fs in os.walk("/run") for f in fs if f.endswith((".ckpt", ".pt", ".pth"))]
    if len(ckpts) != 1:
        raise FileNotFoundError(f"expected the checkpoint at {found} (parse_args()['model_path']); found {ckpts}")
    return ckpts[0]


def guarded(name, fn):
    try:
        return fn()
    except Exception as e:
        report["errors"][name] = f"{type(e).__name__}: {e}\n" + "".join(traceback.format_exc(limit=-3))[-1500:]
        return None


def build_model():
    model = sub.Classifier(n_spks=n_spks)
    model.load_state_dict(torch.load(checkpoint(), map_location="cpu", weights_only=True))
    model.eval()
    return model


def scores(model, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        out = model(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
    return np.asarray(out.detach().float().numpy(), dtype=np.float64)


def alone(model) -> np.ndarray:
    return np.concatenate([scores(model, mels[i:i + 1, :n]) for i, n in enumerate(lens)])


def test_predictions(model) -> np.ndarray:
    utterances = json.load(open(os.path.join(DATA, "testdata.json")))["utterances"]
    preds = []
    for u in utterances:
        mel = torch.load(os.path.join(DATA, u["feature_path"]), weights_only=True)   # (T, 40)
        preds.append(int(scores(model, mel.numpy()[None]).argmax(1)[0]))
    return np.array(preds, dtype=np.int64)


model = guarded("load", build_model)
if model is not None:
    for name, fn in (("batch_scores", lambda: scores(model, mels)), ("alone_scores", lambda: alone(model)),
                     ("alone_scores_2", lambda: alone(model)), ("test_pred", lambda: test_predictions(model))):
        out = guarded(name, fn)
        if out is not None:
            guarded(name, lambda: save_npy(f"/out/{name}.npy", out))
report.update(n_probe=int(len(lens)), n_spks=n_spks)
save_json("/out/probe.json", report)
