"""Interactive jobs: the host converses with the sandboxed process over its stdin and stdout (HW12's
policy answering observations) on every backend; the process cannot outlive its limits, and a
conversation that the process breaks ends without hanging."""

from __future__ import annotations

import json

import pytest
from _backends import backend_fixture, params

from grader.sandbox import Job, Limits

LIMITS = Limits(wall_s=20, memory_mb=256, cpus=1, pids=64, output_mb=4)
ECHO_POLICY = r"""
import json, sys
for line in sys.stdin:
    obs = json.loads(line)["obs"]
    sys.stdout.write(json.dumps({"action": int(sum(obs)) % 4}) + "\n")
    sys.stdout.flush()
"""


@pytest.fixture(params=params(["docker", "bwrap", "local"]))
def any_backend(request):
    return backend_fixture(request)


def test_the_host_steps_and_the_process_answers(any_backend, tmp_path):
    _, sb = any_backend
    seen = []

    def conversation(stdin, stdout):
        for k in range(50):
            stdin.write((json.dumps({"obs": [k, 1, 2]}) + "\n").encode())
            stdin.flush()
            seen.append(json.loads(stdout.readline(4096))["action"])

    res = sb.run(Job(command=["python3", "-c", ECHO_POLICY], output_dir=tmp_path / "out", limits=LIMITS,
                     interact=conversation))
    assert res.status == "ok", res
    assert seen == [(k + 3) % 4 for k in range(50)]


def test_a_process_that_never_answers_is_stopped_by_its_wall_clock(any_backend, tmp_path):
    _, sb = any_backend
    got = []

    def conversation(stdin, stdout):
        stdin.write(b'{"obs": [0]}\n')
        stdin.flush()
        got.append(stdout.readline(4096))  # blocks until the process is killed

    lim = Limits(wall_s=3, memory_mb=256, cpus=1, pids=64, output_mb=4)
    res = sb.run(Job(command=["python3", "-c", "import time; time.sleep(60)"], output_dir=tmp_path / "out",
                     limits=lim, interact=conversation))
    assert res.status == "timeout" and res.duration_s < 20
