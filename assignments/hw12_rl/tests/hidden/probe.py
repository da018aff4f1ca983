"""HW12 hidden probe — runs INSIDE the sandbox after the student's notebook.

It loads the notebook's definitions (imports, functions, classes, UPPER_CASE configuration; no training
is re-run), calls the student's `accumulated_discounted_reward(seq_rewards, gamma)` on hidden reward
sequences, and builds the notebook's own `PolicyGradientNetwork`, loads the policy the re-executed
notebook saved (`/run/policy.pt`, `weights_only=True`, `strict=True`) and runs its forward on hidden
states. It writes plain arrays for the host-side checks in test_hidden.py:

    /out/discounted.npy     the function's outputs for every hidden sequence, concatenated   (sum of lengths,)
    /out/discounted_lengths.npy   the length of each output                               (K,)
    /out/action_probs.npy   PolicyGradientNetwork (with the saved weights) on the hidden states (64, 4)
    /out/probe.json         problems met while loading the notebook, the error of every step
"""

import os

import numpy as np
import probelib
import torch

torch.set_num_threads(int(os.environ.get("GRADER_TORCH_THREADS", "1")))
sub, problems = probelib.load_definitions("/code/submission.ipynb")
errors: dict[str, str] = {}
info: dict = {"problems": problems, "errors": errors}


def probe_discounted():
    rewards = np.load("/hidden_inputs/rewards.npy")
    lengths = np.load("/hidden_inputs/reward_lengths.npy")
    gammas = np.load("/hidden_inputs/gammas.npy")
    fn = getattr(sub, "accumulated_discounted_reward", None)
    if fn is None:
        raise NameError("the notebook defines no accumulated_discounted_reward(seq_rewards, gamma)")
    outs, sizes, start = [], [], 0
    for n, g in zip(lengths.tolist(), gammas.tolist()):
        seq = rewards[start:start + n].tolist()
        start += n
        out = fn(seq, g)
        if isinstance(out, torch.Tensor):
            out = out.detach().cpu().numpy()
        out = np.asarray(out, dtype=np.float64).reshape(-1)
        outs.append(out)
        sizes.append(len(out))
    probelib.save_npy("/out/discounted.npy", np.concatenate(outs))
    probelib.save_npy("/out/discounted_lengths.npy", np.array(sizes, dtype=np.int64))


def probe_network():
    states = np.load("/hidden_inputs/observations.npy")
    net = sub.PolicyGradientNetwork()
    net.load_state_dict(torch.load("/run/policy.pt", map_location="cpu", weights_only=True), strict=True)
    net.eval()
    with torch.no_grad():
        p = net(torch.as_tensor(states, dtype=torch.float32))
    if not isinstance(p, torch.Tensor):
        raise TypeError(f"PolicyGradientNetwork.forward returned {type(p).__name__}, expected a tensor")
    probelib.save_npy("/out/action_probs.npy", p.detach().cpu().double().numpy())


for name, fn in (("accumulated_discounted_reward", probe_discounted), ("PolicyGradientNetwork", probe_network)):
    try:
        fn()
    except Exception as e:  # the student's code may raise anything: a message for the host checks
        errors[name] = f"{type(e).__name__}: {str(e)[:500]}"
probelib.save_json("/out/probe.json", info)
