"""HW1 ladder check: build the data, run the starter and the four reference levels, print MSEs.

    python tools/hw01_ladder.py [--sources generated real] [--seeds 1 2 3] [--edition 2022]
                                [--threads 1] [--repeat] [--keep DIR]

For every (source, seed) the HW1 builder writes release/ and hidden/ into a temp folder; then
the starter notebook source (run as a script, GRADE_DATA_DIR / GRADE_OUTPUT_DIR set) and
reference_solutions/hw01/{simple,medium,strong,boss}.py each write a pred.csv. The hidden
answers are split 50/50 into a public and a private board (seeded by the data seed) and the
MSE of every run is printed per board, with its wall time. --repeat runs everything twice
and reports the largest prediction difference between the two runs.
"""
import argparse
import csv
import importlib.util
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from sklearn.metrics import mean_squared_error

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = ROOT / "assignments" / "hw01_regression"
LEVELS = ["simple", "medium", "strong", "boss"]


def load_builder():
    spec = importlib.util.spec_from_file_location("hw01_data", ASSIGNMENT / "data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build


def read_column(path, column):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return np.array([int(r["id"]) for r in rows]), np.array([float(r[column]) for r in rows])


def run(name, data_dir, out_dir, threads):
    """Run the starter or one level; returns (predictions ordered by id, wall seconds, CPU seconds)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), GRADE_DATA_DIR=str(data_dir), GRADE_OUTPUT_DIR=str(out_dir))
    if name == "starter":
        cmd = [sys.executable, str(ASSIGNMENT / "starter" / "hw01.py")]
    else:
        cmd = [sys.executable, str(ROOT / "reference_solutions" / "hw01" / f"{name}.py"),
               "--data", str(data_dir), "--out", str(out_dir / "pred.csv")]
    cpu_before = _children_cpu()
    start = time.perf_counter()
    result = subprocess.run(cmd, env=env, cwd=out_dir, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    cpu = _children_cpu() - cpu_before
    if result.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{result.stdout}\n{result.stderr}")
    ids, preds = read_column(out_dir / "pred.csv", "tested_positive")
    return preds[np.argsort(ids)], seconds, cpu


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", nargs="+", default=["generated", "real"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--edition", default="2022")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--levels", nargs="+", default=["starter"] + LEVELS)
    parser.add_argument("--shared-data", default="/work/shared/data")
    parser.add_argument("--repeat", action="store_true", help="run twice and compare predictions")
    parser.add_argument("--keep", help="work in this folder instead of a temp one")
    args = parser.parse_args()

    build = load_builder()
    shared = Path(args.shared_data) if Path(args.shared_data).is_dir() else None
    work = Path(args.keep or tempfile.mkdtemp(prefix="hw01_ladder_"))
    print(f"work dir {work}, OMP_NUM_THREADS={args.threads}")
    print(f"{'source':10} {'seed':>4} {'level':8} {'public':>8} {'private':>8} {'all':>8} {'wall_s':>7} {'cpu_s':>6}"
          + ("  repeat max|diff|" if args.repeat else ""))

    for source in args.sources:
        if source == "real" and shared is None:
            print(f"skipping source real: {args.shared_data} not found")
            continue
        for seed in args.seeds:
            case = work / f"{source}-{args.edition}-{seed}"
            ctx = SimpleNamespace(seed=seed, source=source, edition=args.edition, scale="ci", shared_data=shared,
                                  release_dir=case / "release", hidden_dir=case / "hidden",
                                  hidden_inputs_dir=case / "hidden_inputs", options={})
            build(ctx)
            ids, answers = read_column(case / "hidden" / "answers.csv", "tested_positive")
            answers = answers[np.argsort(ids)]
            public = np.random.default_rng(seed).permutation(len(answers)) < len(answers) // 2
            total, total_cpu, preds = 0.0, 0.0, {}
            for level in args.levels:
                preds[level], seconds, cpu = run(level, case / "release", case / "out" / level, args.threads)
                total += seconds
                total_cpu += cpu
                mse = [mean_squared_error(answers[m], preds[level][m]) for m in (public, ~public, slice(None))]
                line = (f"{source:10} {seed:>4} {level:8} {mse[0]:8.4f} {mse[1]:8.4f} {mse[2]:8.4f}"
                        f" {seconds:7.1f} {cpu:6.1f}")
                if args.repeat:
                    again, _, _ = run(level, case / "release", case / "out" / f"{level}-again", args.threads)
                    line += f"  {np.abs(again - preds[level]).max():.2e}"
                print(line, flush=True)
            if "starter" in preds and "simple" in preds:
                print(f"{'':16}starter vs simple max|diff| {np.abs(preds['starter'] - preds['simple']).max():.2e}")
            print(f"{'':16}total wall time {total:.1f} s, CPU time {total_cpu:.1f} s", flush=True)


if __name__ == "__main__":
    main()
