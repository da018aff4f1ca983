"""Ladder check of a homework whose submission is an `id,label` CSV of class predictions (HW3, HW11):
build the data, run the starter and the four reference levels, print accuracies per board.

    python tools/hwNN_ladder.py [--seeds 1 2 3] [--scale ci] [--jobs 2] [--threads 1]
                                [--levels starter simple medium strong boss] [--repeat] [--keep DIR]
    python tools/hwNN_ladder.py --course-data COURSE/data/hwNN     # a prepared course's data and split

For every seed the homework's builder writes release/ and hidden/ into a temp folder; then the starter
notebook source (run as a script, GRADE_DATA_DIR / GRADE_OUTPUT_DIR set) and
reference_solutions/hwNN/{simple,medium,strong,boss}.py each write the submission file, `--jobs` of
them at a time with `--threads` threads each (the way `grade calibrate` runs them: 2 jobs, 1
thread). The hidden answers are split 50/50 into a public and a private board (seeded by the data
seed) and the accuracy of every run is printed per board, with its wall and CPU seconds; the
ladder's wall time is printed per seed. --course-data uses a prepared course's release, answers and
public/private split instead (so the numbers are those `grade verify` shows, with CPU seconds).
--repeat runs every level twice and reports how many predictions differ between the two runs.
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
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LEVELS = ["simple", "medium", "strong", "boss"]


@dataclass(frozen=True)
class Homework:
    short: str                  # hw03
    folder: str                 # assignments/<folder>
    output: str                 # the submission file a run writes
    id_column: str
    label_column: str
    numeric_ids: bool = False   # sort ids as numbers (1, 2, 10), not as text ("0001", "0002")

    @property
    def assignment(self) -> Path:
        return ROOT / "assignments" / self.folder


def load_builder(hw: Homework):
    spec = importlib.util.spec_from_file_location(f"{hw.short}_data", hw.assignment / "data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build


def read_submission(hw: Homework, path):
    key = int if hw.numeric_ids else str
    with open(path, newline="") as f:
        rows = sorted((key(r[hw.id_column]), int(r[hw.label_column])) for r in csv.DictReader(f))
    return np.array([c for _, c in rows])


def run(hw: Homework, name, data_dir, out_dir, threads):
    """Run the starter or one level; returns (predictions ordered by id, wall seconds, CPU seconds)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               GRADE_DATA_DIR=str(data_dir), GRADE_OUTPUT_DIR=str(out_dir))
    if name == "starter":
        cmd = [sys.executable, str(hw.assignment / "starter" / f"{hw.short}.py")]
    else:
        cmd = [sys.executable, str(ROOT / "reference_solutions" / hw.short / f"{name}.py"),
               "--data", str(data_dir), "--out", str(out_dir / hw.output)]
    # /usr/bin/time-style accounting per child: wait4 gives this child's own rusage, so runs in
    # parallel threads do not mix their CPU seconds.
    start = time.perf_counter()
    with open(out_dir / "stdout.txt", "w") as log:
        p = subprocess.Popen(cmd, env=env, cwd=out_dir, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(p.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{name} failed:\n{(out_dir / 'stdout.txt').read_text()[-3000:]}")
    return read_submission(hw, out_dir / hw.output), seconds, usage.ru_utime + usage.ru_stime


def main(hw: Homework, doc: str = __doc__):
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--scale", default="ci")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--levels", nargs="+", default=["starter"] + LEVELS)
    parser.add_argument("--repeat", action="store_true", help="run twice and compare predictions")
    parser.add_argument("--keep", help="work in this folder instead of a temp one")
    parser.add_argument("--course-data", help=f"a prepared course's data/{hw.short} folder (release/, hidden/)")
    args = parser.parse_args()

    build = load_builder(hw)
    work = Path(args.keep or tempfile.mkdtemp(prefix=f"{hw.short}_ladder_"))
    print(f"work dir {work}, {args.jobs} jobs x OMP_NUM_THREADS={args.threads}; load {os.getloadavg()[0]:.1f}")
    print(f"{'seed':>4} {'level':8} {'public':>7} {'private':>7} {'all':>7} {'wall_s':>7} {'cpu_s':>6}"
          + ("  repeat rows differ" if args.repeat else ""), flush=True)

    cases = [(0, Path(args.course_data))] if args.course_data else [(seed, work / f"seed{seed}") for seed in args.seeds]
    for seed, case in cases:
        out_root = work / "course" if args.course_data else case / "out"
        if not (case / "hidden" / "answers.csv").is_file():
            ctx = SimpleNamespace(seed=seed, source="generated", edition="2022", scale=args.scale, shared_data=None,
                                  release_dir=case / "release", hidden_dir=case / "hidden",
                                  hidden_inputs_dir=case / "hidden_inputs", options={}, layout={})
            build(ctx)
        answers = read_submission(hw, case / "hidden" / "answers.csv")
        if args.course_data:   # the course's own split (answers in id order)
            public = np.load(case / "hidden" / "public.npy", allow_pickle=False)
        else:
            public = np.random.default_rng(seed).permutation(len(answers)) < len(answers) // 2

        def one(level):
            out = run(hw, level, case / "release", out_root / level, args.threads)
            again = (run(hw, level, case / "release", out_root / f"{level}-again", args.threads)[0]
                     if args.repeat else None)
            return level, out, again

        # longest first, as grade calibrate does
        order = sorted(args.levels, key=lambda n: -LEVELS.index(n) if n in LEVELS else 0)
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            results = {lv: (out, again) for lv, out, again in pool.map(one, order)}
        ladder_wall = time.perf_counter() - start
        total_cpu = 0.0
        for level in args.levels:
            (preds, seconds, cpu), again = results[level]
            total_cpu += cpu
            acc = [float((preds[m] == answers[m]).mean()) for m in (public, ~public, slice(None))]
            line = f"{seed:>4} {level:8} {acc[0]:7.4f} {acc[1]:7.4f} {acc[2]:7.4f} {seconds:7.1f} {cpu:6.1f}"
            if again is not None:
                line += f"  {int((again != preds).sum())}"
            print(line, flush=True)
        if "starter" in results and "simple" in results:
            differ = int((results["starter"][0][0] != results["simple"][0][0]).sum())
            print(f"{'':14}starter vs simple: {differ} predictions differ")
        print(f"{'':14}ladder wall time {ladder_wall:.1f} s ({args.jobs} jobs), CPU time {total_cpu:.1f} s; "
              f"load {os.getloadavg()[0]:.1f}", flush=True)

