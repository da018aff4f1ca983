"""Executors: a class graded through a local Ray cluster (with fake GPU resources) lands in the gradebook
exactly as one graded by the local process pool; GPU ids Ray hands out are checked against the node;
infeasible requests are refused, stuck ones time out, a lost worker's task is retried."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from grader import api, executors
from grader.course import Course
from grader.errors import GradeError

from .test_batch import build_class

ray = pytest.importorskip("ray", reason="the ray package is not installed (pip install 'grader[scale]')")


@pytest.fixture(scope="module")
def cluster():
    # Two fake GPUs: Ray schedules them and hands out ids although this machine may have no GPU at all.
    ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_a_class_graded_through_ray_lands_like_the_local_one(cluster, calibrated, tmp_path):
    (tmp_path / "c").mkdir()
    folder = build_class(calibrated, tmp_path / "c")
    twin = Course(shutil.copytree(calibrated.root, tmp_path / "twin"))  # same secret, data and baselines
    local = api.batch(calibrated, "hw99", folder, jobs=2)
    remote = api.batch(twin, "hw99", folder, jobs=2, executor="ray")
    key = lambda outs: sorted((o.student, o.status, o.public, o.private, o.message) for o in outs)  # noqa: E731
    assert key(local) == key(remote)
    assert api.gradebook(calibrated) == api.gradebook(twin)
    again = api.batch(twin, "hw99", folder, jobs=2, executor="ray")
    assert {o.status for o in again if o.student in {o.student for o in remote if o.status == "scored"}} == {"skipped"}


def _gpu_view():
    return executors.gpu_ids_here(), [str(i) for i in ray.get_gpu_ids()]


def test_gpu_ids_from_ray_are_checked_against_the_node(cluster):
    got = []
    ex = executors.RayExecutor()
    ex.run(_gpu_view, ["a"], [()], executors.Resources(cpus=1, gpus=1), lambda item, r, e: got.append((r, e)))
    (mine, assigned), error = got[0]
    assert error is None and len(assigned) == 1, "Ray assigned one (fake) GPU"
    assert mine == executors.real_gpu_ids(assigned)
    if not os.path.exists("/dev/nvidia0"):
        assert mine == [], "no such device here: the sandbox runs on CPU instead of trusting the id"


def test_an_infeasible_request_is_refused_and_a_stuck_one_times_out(cluster):
    ex = executors.RayExecutor()
    with pytest.raises(GradeError, match="asks for 4 GPU per notebook, but the Ray cluster has 2 GPUs"):
        ex.run(_gpu_view, ["a"], [()], executors.Resources(cpus=1, gpus=4), lambda *a: None)
    got = []
    t0 = time.monotonic()
    ex.run(time.sleep, ["slow"], [(30,)], executors.Resources(cpus=1), lambda item, r, e: got.append(e), timeout_s=2)
    assert isinstance(got[0], TimeoutError) and "not finished within 2 s" in str(got[0])
    assert time.monotonic() - t0 < 15


def _die_once(marker: str) -> str:
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)  # the worker process dies: Ray retries the task elsewhere
    return "survived"


def test_a_task_whose_worker_dies_is_retried(cluster, tmp_path):
    got = []
    executors.RayExecutor().run(_die_once, ["x"], [(str(tmp_path / "died"),)], executors.Resources(cpus=1),
                                lambda item, r, e: got.append((r, e)))
    assert got == [("survived", None)]


@pytest.mark.slow
def test_notebooks_rerun_through_ray_in_the_sandbox(cluster, calibrated, tmp_path):
    from grader.notebook import write_notebook
    from grader.sandbox.registry import available_backends

    backend = next((b for b in ("bwrap", "docker") if b in available_backends()), None)
    if backend is None:
        pytest.skip("no sandbox backend (bwrap or docker) works on this machine")
    spec = api.assignment("hw99")
    pred = (calibrated.calibration_dir("hw99") / "simple" / "pred.csv").read_text()
    lines = pred.splitlines()
    i, v = lines[5].split(",")
    lines[5] = f"{i},{float(v) + 1.0}"  # a hand-edited prediction
    for student, text in (("r1", pred), ("r2", "\n".join(lines) + "\n")):
        d = tmp_path / "class" / student
        d.mkdir(parents=True)
        (d / "pred.csv").write_text(text)
        write_notebook(spec.folder / spec.starter.source, d / "HW99.ipynb")
    twin = Course(shutil.copytree(calibrated.root, tmp_path / "twin"))
    local = {o.student: o for o in api.batch(calibrated, "hw99", tmp_path / "class", rerun=True, backend=backend)}
    remote = {o.student: o for o in api.batch(twin, "hw99", tmp_path / "class", rerun=True, backend=backend,
                                              executor="ray")}
    assert {s: (o.rerun, o.hidden_points) for s, o in local.items()} == \
           {s: (o.rerun, o.hidden_points) for s, o in remote.items()}, (local, remote)
    assert remote["r1"].rerun == "match" and remote["r2"].rerun == "mismatch", remote
