"""Hidden checks on the host: forked from the worker when it is single-threaded, a subprocess otherwise;
either way a hang is cut off at the timeout and a check file that runs nothing is an error, not a zero."""

import threading

import pytest

from grader.scoring import hidden


def write(tmp_path, body: str):
    d = tmp_path / "hidden"
    d.mkdir()
    (d / "test_checks.py").write_text(body)
    return d


CHECKS = """
import os
def test_sees_the_environment():
    assert os.environ["GRADE_PROBE"].endswith("probe")
def test_fails_with_a_message():
    assert 1 == 2, "one is not two"
"""


@pytest.fixture(params=["fork", "subprocess"])
def mode(request, monkeypatch):
    if request.param == "subprocess":
        monkeypatch.setattr(hidden, "_can_fork", lambda: False)
    return request.param


def test_outcomes_carry_points_and_messages(tmp_path, mode):
    out = hidden.run_checks(write(tmp_path, CHECKS), {"GRADE_PROBE": tmp_path / "probe"},
                            {"test_sees_the_environment": 1.5, "test_fails_with_a_message": 1.0})
    got = {o.test: o for o in out}
    assert got["test_sees_the_environment"].status == "passed" and got["test_sees_the_environment"].points == 1.5
    bad = got["test_fails_with_a_message"]
    assert bad.status == "failed" and bad.points == 0.0 and "one is not two" in bad.message


def test_a_hanging_check_times_out(tmp_path, mode):
    d = write(tmp_path, "import time\ndef test_hangs():\n    time.sleep(60)\n")
    out = hidden.run_checks(d, {}, {"test_hangs": 2.0}, timeout=2)
    assert len(out) == 1 and out[0].status == "error" and "timed out after 2 s" in out[0].message
    assert out[0].max_points == 2.0


def test_a_file_that_runs_nothing_is_an_error(tmp_path, mode):
    out = hidden.run_checks(write(tmp_path, "X = 1\n"), {}, {"test_missing": 1.0})
    assert len(out) == 1 and out[0].status == "error" and "no checks ran" in out[0].message


def test_a_threaded_worker_does_not_fork():
    before = hidden._can_fork()
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert not hidden._can_fork()
    finally:
        stop.set()
        t.join()
    assert hidden._can_fork() == before


TORCH_CHECK = """
import torch
def test_backward():
    x = torch.randn(64, 3, 32, 32, requires_grad=True)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.Flatten(), torch.nn.Linear(8 * 30 * 30, 4))
    net(x).sum().backward()
    a = torch.randn(800, 800)
    assert torch.isfinite(a @ a).all() and x.grad is not None
"""


def test_checks_using_torch_after_the_worker_ran_torch_in_parallel(tmp_path, mode):
    """A forked copy of a worker whose OpenMP pool ran (HW6's FID features on the host) used to hang in its
    first parallel region until the timeout; the checks now run."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        a = torch.randn(800, 800, requires_grad=True)
        (a @ a).sum().backward()
        out = hidden.run_checks(write(tmp_path, TORCH_CHECK), {}, {"test_backward": 1.0}, timeout=60)
    finally:
        torch.set_num_threads(before)
    assert [(o.test, o.status) for o in out] == [("test_backward", "passed")], out
