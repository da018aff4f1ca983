"""HW8 hidden probe — runs INSIDE the sandbox after the student's notebook.

It loads the notebook's definitions (imports, functions, classes, configuration; no training is
re-run), rebuilds `model_classes[model_type]` with the weights the run saved
(`last_model_{model_type}.pt`), and calls the notebook's `anomaly_score(model, images)` and the model's
forward on images the student never saw (/hidden_inputs/probeset.npy: normal faces and planted
anomalies, shuffled; which is which stays on the host). It writes plain arrays for the host-side checks
in test_hidden.py:

    /out/probe_scores.npy    anomaly_score on the hidden images                        (N,)
    /out/probe_scores_2.npy  the same, a second time (a score must be a function of the image)
    /out/test_scores.npy     anomaly_score on the released data/testingset.npy          (N_test,)
    /out/forward_in.npy      the model's input for 16 hidden images (as the notebook shapes it)
    /out/forward_out.npy     the model's forward on them (a VAE's first output)
    /out/probe.json          problems met while loading the notebook, the error of every step,
                             the model type and the checkpoint loaded
"""

import os

import numpy as np
import probelib
import torch

torch.set_num_threads(int(os.environ.get("GRADER_TORCH_THREADS", "1")))
# The sample code configures its model with plain assignments: keep those (and the batch size that
# anomaly_score reads) when the definitions are loaded.
sub, problems = probelib.load_definitions("/code/submission.ipynb",
                                          keep={"model_type", "model_classes", "eval_batch_size"})
errors: dict[str, str] = {}
info: dict = {"problems": problems, "errors": errors}
N_FORWARD = 16

hidden = np.load("/hidden_inputs/probeset.npy", allow_pickle=False)       # (N, H, W, 3) uint8
test = np.load("/data/data/testingset.npy", allow_pickle=False)
info["n_hidden"], info["n_test"] = int(len(hidden)), int(len(test))


def as_scores(s, n: int, what: str) -> np.ndarray:
    if isinstance(s, torch.Tensor):
        s = s.detach().cpu().numpy()
    s = np.asarray(s, dtype=np.float64)
    if s.size != n:
        raise ValueError(f"{what} gave {s.shape} for {n} images, expected one score per image")
    return s.reshape(n)


def checkpoint(model_type: str) -> str:
    """The weights the run saved: last_model_{model_type}.pt as in the sample code, else the only .pt."""
    name = f"last_model_{model_type}.pt"
    found = [os.path.join(d, f) for d, _, fs in os.walk("/run") for f in fs if f.endswith((".pt", ".pth", ".ckpt"))]
    named = [p for p in found if os.path.basename(p) == name]
    if named:
        return named[0]
    last = [p for p in found if os.path.basename(p).startswith("last_model")]
    if len(last) == 1 or len(found) == 1:
        return (last or found)[0]
    raise FileNotFoundError(f"no {name} in the run's output (found {[os.path.relpath(p, '/run') for p in found]})")


def load_model():
    model_type = getattr(sub, "model_type", None)
    model = sub.model_classes[model_type]
    path = checkpoint(model_type)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    info["model_type"], info["checkpoint"] = str(model_type), os.path.relpath(path, "/run")
    model.eval()
    return model


def probe_scores(model):
    for name in ("probe_scores.npy", "probe_scores_2.npy"):
        probelib.save_npy(f"/out/{name}", as_scores(sub.anomaly_score(model, hidden.copy()), len(hidden), "anomaly_score"))


def probe_test(model):
    probelib.save_npy("/out/test_scores.npy", as_scores(sub.anomaly_score(model, test.copy()), len(test), "anomaly_score"))


def probe_forward(model):
    """The model's input as the sample code builds it (CustomTensorDataset, flattened for 'fcn')."""
    x = sub.CustomTensorDataset(torch.from_numpy(hidden[:N_FORWARD].copy()))
    img = torch.stack([x[i] for i in range(len(x))]).float()
    if getattr(sub, "model_type", None) in ["fcn"]:
        img = img.view(img.shape[0], -1)
    with torch.no_grad():
        out = model(img)
    if isinstance(out, (tuple, list)):
        out = out[0]
    probelib.save_npy("/out/forward_in.npy", img.numpy())
    probelib.save_npy("/out/forward_out.npy", out.detach().float().numpy())


try:
    model = load_model()
except Exception as e:  # the student's code may raise anything: a message for the host checks
    model = None
    errors["model"] = f"{type(e).__name__}: {str(e)[:500]}"
if model is not None:
    for step, fn in (("anomaly_score", probe_scores), ("forward", probe_forward), ("test", probe_test)):
        try:
            fn(model)
        except Exception as e:
            errors[step] = f"{type(e).__name__}: {str(e)[:500]}"
probelib.save_json("/out/probe.json", info)
