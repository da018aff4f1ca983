"""HW10 ladder check: build the data, run the starter and the four reference levels, print the TA's accuracy.

    python tools/hw10_ladder.py [--seeds 1 2 3] [--scale ci] [--jobs 2] [--threads 1]
                                [--levels starter simple medium strong boss] [--repeat] [--keep DIR]

For every seed the HW10 builder writes release/ and hidden/ into a temp folder (the proxy zoo and the
TA's models are trained then, one thread); then the starter notebook source (run as a script,
GRADE_DATA_DIR / GRADE_OUTPUT_DIR set) and reference_solutions/hw10/{simple,medium,strong,boss}.py each
write a submission.tgz, `--jobs` of them at a time with `--threads` threads each (the way `grade
calibrate` runs them: 2 jobs, 1 thread). Each archive is checked against the epsilon rule and judged
by the TA ensemble of assignments/hw10_attack/grading.py; its accuracy (lower is better) is printed on
a 50/50 public/private split (seeded by the data seed) with the run's wall and CPU seconds. --repeat runs
every level twice and reports how many images differ between the two runs.
"""
import argparse
import importlib.util
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
ASSIGNMENT = ROOT / "assignments" / "hw10_attack"
LEVELS = ["simple", "medium", "strong", "boss"]
sys.path.insert(0, str(ROOT))


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_archive(path, ids):
    """The archive's images in answers order, through the platform's validator (in memory, bomb-safe)."""
    from grader.spec import load_spec
    from grader.scoring.validate import validate

    spec = load_spec(ASSIGNMENT)
    checked = validate(Path(path).read_bytes(), Path(path).name, spec.submission, ids)
    order = {n: k for k, n in enumerate(checked.ids.tolist())}
    return checked.values[[order[i] for i in ids.tolist()]]


def run(name, data_dir, out_dir, threads):
    """Run the starter or one level; returns (submission path, wall seconds, CPU seconds)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               GRADE_DATA_DIR=str(data_dir), GRADE_OUTPUT_DIR=str(out_dir), MPLBACKEND="Agg")
    if name == "starter":
        cmd = [sys.executable, str(ASSIGNMENT / "starter" / "hw10.py")]
    else:
        cmd = [sys.executable, str(ROOT / "reference_solutions" / "hw10" / f"{name}.py"),
               "--data", str(data_dir), "--out", str(out_dir / "submission.tgz")]
    # wait4 gives this child's own rusage, so runs in parallel threads do not mix their CPU seconds.
    start = time.perf_counter()
    with open(out_dir / "stdout.txt", "w") as log:
        p = subprocess.Popen(cmd, env=env, cwd=out_dir, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(p.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{name} failed:\n{(out_dir / 'stdout.txt').read_text()[-3000:]}")
    return out_dir / "submission.tgz", seconds, usage.ru_utime + usage.ru_stime


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--scale", default="ci")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--levels", nargs="+", default=["starter"] + LEVELS)
    parser.add_argument("--repeat", action="store_true", help="run twice and compare the images")
    parser.add_argument("--keep", help="work in this folder instead of a temp one")
    args = parser.parse_args()

    data = load("hw10_data", ASSIGNMENT / "data.py")
    grading = load("hw10_grading", ASSIGNMENT / "grading.py")
    work = Path(args.keep or tempfile.mkdtemp(prefix="hw10_ladder_"))
    print(f"work dir {work}, {args.jobs} jobs x OMP_NUM_THREADS={args.threads}; load {os.getloadavg()[0]:.1f}")
    print(f"{'seed':>4} {'level':8} {'public':>7} {'private':>7} {'all':>7} {'wall_s':>7} {'cpu_s':>6}"
          + ("  repeat images differ" if args.repeat else ""), flush=True)
    for seed in args.seeds:
        case = work / f"seed{seed}"
        if not (case / "hidden" / "answers.csv").is_file():
            ctx = SimpleNamespace(seed=seed, source="generated", edition="2022", scale=args.scale, shared_data=None,
                                  release_dir=case / "release", hidden_dir=case / "hidden",
                                  hidden_inputs_dir=case / "hidden_inputs", options={}, layout={})
            t0, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
            data.build(ctx)
            r1 = resource.getrusage(resource.RUSAGE_SELF)
            print(f"{seed:>4} build    wall {time.perf_counter() - t0:.1f} s, CPU "
                  f"{r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime:.1f} s", flush=True)
        rows = [ln.split(",") for ln in (case / "hidden" / "answers.csv").read_text().splitlines()[1:]]
        ids = np.array([r[0] for r in rows], dtype=object)
        labels = np.array([int(r[1]) for r in rows])
        public = np.random.default_rng(seed).permutation(len(ids)) < len(ids) // 2

        def one(level):
            out = run(level, case / "release", case / "out" / level, args.threads)
            again = run(level, case / "release", case / "out" / f"{level}-again", args.threads) if args.repeat else None
            return level, out, again

        order = sorted(args.levels, key=lambda n: -LEVELS.index(n) if n in LEVELS else 0)  # longest first
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            results = {lv: (out, again) for lv, out, again in pool.map(one, order)}
        ladder_wall = time.perf_counter() - start
        total_cpu, pixels = 0.0, {}
        for level in args.levels:
            (path, seconds, cpu), again = results[level]
            total_cpu += cpu
            images = read_archive(path, ids)
            pixels[level] = images
            problems = grading.check(images, ids, case / "hidden")
            correct = grading.represent(images, case / "hidden")["predicted"] == labels
            acc = [float(correct[m].mean()) for m in (public, ~public, slice(None))]
            line = f"{seed:>4} {level:8} {acc[0]:7.4f} {acc[1]:7.4f} {acc[2]:7.4f} {seconds:7.1f} {cpu:6.1f}"
            if again is not None:
                line += f"  {int((read_archive(again[0], ids) != images).any(axis=(1, 2, 3)).sum())}"
            print(line + (f"  REJECTED: {problems[0][:200]}" if problems else ""), flush=True)
        if "starter" in pixels and "simple" in pixels:
            differ = int((pixels["starter"] != pixels["simple"]).any(axis=(1, 2, 3)).sum())
            print(f"{'':14}starter vs simple: {differ} images differ")
        print(f"{'':14}ladder wall time {ladder_wall:.1f} s ({args.jobs} jobs), CPU time {total_cpu:.1f} s; "
              f"load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
