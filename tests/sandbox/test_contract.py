"""The sandbox contract: the same behaviour from every backend that runs here.

Student code is plain ``python3 -c`` so the tests need nothing but the
interpreter; paths come from $GRADER_OUTPUT_DIR so the unisolated local backend
(which maps no paths) runs the same scripts.
"""

from __future__ import annotations

import json
import os
import socket
import textwrap
import uuid
from pathlib import Path

import pytest
from _backends import host_processes_with, leftover_state

from grader.sandbox import Job, Limits, Mount, get_backend
from grader.sandbox.base import TAIL_BYTES
from grader.sandbox.doctor import doctor

SMALL = Limits(wall_s=20, memory_mb=256, cpus=1, pids=64, output_mb=4)


def job(code: str, out: Path, limits: Limits = SMALL, **kw) -> Job:
    return Job(command=["python3", "-c", textwrap.dedent(code)], output_dir=out, limits=limits, **kw)


def test_ok_run_writes_artifact(any_backend, tmp_path):
    _, sb = any_backend
    res = sb.run(job("""
        import json, os
        with open(os.path.join(os.environ["GRADER_OUTPUT_DIR"], "result.json"), "w") as f:
            json.dump({"acc": 0.93}, f)
        print("done")
    """, tmp_path / "out"))
    assert res.status == "ok", res
    assert res.exit_code == 0 and "done" in res.stdout_tail
    assert json.loads((tmp_path / "out" / "result.json").read_text()) == {"acc": 0.93}
    assert res.duration_s > 0


def test_exit_code_is_reported(any_backend, tmp_path):
    _, sb = any_backend
    res = sb.run(job("import sys; print('bad', file=sys.stderr); sys.exit(3)", tmp_path / "out"))
    assert res.status == "error" and res.exit_code == 3, res
    assert "bad" in res.stderr_tail and "3" in res.message


def test_timeout_kills_whole_tree(any_backend, tmp_path):
    _, sb = any_backend
    marker = f"grader-orphan-{uuid.uuid4().hex}"
    res = sb.run(job(f"""
        import subprocess, time
        subprocess.Popen(["python3", "-c", "import time; time.sleep(600)", "{marker}"],
                         start_new_session=True)
        time.sleep(600)
    """, tmp_path / "out", Limits(wall_s=2, memory_mb=256, pids=64)))
    assert res.status == "timeout", res
    assert res.duration_s < 15
    assert host_processes_with(marker) == []


def test_memory_hog_is_oom(any_backend, tmp_path):
    _, sb = any_backend
    res = sb.run(job("""
        chunks = []
        while True:
            chunks.append(b"x" * 16_000_000)
    """, tmp_path / "out", Limits(wall_s=20, memory_mb=128, pids=64)))
    assert res.status == "oom", res
    assert "memory" in res.message


def test_output_flood_tails_are_bounded(any_backend, tmp_path):
    _, sb = any_backend
    res = sb.run(job("""
        import sys
        line = "y" * 1023 + "\\n"
        for _ in range(8 * 1024):
            sys.stdout.write(line); sys.stderr.write(line)
        print("THE-END")
    """, tmp_path / "out", Limits(wall_s=30, memory_mb=256, pids=64)))
    assert res.status == "ok", res.message
    assert len(res.stdout_tail.encode()) <= TAIL_BYTES and len(res.stderr_tail.encode()) <= TAIL_BYTES
    assert res.stdout_tail.rstrip().endswith("THE-END")


def test_env_and_thread_caps(any_backend, tmp_path, monkeypatch):
    _, sb = any_backend
    monkeypatch.setenv("GRADER_TEST_HOST_ONLY", "host-value")
    res = sb.run(job("""
        import json, os
        keys = ["OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                "GRADER_TORCH_THREADS", "COURSE_VAR", "GRADER_TEST_HOST_ONLY"]
        print(json.dumps({k: os.environ.get(k) for k in keys}))
    """, tmp_path / "out", Limits(wall_s=20, memory_mb=256, cpus=2, pids=64),
        env={"COURSE_VAR": "x", "OMP_NUM_THREADS": "64"}))
    assert res.status == "ok", res
    env = json.loads(res.stdout_tail.strip().splitlines()[-1])
    assert env == {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2",
                   "GRADER_TORCH_THREADS": "2", "COURSE_VAR": "x", "GRADER_TEST_HOST_ONLY": None}


