"""HW5 hidden probe — runs INSIDE the sandbox after the student's notebook.

It loads the notebook's definitions (no training is re-run) and calls its learning-rate schedule at
hidden points (/hidden_inputs/schedule.json: model sizes, warm-up lengths, steps and factors the
notebook never used; inputs only, the expected rates are computed on the host):

* `get_rate(d_model, step_num, warmup_step)`, the function the course's medium hint asks for;
* the sample's `NoamOpt(model_size, factor, warmup, optimizer)` wrapper: `rate(step)` at every hidden
  step, and the learning rate it writes into the optimizer's param_groups over its first steps.

It writes plain files for the host-side checks in test_hidden.py:

    /out/get_rate_<k>.npy     float64 (n_steps,) get_rate at point k's steps
    /out/get_rate_first_<k>.npy  float64 (n_first,) get_rate at steps 1 … n_first
    /out/noam_rate_<k>.npy    float64 (n_steps,) NoamOpt(...).rate(step) at the same steps
    /out/noam_lr_<k>.npy      float64 (n_first,) the optimizer's lr after each of the first steps
    /out/probe.json           problems met while loading the notebook, and each failed step's error

Every step is guarded: a function that raises leaves its file out and its message in probe.json.
"""

import json
import os
import traceback

import numpy as np
import torch
from probelib import load_definitions, save_json, save_npy

torch.set_num_threads(int(os.environ.get("GRADER_TORCH_THREADS", "1")))
report = {"problems": [], "errors": {}}
sub, report["problems"] = load_definitions("/code/submission.ipynb")
points = json.load(open("/hidden_inputs/schedule.json"))["points"]
N_FIRST = 12   # optimizer steps taken through NoamOpt.step()


def guarded(name, fn):
    try:
        out = np.asarray(fn(), dtype=np.float64)
        save_npy(f"/out/{name}.npy", out)
    except Exception as e:
        report["errors"][name] = f"{type(e).__name__}: {e}\n" + "".join(traceback.format_exc(limit=-3))[-1500:]


def noam(p):
    param = torch.nn.Parameter(torch.zeros(3))
    return sub.NoamOpt(model_size=p["d_model"], factor=p["factor"], warmup=p["warmup"],
                       optimizer=torch.optim.SGD([param], lr=0.0)), param


def lr_after_steps(p):
    opt, param = noam(p)
    lrs = []
    for _ in range(N_FIRST):
        param.grad = torch.ones_like(param)
        opt.step()
        lrs.append(float(opt.optimizer.param_groups[0]["lr"]))
    return lrs


for k, p in enumerate(points):
    guarded(f"get_rate_{k}", lambda: [float(sub.get_rate(p["d_model"], s, p["warmup"])) for s in p["steps"]])
    guarded(f"get_rate_first_{k}", lambda: [float(sub.get_rate(p["d_model"], s, p["warmup"]))
                                            for s in range(1, N_FIRST + 1)])
    guarded(f"noam_rate_{k}", lambda: [float(noam(p)[0].rate(s)) for s in p["steps"]])
    guarded(f"noam_lr_{k}", lambda: lr_after_steps(p))
save_json("/out/probe.json", report)
