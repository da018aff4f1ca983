"""Per-run overhead of the sandbox backends (a script that prints numbers, not a test).

    python benchmarks/sandbox_overhead.py [--runs 20]

bwrap backend vs a bare ``python -c pass`` on the host (target <= 1.5x), and the
docker backend vs a bare ``docker run --rm IMAGE python3 -c pass`` (target <= 1.2x).
Both sides run the same interpreter and program, so the ratio is what the sandbox adds;
the two are timed in alternation, so load from elsewhere weighs on both alike.
"""

from __future__ import annotations

import argparse
import atexit
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grader.sandbox import Job, Limits  # noqa: E402
from grader.sandbox.bwrap import BwrapSandbox  # noqa: E402
from grader.sandbox.docker import DEFAULT_IMAGE, DockerSandbox  # noqa: E402

LIMITS = Limits(wall_s=60, memory_mb=512, cpus=1, pids=64, output_mb=8)


def timed_pair(bare, boxed, runs: int) -> tuple[float, float]:
    """Medians of ``runs`` timings of each, taken in alternation (order flipped every round)
    so that load from elsewhere on the machine weighs on both sides alike."""
    bare()  # warm caches (page cache, docker image layers)
    boxed()
    samples: dict = {bare: [], boxed: []}
    for i in range(runs):
        for fn in ((bare, boxed) if i % 2 == 0 else (boxed, bare)):
            t = time.perf_counter()
            fn()
            samples[fn].append(time.perf_counter() - t)
    return statistics.median(samples[bare]), statistics.median(samples[boxed])


def sandbox_runner(sb, python: str):
    out = Path(tempfile.mkdtemp(prefix="grader-bench-"))
    atexit.register(shutil.rmtree, out, True)

    def run() -> None:
        res = sb.run(Job(command=[python, "-c", "pass"], output_dir=out, limits=LIMITS))
        if res.status != "ok":
            raise SystemExit(f"{sb.name} run failed: {res.status} {res.message} {res.stderr_tail}")
    return run


def report(name: str, base: float, boxed: float, target: float) -> None:
    ratio = boxed / base
    verdict = "OK" if ratio <= target else "OVER TARGET"
    print(f"{name:8} bare {base * 1000:8.1f} ms   sandboxed {boxed * 1000:8.1f} ms   "
          f"ratio {ratio:5.2f}x  (target <= {target}x: {verdict})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--skip-docker", action="store_true")
    args = ap.parse_args()

    bw = BwrapSandbox()
    ok, why = bw.available()
    if ok:
        bare, boxed = timed_pair(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True),
                                 sandbox_runner(bw, "python"), args.runs)
        report("bwrap", bare, boxed, 1.5)
        print(f"         ({why}; absolute overhead {(boxed - bare) * 1000:.1f} ms per run)")
    else:
        print(f"bwrap    unavailable: {why}")

    if args.skip_docker:
        return
    dk = DockerSandbox()
    ok, why = dk.available()
    if ok:
        bare_cmd = ["docker", "run", "--rm", "--network", "none", DEFAULT_IMAGE, "python3", "-c", "pass"]
        bare, boxed = timed_pair(lambda: subprocess.run(bare_cmd, check=True, capture_output=True),
                                 sandbox_runner(dk, "python3"), args.runs)
        report("docker", bare, boxed, 1.2)
        print(f"         (absolute overhead {(boxed - bare) * 1000:.1f} ms per run)")
    else:
        print(f"docker   unavailable: {why}")


if __name__ == "__main__":
    main()
