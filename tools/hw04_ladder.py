"""HW4 ladder check: build the data, run the starter and the four reference levels, print accuracies.

    python tools/hw04_ladder.py [--seeds 1 2 3] [--levels starter simple medium strong boss]
                                [--threads 1] [--jobs 2] [--repeat] [--keep DIR]
                                [--set LEVEL:KEY=VALUE ...]

For every seed the HW4 builder writes release/ and hidden/ into a temp folder (ci scale); then the
starter notebook source (run as a script, GRADE_DATA_DIR / GRADE_OUTPUT_DIR set) and
reference_solutions/hw04/{simple,medium,strong,boss}.py each write an output.csv, `--jobs` of them at
a time (the calibration runs two in parallel, one thread each). The hidden answers are split 50/50
into a public and a private board (seeded by the data seed) and the accuracy of every run is printed
per board, with its wall and CPU seconds and the look-alike-pair accuracy (the right pair, either
member). --repeat runs everything twice and counts the predictions that differ. --set overrides a
Config field of medium, strong or boss (e.g. --set strong:d_model=80 boss:margin=0.3) to try a change.
"""
import argparse
import csv
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = ROOT / "assignments" / "hw04_self_attention"
LEVELS = ["simple", "medium", "strong", "boss"]


def load_builder():
    spec = importlib.util.spec_from_file_location("hw04_data", ASSIGNMENT / "data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build


def read_csv(path):
    with open(path, newline="") as f:
        return dict(list(csv.reader(f))[1:])


def run(name, data_dir, out_dir, threads, overrides=()):
    """Run the starter or one level; returns ({Id: Category}, wall seconds, CPU seconds)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), GRADE_DATA_DIR=str(data_dir), GRADE_OUTPUT_DIR=str(out_dir))
    if name == "starter":
        cmd = [sys.executable, str(ASSIGNMENT / "starter" / "hw04.py")]
    else:
        cmd = [sys.executable, str(ROOT / "reference_solutions" / "hw04" / f"{name}.py"),
               "--data", str(data_dir), "--out", str(out_dir / "output.csv")]
        if overrides:
            cmd += ["--set", *overrides]
    # time -f: the child's own CPU seconds (RUSAGE_CHILDREN would mix the runs of other threads)
    cmd = ["/usr/bin/time", "-f", "%U %S", "-o", str(out_dir / "cpu.txt")] + cmd
    start = time.perf_counter()
    result = subprocess.run(cmd, env=env, cwd=out_dir, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    cpu = sum(float(v) for v in (out_dir / "cpu.txt").read_text().split()[-2:])
    return read_csv(out_dir / "output.csv"), seconds, cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--levels", nargs="+", default=["starter"] + LEVELS)
    parser.add_argument("--repeat", action="store_true", help="run twice and compare predictions")
    parser.add_argument("--keep", help="work in this folder instead of a temp one (data is reused)")
    parser.add_argument("--set", nargs="*", default=[], metavar="LEVEL:KEY=VALUE",
                        help="override a Config field of a reference (not simple: it is the starter's code)")
    args = parser.parse_args()
    overrides = {}
    for item in args.set:
        level, change = item.split(":", 1)
        overrides.setdefault(level, []).append(change)

    build = load_builder()
    work = Path(args.keep or tempfile.mkdtemp(prefix="hw04_ladder_"))
    print(f"work dir {work}, OMP_NUM_THREADS={args.threads}, {args.jobs} runs at a time")
    print(f"{'seed':>4} {'level':8} {'public':>7} {'private':>7} {'pair':>6} {'wall_s':>7} {'cpu_s':>6}"
          + ("  repeat: rows that differ" if args.repeat else ""))
    for seed in args.seeds:
        case = work / f"seed-{seed}"
        if not (case / "hidden" / "answers.csv").is_file():
            ctx = SimpleNamespace(seed=seed, source="generated", edition="2022", scale="ci", shared_data=None,
                                  release_dir=case / "release", hidden_dir=case / "hidden",
                                  hidden_inputs_dir=case / "hidden_inputs", options={}, layout={})
            build(ctx)
        answers = read_csv(case / "hidden" / "answers.csv")
        ids = sorted(answers)
        truth = np.array([answers[i] for i in ids])
        public = np.random.default_rng(seed).permutation(len(ids)) < len(ids) // 2
        names = sorted(json.loads((case / "release" / "Dataset" / "mapping.json").read_text())["speaker2id"])
        pair_of = {n: k // 2 for k, n in enumerate(names)}   # the builder pairs speakers 2k and 2k+1

        def one(level):
            o = overrides.get(level, [])
            pred, seconds, cpu = run(level, case / "release", case / "out" / level, args.threads, o)
            again = run(level, case / "release", case / "out" / f"{level}-again", args.threads, o)[0] if args.repeat else None
            return level, pred, seconds, cpu, again

        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:   # longest first, as grade calibrate does
            order = sorted(args.levels, key=lambda n: -LEVELS.index(n) if n in LEVELS else 0)
            results = {r[0]: r for r in pool.map(one, order)}
        wall = time.perf_counter() - t0
        total_cpu = 0.0
        for level in args.levels:
            _, pred, seconds, cpu, again = results[level]
            total_cpu += cpu
            p = np.array([pred.get(i, "") for i in ids])
            acc = [(p[m] == truth[m]).mean() for m in (public, ~public)]
            pair = np.mean([pair_of.get(a) == pair_of[b] for a, b in zip(p, truth)])
            line = f"{seed:>4} {level:8} {acc[0]:7.4f} {acc[1]:7.4f} {pair:6.3f} {seconds:7.1f} {cpu:6.1f}"
            if again is not None:
                line += f"  {sum(again.get(i) != pred.get(i) for i in ids)}"
            print(line, flush=True)
        if "starter" in results and "simple" in results:
            differ = sum(results["starter"][1].get(i) != results["simple"][1].get(i) for i in ids)
            print(f"{'':14}starter vs simple: {differ} predictions differ")
        print(f"{'':14}ladder wall time {wall:.1f} s ({args.jobs} at a time), CPU time {total_cpu:.1f} s; "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
