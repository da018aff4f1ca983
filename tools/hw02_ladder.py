"""HW2 ladder check: build the data, run the starter and the four reference levels, print accuracies.

    python tools/hw02_ladder.py [--seeds 1 2 3] [--scale ci] [--levels starter simple ...]
                                [--threads 1] [--jobs 1] [--repeat] [--keep DIR]

For every seed the HW2 builder writes release/ and hidden/ into a temp folder; then the starter
notebook source (run as a script, GRADE_DATA_DIR / GRADE_OUTPUT_DIR set) and
reference_solutions/hw02/{simple,medium,strong,boss}.py each write a prediction.csv. The hidden
answers are split 50/50 into a public and a private board (seeded by the data seed) and the
accuracy of every run is printed per board, with its wall and CPU seconds. --jobs 2 runs two at a
time, longest first, as `grade calibrate` does. --repeat runs everything twice and counts the
frames whose predicted class changed.
"""
import argparse
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

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = ROOT / "assignments" / "hw02_classification"
LEVELS = ["simple", "medium", "strong", "boss"]


def load_builder():
    spec = importlib.util.spec_from_file_location("hw02_data", ASSIGNMENT / "data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build


def read_classes(path):
    """Classes ordered by Id from an Id,Class file."""
    rows = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.int64, ndmin=2)
    return rows[np.argsort(rows[:, 0]), 1]


def run(name, data_dir, out_dir, threads):
    """Run the starter or one level; returns (classes ordered by Id, wall seconds, CPU seconds)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), GRADE_DATA_DIR=str(data_dir), GRADE_OUTPUT_DIR=str(out_dir))
    if name == "starter":
        cmd = [sys.executable, str(ASSIGNMENT / "starter" / "hw02.py")]
    else:
        cmd = [sys.executable, str(ROOT / "reference_solutions" / "hw02" / f"{name}.py"),
               "--data", str(data_dir), "--out", str(out_dir / "prediction.csv")]
    # os.wait4 gives this child's own CPU time, also when several run at once
    start = time.perf_counter()
    with open(out_dir / "log.txt", "w") as log:
        proc = subprocess.Popen(cmd, env=env, cwd=out_dir, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{name} failed:\n{(out_dir / 'log.txt').read_text()[-3000:]}")
    return read_classes(out_dir / "prediction.csv"), seconds, usage.ru_utime + usage.ru_stime


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--scale", default="ci")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--levels", nargs="+", default=["starter"] + LEVELS)
    parser.add_argument("--repeat", action="store_true", help="run twice and compare predictions")
    parser.add_argument("--keep", help="work in this folder instead of a temp one")
    args = parser.parse_args()

    build = load_builder()
    work = Path(args.keep or tempfile.mkdtemp(prefix="hw02_ladder_"))
    print(f"work dir {work}, OMP_NUM_THREADS={args.threads}, jobs={args.jobs}, load {os.getloadavg()[0]:.1f}")
    print(f"{'seed':>4} {'level':8} {'public':>8} {'private':>8} {'all':>8} {'wall_s':>7} {'cpu_s':>6}"
          + ("  repeat changed" if args.repeat else ""))

    for seed in args.seeds:
        case = work / f"{args.scale}-{seed}"
        if not (case / "hidden" / "answers.csv").is_file():
            ctx = SimpleNamespace(seed=seed, source="generated", edition="2022", scale=args.scale, shared_data=None,
                                  release_dir=case / "release", hidden_dir=case / "hidden",
                                  hidden_inputs_dir=case / "hidden_inputs", options={}, layout={})
            t0 = time.perf_counter()
            build(ctx)
            print(f"{seed:>4} built the data in {time.perf_counter() - t0:.1f} s")
        answers = read_classes(case / "hidden" / "answers.csv")
        public = np.random.default_rng(seed).permutation(len(answers)) < len(answers) // 2

        def one(level):
            preds, seconds, cpu = run(level, case / "release", case / "out" / level, args.threads)
            again = run(level, case / "release", case / "out" / f"{level}-again", args.threads)[0] if args.repeat else None
            return level, preds, seconds, cpu, again

        order = sorted(args.levels, key=lambda n: -LEVELS.index(n) if n in LEVELS else 0)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            results = {r[0]: r for r in pool.map(one, order)}
        wall = time.perf_counter() - t0
        total_cpu = 0.0
        for level in args.levels:
            _, preds, seconds, cpu, again = results[level]
            total_cpu += cpu
            acc = [float((preds[m] == answers[m]).mean()) for m in (public, ~public, slice(None))]
            line = f"{seed:>4} {level:8} {acc[0]:8.4f} {acc[1]:8.4f} {acc[2]:8.4f} {seconds:7.1f} {cpu:6.1f}"
            if again is not None:
                line += f"  {int((again != preds).sum())}"
            print(line, flush=True)
        if "starter" in results and "simple" in results:
            print(f"{'':14}starter vs simple: {int((results['starter'][1] != results['simple'][1]).sum())} frames differ")
        print(f"{'':14}ladder wall time {wall:.1f} s ({args.jobs} at a time), CPU time {total_cpu:.1f} s, "
              f"load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
