"""Forked workers after the parent's torch ran in parallel: a local batch's process pool must not hang
(the hidden checks' forked child is covered in tests/scoring/test_hidden.py)."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import torch
    from grader.executors import LocalExecutor, Resources

    def work(n):
        a = torch.randn(n, n, requires_grad=True)
        (a @ a).sum().backward()
        return n

    if __name__ == "__main__":
        torch.set_num_threads(2)
        a = torch.randn(800, 800, requires_grad=True)
        (a @ a).sum().backward()                  # the parent's OpenMP pool now runs
        got = []
        LocalExecutor(2).run(work, [1, 2, 3], [(800,), (600,), (400,)], Resources(),
                             lambda item, result, error: got.append((item, result, error)))
        assert sorted(g[:2] for g in got) == [(1, 800), (2, 600), (3, 400)] and not any(g[2] for g in got), got
        print("ok")
""")


def test_local_workers_compute_after_the_parent_ran_torch_in_parallel(tmp_path):
    pytest.importorskip("torch")
    script = tmp_path / "fork_after_torch.py"
    script.write_text(SCRIPT)
    # its own session: a hung pool worker is killed with the script, not left behind
    p = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)
    try:
        out, err = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        pytest.fail("a forked worker hung in torch's first parallel region")
    assert p.returncode == 0 and out.strip() == "ok", err[-2000:]
