"""HW6 hidden probe — runs INSIDE the sandbox after the student's notebook.

It calls the notebook's own `TrainerGAN.gp(r_imgs, f_imgs)` (definitions only: nothing is trained) on a
trainer whose critic `D` is one of the graders' (from /hidden_inputs), and writes plain arrays for the
host-side checks in test_hidden.py:

    /out/gp_values.npy     (3,)   gp(x, x) for the three batches x (real == fake: every interpolation
                                  point is x itself, so the value does not depend on the random mixing)
    /out/gp_grads.npy      (3, P) d gp / d critic weights, flattened, per batch
    /out/gp_quadratic.npy  (2,)   with the critic D(x) = c/2 |x|^2: gp(v, v) and gp(v, -v)
    /out/probe.json        problems met while loading the notebook; what failed at each step
"""

import os

import numpy as np
import torch
import torch.nn as nn
from probelib import load_definitions, save_json, save_npy

torch.set_num_threads(int(os.environ.get("GRADER_TORCH_THREADS", "1")))
sub, problems = load_definitions("/code/submission.ipynb")
cfg = getattr(sub, "config", None)
errors: dict[str, str] = {}
HI = "/hidden_inputs"
batches = [torch.from_numpy(np.load(f"{HI}/gp_batch_{k}.npy", allow_pickle=False)) for k in range(3)]
size = batches[0].shape[-1]


def conv_critic() -> nn.Module:
    """The graders' critic (data.py's gp_critic): (B, 3, S, S) -> (B,)."""
    net = nn.Sequential(nn.Conv2d(3, 8, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(8, 16, 4, 2, 1), nn.LeakyReLU(0.2),
                        nn.Flatten(), nn.Linear(16 * (size // 4) ** 2, 1), nn.Flatten(0))
    net.load_state_dict(torch.load(f"{HI}/gp_critic.pt", map_location="cpu", weights_only=True))
    return net


class Quadratic(nn.Module):
    """D(x) = c/2 |x|^2 per image: its gradient c·x has norm c|x|, so a penalty taken at the real or fake
    images differs from one taken between them (real = v, fake = -v)."""

    def __init__(self, c: float):
        super().__init__()
        self.c = nn.Parameter(torch.tensor([c]))

    def forward(self, x):
        return 0.5 * self.c * x.flatten(1).pow(2).sum(dim=1)


def penalty(D: nn.Module, real: torch.Tensor, fake: torch.Tensor, seed: int) -> torch.Tensor:
    """The notebook's gp on a stand-in trainer that holds only the critic and the config."""
    trainer = sub.TrainerGAN.__new__(sub.TrainerGAN)
    trainer.config = dict(cfg) if isinstance(cfg, dict) else {}
    trainer.D, trainer.G = D, None
    torch.manual_seed(seed)
    out = sub.TrainerGAN.gp(trainer, real.clone(), fake.clone())
    if not isinstance(out, torch.Tensor) or out.numel() != 1:
        raise TypeError(f"gp must return a one-element tensor, got {type(out).__name__} "
                        f"{tuple(out.shape) if isinstance(out, torch.Tensor) else ''}")
    return out.reshape(())


def step(name: str, fn) -> None:
    try:
        fn()
    except Exception as e:  # one failing step must not hide the others
        errors[name] = f"{type(e).__name__}: {str(e)[:300]}"


def values_and_grads() -> None:
    values, grads = [], []
    for k, x in enumerate(batches):
        D = conv_critic()
        value = penalty(D, x, x, seed=k)
        values.append(float(value.detach()))
        try:
            g = torch.autograd.grad(value, list(D.parameters()), allow_unused=True)
            grads.append(torch.cat([(gi if gi is not None else torch.zeros_like(p)).reshape(-1)
                                    for gi, p in zip(g, D.parameters())]).numpy())
        except RuntimeError as e:
            errors["grad"] = f"the penalty cannot be differentiated with respect to the critic's weights ({e})"
    save_npy("/out/gp_values.npy", np.array(values, dtype=np.float64))
    if len(grads) == len(batches):
        save_npy("/out/gp_grads.npy", np.stack(grads).astype(np.float64))


def quadratic() -> None:
    v = torch.from_numpy(np.load(f"{HI}/gp_antipodal.npy", allow_pickle=False))
    c = float(np.load(f"{HI}/gp_quadratic.npy", allow_pickle=False)[0])
    at_v = float(penalty(Quadratic(c), v, v, seed=10).detach())
    between = float(penalty(Quadratic(c), v, -v, seed=11).detach())
    save_npy("/out/gp_quadratic.npy", np.array([at_v, between], dtype=np.float64))


if not hasattr(sub, "TrainerGAN") or not hasattr(sub.TrainerGAN, "gp"):
    errors["gp"] = "the notebook defines no TrainerGAN class with a gp(self, r_imgs, f_imgs) method"
else:
    step("gp", values_and_grads)
    step("quadratic", quadratic)
save_json("/out/probe.json", {"problems": problems, "errors": errors})
