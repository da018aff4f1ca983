"""Where a batch's work runs: a local process pool, or a Ray cluster.

Both take the same work items (one student's entry) and hand every result back to the caller as it
arrives, in this process, which alone writes the store: a class graded through Ray lands in the gradebook
exactly as one graded locally.

    local   a process pool on this machine (the default; `--jobs` processes)
    ray     Ray tasks on a cluster (`--address`, or a local one started here). A task asks Ray for one CPU
            per sandbox CPU and, when the homework wants a GPU, `num_gpus=1`; the GPU ids Ray assigns are
            passed to the sandbox (Docker DeviceRequest ids, CUDA_VISIBLE_DEVICES for bwrap) — but only after
            checking the node really has those devices: Ray hands out ids for declared resources whether or
            not a GPU exists. A task whose worker dies is retried; a request no node can ever satisfy is
            refused up front, and one that waits too long times out with a clear message.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

from .errors import GradeError
from .forksafe import single_threaded_torch

RAY_RETRIES = 2


@dataclass(frozen=True)
class Resources:
    cpus: float = 1.0
    gpus: float = 0.0


class LocalExecutor:
    name = "local"

    def __init__(self, jobs: int = 2) -> None:
        self.jobs = max(1, jobs)

    def run(self, fn: Callable, items: list, args: Iterable, resources: Resources,
            done: Callable[[object, object, BaseException | None], None], timeout_s: float | None = None) -> None:
        """Call `fn(*item_args)` for each item; `done(item, result, error)` as each finishes."""
        # forked workers: torch on one thread each (grader/forksafe.py), as the sandbox runs it anyway
        with ProcessPoolExecutor(max_workers=self.jobs, initializer=single_threaded_torch) as pool:
            futures = {pool.submit(fn, *a): item for item, a in zip(items, args)}
            for fut in as_completed(futures):
                try:
                    done(futures[fut], fut.result(), None)
                except Exception as e:  # noqa: BLE001 - a worker crash is one entry's status
                    done(futures[fut], None, e)


class RayExecutor:
    name = "ray"

    def __init__(self, address: str | None = None, jobs: int = 2) -> None:
        try:
            import ray
        except ImportError:
            raise GradeError("--executor ray needs the ray package: pip install 'grader[scale]'") from None
        self.ray = ray
        if not ray.is_initialized():
            if address:
                ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
            else:  # a local cluster on this machine, sized like the local executor
                ray.init(num_cpus=max(1, jobs), include_dashboard=False, ignore_reinit_error=True,
                         log_to_driver=False)

    def check_feasible(self, resources: Resources) -> None:
        total = self.ray.cluster_resources()
        if resources.gpus and total.get("GPU", 0) < resources.gpus:
            raise GradeError(f"the homework asks for {resources.gpus:g} GPU per notebook, but the Ray cluster has "
                             f"{total.get('GPU', 0):g} GPUs: add GPU nodes, or grade on CPU")
        if total.get("CPU", 0) < resources.cpus:
            raise GradeError(f"each notebook needs {resources.cpus:g} CPUs; the Ray cluster has {total.get('CPU', 0):g}")

    def run(self, fn: Callable, items: list, args: Iterable, resources: Resources,
            done: Callable[[object, object, BaseException | None], None], timeout_s: float | None = None) -> None:
        ray = self.ray
        self.check_feasible(resources)
        task = ray.remote(num_cpus=resources.cpus, num_gpus=resources.gpus, max_retries=RAY_RETRIES,
                          retry_exceptions=False)(_in_ray(fn))
        pending = {task.remote(*a): item for item, a in zip(items, args)}
        deadline = time.monotonic() + timeout_s if timeout_s else None
        while pending:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=wait)
            if not ready:  # nothing finished in time: report the rest, do not hang
                for ref, item in pending.items():
                    ray.cancel(ref, force=True)
                    done(item, None, TimeoutError(f"not finished within {timeout_s:.0f} s on the Ray cluster "
                                                  "(waiting for resources, or a stuck node)"))
                return
            ref = ready[0]
            item = pending.pop(ref)
            try:
                result = ray.get(ref)
            except Exception as e:  # noqa: BLE001 - a task that failed for good is one entry's status
                done(item, None, getattr(e, "cause", None) or e)  # the task's own exception, not Ray's wrapper
                continue
            done(item, result, None)


def _in_ray(fn: Callable) -> Callable:
    def call(*a):
        import ray

        os.environ["GRADER_GPU_IDS"] = ",".join(str(i) for i in real_gpu_ids(ray.get_gpu_ids()))
        return fn(*a)

    call.__name__ = getattr(fn, "__name__", "grade")
    return call


def real_gpu_ids(assigned: list) -> list[str]:
    """The assigned GPU ids that exist on this node (Ray assigns ids for declared resources even on a
    node without a GPU, e.g. `--num-gpus` in tests); an empty list means: run on CPU."""
    from .sandbox.bwrap import gpu_nodes

    present = {n[len("/dev/nvidia"):] for n in gpu_nodes()}
    return [str(i) for i in assigned if str(i) in present]


def gpu_ids_here() -> list[str] | None:
    """The GPUs this worker process was given (set by a Ray task), or None outside Ray."""
    raw = os.environ.get("GRADER_GPU_IDS")
    return None if raw is None else [x for x in raw.split(",") if x]


def make(name: str, jobs: int = 2, address: str | None = None):
    if name == "local":
        return LocalExecutor(jobs)
    if name == "ray":
        return RayExecutor(address, jobs)
    raise GradeError(f"unknown executor {name!r}: local or ray")
