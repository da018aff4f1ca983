"""HW13 ladder across data seeds: builds the ci data for each seed, runs the four references one at a
time (one thread each) and prints the accuracy on the public / private halves and on all evaluation
images, the teacher's accuracy, and the CPU seconds of each run.

    OMP_NUM_THREADS=1 python tools/hw13_ladder.py 1 2 3 [--out /tmp/hw13-ladder]
"""
import argparse
import csv
import importlib.util
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
LEVELS = ("simple", "medium", "strong", "boss")


def builder():
    spec = importlib.util.spec_from_file_location("hw13_data", REPO / "assignments/hw13_compression/data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def accuracy(answers: Path, pred: Path, mask=None):
    truth = {r[0]: r[1] for r in list(csv.reader(open(answers)))[1:]}
    got = {r[0]: r[1] for r in list(csv.reader(open(pred)))[1:]}
    ids = sorted(truth)
    hit = np.array([truth[i] == got.get(i) for i in ids])
    return hit.mean() if mask is None else (hit[mask].mean(), hit[~mask].mean())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("seeds", nargs="+", type=int)
    ap.add_argument("--out", default="/tmp/hw13-ladder")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    from grader.data import BuildContext
    data = builder()
    for seed in args.seeds:
        root = Path(args.out) / f"seed{seed}"
        if not (root / "hidden" / "answers.csv").is_file():
            ctx = BuildContext(seed=seed, source="generated", edition="2022", scale="ci", shared_data=None,
                               release_dir=root / "release", hidden_dir=root / "hidden",
                               hidden_inputs_dir=root / "hidden_inputs")
            t = time.time()
            data.build(ctx)
            print(f"seed {seed}: built in {time.time() - t:.0f} s")
        # a fixed half of the ids stands for the public board (the course draws its own split)
        mask = np.random.default_rng(seed).permutation(len(list(csv.reader(open(root / "hidden/answers.csv")))) - 1) % 2 == 0
        row = []
        for level in LEVELS:
            out = root / level / "submission.csv"
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.time()
            subprocess.run([sys.executable, str(REPO / f"reference_solutions/hw13/{level}.py"), "--data",
                            str(root / "release"), "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            pub, priv = accuracy(root / "hidden/answers.csv", out, mask)
            row.append(f"{level} {pub:.3f}/{priv:.3f} ({cpu:.0f} s CPU, {time.time() - t:.0f} s wall)")
        print(f"seed {seed}: " + "; ".join(row), flush=True)


if __name__ == "__main__":
    main()
