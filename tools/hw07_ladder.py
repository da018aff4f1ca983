"""HW7 ladder check: build the data, run the starter and the four reference levels, print exact-match accuracy.

    python tools/hw07_ladder.py [--seeds 1 2 3] [--scale ci] [--jobs 2] [--threads 1]
                                [--levels starter simple medium strong boss] [--keep DIR]

For every seed the HW7 builder writes release/, hidden/ and hidden_inputs/ into a temp folder; then the
starter notebook source (run as a script, GRADE_DATA_DIR / GRADE_OUTPUT_DIR set) and
reference_solutions/hw07/{simple,medium,strong,boss}.py each write a result.csv, `--jobs` of them at a
time with `--threads` threads each (the way `grade calibrate` runs them: 2 jobs, 1 thread). The test
questions are split 50/50 into a public and a private board (seeded by the data seed, like the
platform's split but not the same permutation); every run's accuracy per board is printed with its wall
and CPU seconds, the gap to the level below, and the ladder's wall time per seed.
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

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = ROOT / "assignments" / "hw07_bert"
LEVELS = ["simple", "medium", "strong", "boss"]


def load_builder():
    spec = importlib.util.spec_from_file_location("hw07_data", ASSIGNMENT / "data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_answers(path):
    with open(path, newline="", encoding="utf-8") as f:
        return {r[0]: r[1] for r in list(csv.reader(f))[1:] if len(r) == 2}


def run(name, data_dir, out_dir, threads):
    """Run the starter or one level; returns (answers by id, wall seconds, CPU seconds)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), MPLBACKEND="Agg",
               GRADE_DATA_DIR=str(data_dir), GRADE_OUTPUT_DIR=str(out_dir))
    if name == "starter":
        cmd = [sys.executable, str(ASSIGNMENT / "starter" / "hw07.py")]
    else:
        cmd = [sys.executable, str(ROOT / "reference_solutions" / "hw07" / f"{name}.py"),
               "--data", str(data_dir), "--out", str(out_dir / "result.csv")]
    # wait4 gives this child's own rusage, so runs in parallel threads do not mix their CPU seconds.
    start = time.perf_counter()
    with open(out_dir / "stdout.txt", "w") as log:
        p = subprocess.Popen(cmd, env=env, cwd=out_dir, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(p.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{name} failed:\n{(out_dir / 'stdout.txt').read_text()[-3000:]}")
    return read_answers(out_dir / "result.csv"), seconds, usage.ru_utime + usage.ru_stime


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--scale", default="ci")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--levels", nargs="+", default=["starter"] + LEVELS)
    parser.add_argument("--keep", help="work in this folder instead of a temp one")
    args = parser.parse_args()

    data = load_builder()
    work = Path(args.keep or tempfile.mkdtemp(prefix="hw07_ladder_"))
    print(f"work dir {work}, {args.jobs} jobs x OMP_NUM_THREADS={args.threads}; load {os.getloadavg()[0]:.1f}")
    print(f"{'seed':>4} {'level':8} {'public':>7} {'private':>7} {'gap pub':>7} {'gap priv':>8} {'wall_s':>7} "
          f"{'cpu_s':>6}", flush=True)
    for seed in args.seeds:
        case = work / f"seed{seed}"
        if not (case / "hidden" / "answers.csv").is_file():
            data.build(SimpleNamespace(seed=seed, source="generated", edition="2022", scale=args.scale,
                                       shared_data=None, release_dir=case / "release", hidden_dir=case / "hidden",
                                       hidden_inputs_dir=case / "hidden_inputs", options={}, layout={}))
        gold = read_answers(case / "hidden" / "answers.csv")
        ids = list(gold)
        public = set(np.array(ids)[np.random.default_rng(seed).permutation(len(ids)) < len(ids) // 2])

        def one(level):
            return level, run(level, case / "release", case / "out" / level, args.threads)

        order = sorted(args.levels, key=lambda n: -LEVELS.index(n) if n in LEVELS else 0)  # longest first
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            results = dict(pool.map(one, order))
        ladder_wall = time.perf_counter() - start
        below, total_cpu = None, 0.0
        for level in args.levels:
            answers, seconds, cpu = results[level]
            total_cpu += cpu
            acc = [np.mean([answers.get(i) == gold[i] for i in ids if (i in public) == pub]) for pub in (True, False)]
            gaps = ["" if below is None else f"{a / b - 1:+.1%}" for a, b in zip(acc, below or acc)]
            print(f"{seed:>4} {level:8} {acc[0]:7.3f} {acc[1]:7.3f} {gaps[0]:>7} {gaps[1]:>8} {seconds:7.1f} "
                  f"{cpu:6.1f}", flush=True)
            if level in LEVELS:
                below = acc
        if "starter" in results and "simple" in results:
            same = np.mean([results["starter"][0].get(i) == results["simple"][0].get(i) for i in ids])
            print(f"{'':14}starter vs simple: {same:.1%} of the answers are the same")
        print(f"{'':14}ladder wall time {ladder_wall:.1f} s ({args.jobs} jobs), CPU time {total_cpu:.1f} s; "
              f"load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
