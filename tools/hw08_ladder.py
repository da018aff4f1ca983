"""HW8 ladder check: build the data, run the starter and the four reference levels, print ROC AUCs.

    python tools/hw08_ladder.py [--seeds 1 2 3] [--levels starter simple medium strong boss]
                                [--threads 1] [--jobs 2] [--repeat] [--keep DIR] [--kinds]

For every seed the HW8 builder writes release/ and hidden/ into a temp folder (ci scale); then the
starter notebook source (run as a script, GRADE_DATA_DIR / GRADE_OUTPUT_DIR set) and
reference_solutions/hw08/{simple,medium,strong,boss}.py each write a prediction.csv, `--jobs` of them
at a time (the calibration runs two in parallel, one thread each). The hidden answers are split 50/50
into a public and a private board (seeded by the data seed) and the ROC AUC of every run is printed per
board, with its wall and CPU seconds and the gap to the level below (the ladder needs 3 %). --kinds adds
the AUC of each anomaly kind against the normal test faces (hidden/kinds.csv). --repeat runs everything
twice and prints the largest score difference.
"""
import argparse
import csv
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = ROOT / "assignments" / "hw08_anomaly"
LEVELS = ["simple", "medium", "strong", "boss"]


def load_builder():
    spec = importlib.util.spec_from_file_location("hw08_data", ASSIGNMENT / "data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_csv(path):
    with open(path, newline="") as f:
        return {int(i): v for i, v in list(csv.reader(f))[1:]}


def run(name, data_dir, out_dir, threads):
    """Run the starter or one level; returns ({ID: score}, wall seconds, CPU seconds)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), GRADE_DATA_DIR=str(data_dir), GRADE_OUTPUT_DIR=str(out_dir))
    if name == "starter":
        cmd = [sys.executable, str(ASSIGNMENT / "starter" / "hw08.py")]
    else:
        cmd = [sys.executable, str(ROOT / "reference_solutions" / "hw08" / f"{name}.py"),
               "--data", str(data_dir), "--out", str(out_dir / "prediction.csv")]
    # time -f: the child's own CPU seconds (RUSAGE_CHILDREN would mix the runs of other threads)
    cmd = ["/usr/bin/time", "-f", "%U %S", "-o", str(out_dir / "cpu.txt")] + cmd
    start = time.perf_counter()
    result = subprocess.run(cmd, env=env, cwd=out_dir, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    cpu = sum(float(v) for v in (out_dir / "cpu.txt").read_text().split()[-2:])
    return {i: float(v) for i, v in read_csv(out_dir / "prediction.csv").items()}, seconds, cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--levels", nargs="+", default=["starter"] + LEVELS)
    parser.add_argument("--repeat", action="store_true", help="run twice and compare the scores")
    parser.add_argument("--kinds", action="store_true", help="also the AUC of every anomaly kind")
    parser.add_argument("--keep", help="work in this folder instead of a temp one (data is reused)")
    args = parser.parse_args()

    builder = load_builder()
    work = Path(args.keep or tempfile.mkdtemp(prefix="hw08_ladder_"))
    print(f"work dir {work}, OMP_NUM_THREADS={args.threads}, {args.jobs} runs at a time")
    for seed in args.seeds:
        case = work / f"seed-{seed}"
        if not (case / "hidden" / "answers.csv").is_file():
            ctx = SimpleNamespace(seed=seed, source="generated", edition="2022", scale="ci", shared_data=None,
                                  release_dir=case / "release", hidden_dir=case / "hidden",
                                  hidden_inputs_dir=case / "hidden_inputs", options={}, layout={})
            t0 = time.perf_counter()
            builder.build(ctx)
            print(f"seed {seed}: data built in {time.perf_counter() - t0:.1f} s")
        labels = read_csv(case / "hidden" / "answers.csv")
        kinds = read_csv(case / "hidden" / "kinds.csv")
        ids = sorted(labels)
        truth = np.array([int(labels[i]) for i in ids])
        kind = np.array([kinds[i] for i in ids])
        public = np.random.default_rng(seed).permutation(len(ids)) < len(ids) // 2

        def one(level):
            pred, seconds, cpu = run(level, case / "release", case / "out" / level, args.threads)
            again = run(level, case / "release", case / "out" / f"{level}-again", args.threads)[0] if args.repeat else None
            return level, pred, seconds, cpu, again

        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:   # longest first, as grade calibrate does
            order = sorted(args.levels, key=lambda n: -LEVELS.index(n) if n in LEVELS else 0)
            results = {r[0]: r for r in pool.map(one, order)}
        wall = time.perf_counter() - t0
        header = f"{'seed':>4} {'level':8} {'public':>7} {'private':>7} {'gap':>6} {'wall_s':>7} {'cpu_s':>6}"
        if args.kinds:
            header += "  " + " ".join(f"{k[:10]:>10}" for k in builder.KINDS)
        print(header)
        total_cpu, below = 0.0, None
        for level in args.levels:
            _, pred, seconds, cpu, again = results[level]
            total_cpu += cpu
            p = np.array([pred[i] for i in ids])
            auc = [roc_auc_score(truth[m], p[m]) for m in (public, ~public)]
            gap = "" if below is None or level == "starter" else f"{min(a / b - 1 for a, b in zip(auc, below)):+6.1%}"
            line = f"{seed:>4} {level:8} {auc[0]:7.4f} {auc[1]:7.4f} {gap:>6} {seconds:7.1f} {cpu:6.1f}"
            if args.kinds:
                normal = kind == "normal"
                line += "  " + " ".join(
                    f"{roc_auc_score(np.r_[np.zeros(normal.sum()), np.ones((kind == k).sum())], np.r_[p[normal], p[kind == k]]):10.3f}"
                    for k in builder.KINDS)
            if again is not None:
                line += f"  repeat: max |diff| {max(abs(again[i] - pred[i]) for i in ids):.2g}"
            print(line, flush=True)
            if level != "starter":
                below = auc
        if "starter" in results and "simple" in results:
            diff = max(abs(results["starter"][1][i] - results["simple"][1][i]) for i in ids)
            print(f"{'':14}starter vs simple: largest score difference {diff:.3g}")
        print(f"{'':14}ladder wall time {wall:.1f} s ({args.jobs} at a time), CPU time {total_cpu:.1f} s; "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
