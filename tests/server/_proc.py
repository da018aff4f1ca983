"""Real `grade serve` / `grade worker` processes on 127.0.0.1 for the rush and crash tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

from ..conftest import TOY_ROOT, pred_path

NOW = "2022-02-20T10:00:00"  # the server's clock: before the toy deadline


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env(course, toy: bool = True) -> dict:
    out = dict(os.environ, GRADE_NOW=NOW, GRADE_COURSE=str(course.root), PYTHONUNBUFFERED="1")
    if toy:
        out["GRADE_ASSIGNMENTS"] = str(TOY_ROOT)
    else:
        out.pop("GRADE_ASSIGNMENTS", None)
    return out


class Proc:
    """A `grade …` child process in its own session (so kill -9 takes nothing else with it)."""

    def __init__(self, course, *args: str, log: Path, toy: bool = True) -> None:
        self.course, self.args, self.log, self.toy, self.p = course, args, log, toy, None

    def start(self) -> "Proc":
        out = open(self.log, "ab")
        self.p = subprocess.Popen([sys.executable, "-c", "from grader.cli import main; main()", *self.args],
                                  env=env(self.course, self.toy), stdout=out, stderr=out, start_new_session=True)
        out.close()
        return self

    def kill9(self) -> None:
        if self.p and self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait(timeout=10)

    def stop(self) -> None:
        if self.p and self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill9()


def serve(course, port: int, log: Path, *extra: str, toy: bool = True) -> Proc:
    return Proc(course, "serve", "--port", str(port), *extra, log=log, toy=toy).start()


def wait_healthy(url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not come up in {timeout_s} s")


def variants(course, level: str, n: int, offset: int = 0) -> list[bytes]:
    """n distinct valid files (a level's predictions nudged by micro-units)."""
    arr = np.loadtxt(pred_path(course, level), delimiter=",", skiprows=1)
    out = []
    for k in range(offset, offset + n):
        vals = arr[:, 1] + k * 1e-6
        out.append(("id,y\n" + "".join(f"{int(i)},{v:.6f}\n" for i, v in zip(arr[:, 0], vals))).encode())
    return out


def roster(course, tmp_path, n: int) -> dict[str, str]:
    from grader import api

    csv = tmp_path / "roster.csv"
    csv.write_text("id,name\n" + "".join(f"r{k:03d},Student {k}\n" for k in range(n)))
    return {sid: tok for sid, _, tok in api.import_roster(course, csv, tmp_path / "tokens.csv")}