def test_network_unreachable(isolated_backend, tmp_path):
    _, sb = isolated_backend
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.1)
    port = server.getsockname()[1]
    res = sb.run(job(f"""
        import socket
        for addr in [("127.0.0.1", {port}), ("1.1.1.1", 53), ("8.8.8.8", 443)]:
            try:
                socket.create_connection(addr, timeout=2).close()
                print("REACHED", addr)
            except OSError as e:
                print("blocked", addr, e.errno)
        try:
            socket.getaddrinfo("pypi.org", 443)
            print("REACHED dns")
        except OSError:
            print("blocked dns")
    """, tmp_path / "out"))
    with pytest.raises(TimeoutError):
        server.accept()
    server.close()
    assert res.status == "ok", res
    assert "REACHED" not in res.stdout_tail and res.stdout_tail.count("blocked") == 4


def test_read_only_mounts(isolated_backend, tmp_path, world_dir):
    _, sb = isolated_backend
    data = world_dir / "data"
    data.mkdir()
    (data / "train.csv").write_text("a,b\n1,2\n")
    data.chmod(0o755)
    (data / "train.csv").chmod(0o644)
    res = sb.run(job("""
        import os
        print(open("/data/train.csv").read().strip())
        for attempt in (lambda: open("/data/train.csv", "w"), lambda: open("/data/new", "w"),
                        lambda: os.remove("/data/train.csv")):
            try:
                attempt(); print("WROTE")
            except OSError as e:
                print("denied", e.errno)
    """, tmp_path / "out", mounts=[Mount(data, "/data", read_only=True)]))
    assert res.status == "ok", res
    assert "a,b" in res.stdout_tail and "WROTE" not in res.stdout_tail
    assert (data / "train.csv").read_text() == "a,b\n1,2\n" and sorted(os.listdir(data)) == ["train.csv"]


def test_output_cap(any_backend, tmp_path):
    _, sb = any_backend
    res = sb.run(job("""
        import os
        out = os.environ["GRADER_OUTPUT_DIR"]
        for i in range(8):
            with open(os.path.join(out, f"blob{i}.bin"), "wb") as f:
                f.write(os.urandom(1024 * 1024))
    """, tmp_path / "out", Limits(wall_s=20, memory_mb=256, pids=64, output_mb=2)))
    assert res.status == "error" and "MB" in res.message, res
    total = sum(p.stat().st_size for p in (tmp_path / "out").iterdir())
    assert total <= 8 * 2**20


def test_gpu_request_without_runtime(isolated_backend, tmp_path):
    name, sb = isolated_backend
    if name == "docker":
        ok, why = sb.gpu_runtime()
        if ok:
            pytest.skip(f"this machine has a GPU runtime ({why})")
    before = leftover_state()
    res = sb.run(job("print('hi')", tmp_path / "out",
                     Limits(wall_s=20, memory_mb=256, gpu=True, gpu_ids=None)))
    assert res.status == "no-gpu-runtime" and res.message, res
    assert leftover_state() == before


def test_local_refuses_hidden_material(tmp_path):
    res = get_backend("local").run(job("open('/tmp/ran', 'w')", tmp_path / "out", carries_hidden=True))
    assert res.status == "refused" and "hidden" in res.message
    assert not (tmp_path / "out").exists()


def test_runs_leave_nothing_behind(isolated_backend, tmp_path):
    _, sb = isolated_backend
    before = leftover_state()
    for code in ("print(1)", "import sys; sys.exit(2)", "while True: pass"):
        sb.run(job(code, tmp_path / "out", Limits(wall_s=1, memory_mb=128, pids=32)))
    assert leftover_state() == before


def test_doctor_reports_every_backend():
    rows = {r.backend: r for r in doctor()}
    assert {"docker", "docker-gpu", "bwrap", "local"} <= set(rows)
    assert rows["local"].ok
    assert all(r.reason for r in rows.values())


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown sandbox backend"):
        get_backend("chroot")


def test_limits_refuse_network():
    with pytest.raises(ValueError):
        Limits(network=True)
