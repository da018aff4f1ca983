"""HW14 hidden probe — runs INSIDE the sandbox after the student's notebook.

It loads the notebook's definitions only (no training is re-run) and calls its own `Model`, `ewc`,
`mas` and `si` on a hidden model and batch (/hidden_inputs: a state dict of the course's Model and
64 rotated training-pool digits with their labels — inputs, no answers), then the model the notebook
saved (model.ckpt) on the released test images. It writes plain arrays for test_hidden.py:

    /out/<method>_sample.npy  ewc / mas / si importance at the hidden flat indices   (4096,)
    /out/<method>_sums.npy    the importance summed per parameter tensor             (8,)
    /out/ewc_penalty.npy      ewc.penalty(a moved copy of the model)                 (1,)
    /out/test_pred.npy        the saved model's labels for every test image of every task (5 * n_test,)
    /out/probe.json           problems met (which call failed, and why)
"""

import os
import traceback

import numpy as np
import torch
from probelib import load_definitions, save_json, save_npy

torch.set_num_threads(int(os.environ.get("GRADER_TORCH_THREADS", "1")))
sub, problems = load_definitions("/code/submission.ipynb")
H = "/hidden_inputs"
state = torch.load(f"{H}/probe_model.pt", map_location="cpu", weights_only=True)
moved = torch.load(f"{H}/probe_model_moved.pt", map_location="cpu", weights_only=True)
x = torch.from_numpy(np.load(f"{H}/probe_x.npy", allow_pickle=False))
y = torch.from_numpy(np.load(f"{H}/probe_y.npy", allow_pickle=False))
idx = np.load(f"{H}/probe_idx.npy", allow_pickle=False)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=32, shuffle=False)


def fresh_model():
    model = sub.Model()
    model.load_state_dict(state)
    return model


def save_importance(name, importance, names):
    flat = torch.cat([importance[n].detach().reshape(-1).double() for n in names]).numpy()
    save_npy(f"/out/{name}_sample.npy", flat[idx])
    save_npy(f"/out/{name}_sums.npy", np.array([float(importance[n].detach().double().sum()) for n in names]))


def attempt(what, fn):
    try:
        fn()
    except Exception as e:  # one broken method must not hide the others
        problems.append(f"{what}: {type(e).__name__}: {e} ({traceback.format_exc(limit=-1).strip().splitlines()[-2].strip()})")


def probe_ewc():
    model = fresh_model()
    names = [n for n, _ in model.named_parameters()]
    obj = sub.ewc(model=model, dataloader=loader, device="cpu", prev_guards=[None])
    save_importance("ewc", obj._precision_matrices, names)
    other = fresh_model()
    other.load_state_dict(moved)
    save_npy("/out/ewc_penalty.npy", np.array([float(obj.penalty(other))]))


def probe_mas():
    model = fresh_model()
    names = [n for n, _ in model.named_parameters()]
    obj = sub.mas(model=model, dataloader=loader, device="cpu", prev_guards=[None])
    save_importance("mas", obj._precision_matrices, names)


def probe_si():
    # The fixed trajectory data.py integrated: plain SGD (lr 0.05), 3 passes over the two batches,
    # update() after every step (the gradient of that step and the move it made).
    model = fresh_model()
    names = [n for n, _ in model.named_parameters()]
    obj = sub.si(model=model, dataloader=None, epsilon=0.1, device="cpu")
    for _ in range(3):
        for xb, yb in loader:
            model.zero_grad()
            torch.nn.functional.cross_entropy(model(xb), yb).backward()
            with torch.no_grad():
                for p in model.parameters():
                    p -= 0.05 * p.grad
            obj.update(model)
    after = sub.si(model=model, dataloader=loader, epsilon=0.1, device="cpu")
    save_importance("si", {n: after._n_omega[n.replace(".", "__")] for n in names}, names)


def probe_saved_model():
    args = sub.Args() if hasattr(sub, "Args") else None
    n_tasks = getattr(args, "task_number", 5)
    model = sub.Model()
    saved = torch.load("/run/model.ckpt", map_location="cpu", weights_only=True)
    own = set(model.state_dict())
    model.load_state_dict({k: v for k, v in saved.items() if k in own})   # SI / RWalk buffers are extra
    model.eval()
    preds = []
    with torch.no_grad():
        for t in range(n_tasks):
            data = sub.Data("/data", "test", angle=20 * t)
            for imgs, _ in torch.utils.data.DataLoader(data.dataset, batch_size=1000, shuffle=False):
                preds.append(model(imgs).argmax(dim=1))
    save_npy("/out/test_pred.npy", torch.cat(preds).numpy().astype(np.int64))


for what, fn in (("ewc", probe_ewc), ("mas", probe_mas), ("si", probe_si), ("saved model", probe_saved_model)):
    attempt(what, fn)
save_json("/out/probe.json", {"problems": problems})
