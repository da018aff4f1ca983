"""HW15 hidden probe — runs INSIDE the sandbox after the student's notebook.

It loads the notebook's definitions (imports, functions, classes, the hyper-parameters; no training is
re-run) and calls the solver the notebook uses (`solver = "base"`: BaseSolver, otherwise MetaSolver)
on a hidden task the student never saw, with a hidden inner learning rate. The notebook's own
`Classifier` is wrapped so that every `functional_forward` call records the parameters it was given:
the first call sees the initial weights on the support set, the call on the query set sees the fast
weights after the inner step. Plain arrays go to /out for the host-side checks in test_hidden.py:

    /out/init/<param>.npy   the initial parameters (torch.manual_seed(0), the notebook's Classifier(1, n_way))
    /out/fast/<param>.npy   the parameters the query images were classified with, after ONE inner step
    /out/labels.npy         the solver's predicted classes of the 5 query images (return_labels=True)
    /out/probe.json         problems met while loading the notebook, the solver used, the error of every step
"""

import os

import numpy as np
import probelib
import torch
import torch.nn as nn

torch.set_num_threads(int(os.environ.get("GRADER_TORCH_THREADS", "1")))
sub, problems = probelib.load_definitions("/code/submission.ipynb", keep={"solver", "n_way", "k_shot", "q_query"})
solver_name = str(getattr(sub, "solver", "base"))
errors: dict[str, str] = {}
info: dict = {"problems": problems, "errors": errors, "solver": solver_name}
task = torch.from_numpy(np.load("/hidden_inputs/probe_task.npy"))            # [10, 1, 28, 28]
lr = float(np.load("/hidden_inputs/probe_lr.npy"))


def recording_model():
    """The notebook's Classifier, recording the parameters of every functional_forward call."""
    class Recorder(sub.Classifier):
        def functional_forward(self, x, params):
            self.calls.append({k: v.detach().cpu().double().numpy().copy() for k, v in params.items()})
            return super().functional_forward(x, params)

    torch.manual_seed(0)
    model = Recorder(1, 5)
    model.calls = []
    return model


def solver():
    fn = sub.BaseSolver if solver_name == "base" else sub.MetaSolver
    info["solver_function"] = fn.__name__
    return fn


def call(model, **kw):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    return solver()(model, optimizer, task[None].clone(), 5, 1, 1, nn.CrossEntropyLoss(),
                    inner_train_step=kw.pop("steps"), inner_lr=lr, train=False, **kw)


def probe_inner_step():
    model = recording_model()
    init = {k: v.detach().double().numpy().copy() for k, v in model.named_parameters()}
    call(model, steps=1)
    if len(model.calls) < 2:
        raise RuntimeError(f"functional_forward was called {len(model.calls)} time(s) for one inner step; "
                           "expected one call on the support set and one on the query set")
    for k, v in init.items():
        probelib.save_npy(f"/out/init/{k}.npy", v)
    for k, v in model.calls[-1].items():
        probelib.save_npy(f"/out/fast/{k}.npy", v)
    info["n_calls"] = len(model.calls)


def probe_labels():
    labels = call(recording_model(), steps=3, return_labels=True)
    probelib.save_npy("/out/labels.npy", np.asarray([int(v) for v in labels], dtype=np.int64))


os.makedirs("/out/init", exist_ok=True)
os.makedirs("/out/fast", exist_ok=True)
for name, fn in (("inner_step", probe_inner_step), ("labels", probe_labels)):
    try:
        fn()
    except Exception as e:  # the student's code may raise anything: a message for the host checks
        errors[name] = f"{type(e).__name__}: {str(e)[:500]}"
probelib.save_json("/out/probe.json", info)
