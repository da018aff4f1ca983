"""HW6 ladder check: build the data, run the starter and the four reference levels, print FID and AFD.

    python tools/hw06_ladder.py [--seeds 1 2 3] [--scale ci] [--jobs 2] [--threads 1]
                                [--levels starter simple medium strong boss] [--repeat] [--keep DIR]

For every seed the HW6 builder writes release/, hidden/ and hidden_inputs/ into a temp folder (plus the
black sample_submission.tgz the platform would add); then the starter notebook source (run as a script,
GRADE_DATA_DIR / GRADE_OUTPUT_DIR set) and reference_solutions/hw06/{simple,medium,strong,boss}.py each
write an images.tgz, `--jobs` of them at a time with `--threads` threads each (the way `grade calibrate`
runs them: 2 jobs, 1 thread). The slots are split 50/50 into a public and a private board (seeded by the
data seed); every run's FID and AFD are printed per board, from the hidden judges of grading.py, with its
wall and CPU seconds, and the ladder's wall time per seed. --repeat runs every level twice and reports the
largest pixel difference between the two runs.
"""
import argparse
import importlib.util
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = ROOT / "assignments" / "hw06_gan"
LEVELS = ["simple", "medium", "strong", "boss"]
sys.path.insert(0, str(ROOT))


def load(name):
    spec = importlib.util.spec_from_file_location(f"hw06_{name}", ASSIGNMENT / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_images(path):
    """Images of a .tgz in slot order (1.png, 2.png, …) as uint8 (N, H, W, 3)."""
    from PIL import Image

    with tarfile.open(path) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    names = sorted(files, key=lambda n: int(n.split(".")[0]))
    return np.stack([np.asarray(Image.open(io.BytesIO(files[n])).convert("RGB")) for n in names])


def run(name, data_dir, out_dir, threads):
    """Run the starter or one level; returns (images, wall seconds, CPU seconds)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), MPLBACKEND="Agg",
               GRADE_DATA_DIR=str(data_dir), GRADE_OUTPUT_DIR=str(out_dir))
    if name == "starter":
        cmd = [sys.executable, str(ASSIGNMENT / "starter" / "hw06.py")]
    else:
        cmd = [sys.executable, str(ROOT / "reference_solutions" / "hw06" / f"{name}.py"),
               "--data", str(data_dir), "--out", str(out_dir / "images.tgz")]
    # wait4 gives this child's own rusage, so runs in parallel threads do not mix their CPU seconds.
    start = time.perf_counter()
    with open(out_dir / "stdout.txt", "w") as log:
        p = subprocess.Popen(cmd, env=env, cwd=out_dir, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(p.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{name} failed:\n{(out_dir / 'stdout.txt').read_text()[-3000:]}")
    return read_images(out_dir / "images.tgz"), seconds, usage.ru_utime + usage.ru_stime


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

    from grader.scoring.archive import write_archive
    from grader.scoring.metrics import METRICS

    data, grading = load("data"), load("grading")
    work = Path(args.keep or tempfile.mkdtemp(prefix="hw06_ladder_"))
    print(f"work dir {work}, {args.jobs} jobs x OMP_NUM_THREADS={args.threads}; load {os.getloadavg()[0]:.1f}")
    print(f"{'seed':>4} {'level':8} {'FID pub':>8} {'FID priv':>8} {'AFD pub':>7} {'AFD priv':>8} {'wall_s':>7} "
          f"{'cpu_s':>6}" + ("  repeat max pixel diff" if args.repeat else ""), flush=True)

    for seed in args.seeds:
        case = work / f"seed{seed}"
        if not (case / "hidden" / "answers.csv").is_file():
            ctx = SimpleNamespace(seed=seed, source="generated", edition="2022", scale=args.scale, shared_data=None,
                                  release_dir=case / "release", hidden_dir=case / "hidden",
                                  hidden_inputs_dir=case / "hidden_inputs", options={}, layout={})
            t0, c0 = time.perf_counter(), time.process_time()
            data.build(ctx)
            n = sum(1 for _ in open(case / "hidden" / "answers.csv")) - 1
            size = data.SCALES[args.scale]["size"]
            (case / "release" / "sample_submission.tgz").write_bytes(
                write_archive({f"{k}.png": np.zeros((size, size, 3), np.uint8) for k in range(1, n + 1)}))
            print(f"{seed:>4} build    wall {time.perf_counter() - t0:.1f} s, CPU {time.process_time() - c0:.1f} s",
                  flush=True)
        reference = np.load(case / "hidden" / "fid_reference.npy")
        ev, det = grading.judges(case / "hidden")

        def one(level):
            out = run(level, case / "release", case / "out" / level, args.threads)
            again = run(level, case / "release", case / "out" / f"{level}-again", args.threads)[0] if args.repeat else None
            return level, out, again

        order = sorted(args.levels, key=lambda n: -LEVELS.index(n) if n in LEVELS else 0)  # longest first
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            results = {lv: (out, again) for lv, out, again in pool.map(one, order)}
        ladder_wall = time.perf_counter() - start
        total_cpu = 0.0
        for level in args.levels:
            (imgs, seconds, cpu), again = results[level]
            total_cpu += cpu
            public = np.random.default_rng(seed).permutation(len(imgs)) < len(imgs) // 2
            judged = grading.run_judges(ev, det, imgs)
            fid = [METRICS["fid"](reference, judged["features"][m]) for m in (public, ~public)]
            afd = [float(judged["face"][m].mean()) for m in (public, ~public)]
            line = (f"{seed:>4} {level:8} {fid[0]:8.1f} {fid[1]:8.1f} {afd[0]:7.3f} {afd[1]:8.3f} {seconds:7.1f} "
                    f"{cpu:6.1f}")
            if again is not None:
                line += f"  {int(np.abs(again.astype(int) - imgs.astype(int)).max())}"
            print(line, flush=True)
        if "starter" in results and "simple" in results:
            diff = int(np.abs(results["starter"][0][0].astype(int) - results["simple"][0][0].astype(int)).max())
            print(f"{'':14}starter vs simple: largest pixel difference {diff}")
        print(f"{'':14}ladder wall time {ladder_wall:.1f} s ({args.jobs} jobs), CPU time {total_cpu:.1f} s; "
              f"load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
