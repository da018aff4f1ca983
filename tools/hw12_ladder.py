"""HW12 ladder across training seeds and data seeds: trains each reference once per training seed
(the training does not depend on the data: the course's episodes are only played by the grader), then
plays every policy on the ci episodes of each data seed, on the host, as the board does. Prints the
mean total reward on the public / private halves and the CPU and wall seconds of each training run.

    OMP_NUM_THREADS=1 python tools/hw12_ladder.py --data-seeds 1 2 3 --train-seeds 543 1 [--levels simple medium]
"""
import argparse
import importlib.util
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
HW = REPO / "assignments/hw12_rl"
LEVELS = ("simple", "medium", "strong", "boss")


def module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-seeds", nargs="+", type=int, default=[1, 2, 3])
    ap.add_argument("--train-seeds", nargs="+", type=int, default=[543])
    ap.add_argument("--levels", nargs="+", default=list(LEVELS))
    ap.add_argument("--out", default="/tmp/hw12-ladder")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    from grader.data import BuildContext

    data, grading = module(HW / "data.py", "hw12_data"), module(HW / "grading.py", "hw12_grading")
    boards = {}
    for seed in args.data_seeds:
        root = Path(args.out) / f"data{seed}"
        if not (root / "hidden" / "answers.csv").is_file():
            ctx = BuildContext(seed=seed, source="generated", edition="2022", scale="ci", shared_data=None,
                               release_dir=root / "release", hidden_dir=root / "hidden",
                               hidden_inputs_dir=root / "hidden_inputs")
            for d in (ctx.release_dir, ctx.hidden_dir, ctx.hidden_inputs_dir):
                d.mkdir(parents=True, exist_ok=True)
            data.build(ctx)
        n = len(grading.episode_seeds(root / "hidden")[1])
        # a fixed half of the episodes stands for the public board (the course draws its own split)
        boards[seed] = (root, np.random.default_rng(seed).permutation(n) % 2 == 0)
    release = boards[args.data_seeds[0]][0] / "release"
    for level in args.levels:
        for t in args.train_seeds:
            out = Path(args.out) / f"{level}-t{t}" / "policy.pt"
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.time()
            subprocess.run([sys.executable, str(REPO / f"reference_solutions/hw12/{level}.py"), "--data", str(release),
                            "--out", str(out), "--seed", str(t)], check=True, stdout=subprocess.DEVNULL)
            wall = time.time() - t0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            import torch
            values = {k: v.numpy() for k, v in torch.load(out, weights_only=True).items()}
            row = []
            for seed, (root, mask) in boards.items():
                r = grading.represent(values, root / "hidden")["reward"]
                row.append(f"d{seed} {r[mask].mean():7.1f}/{r[~mask].mean():7.1f}")
            print(f"{level:6s} train seed {t:4d}: " + "  ".join(row) + f"  ({cpu:.0f} s CPU, {wall:.0f} s wall)",
                  flush=True)


if __name__ == "__main__":
    main()
