"""A code submission in three phases, with the trust boundary between them.

1. **run** (sandbox): the student's notebook is executed with nbclient on the released data. It writes
   artifacts (its predictions, its trained weights) into a capped output folder.
2. **probe** (sandbox): the assignment's hidden probe calls named student functions and classes on
   hidden *inputs* (never answers) and saves plain outputs (.npy without pickle, JSON).
3. **score** (host): the two folders are screened (no links, capped sizes and counts), the regenerated
   predictions are compared with the uploaded file (the course's rule: code must reproduce the chosen
   submission), and the hidden pytest checks run against artifacts and hidden answers.

Nothing from phases 1–2 is imported, unpickled or executed on the host, and nothing the student's code
prints is read as a verdict.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .notebook import __file__ as NOTEBOOK_RUNNER
from .sandbox.artifacts import UnsafeArtifact, collect
from .sandbox.base import Job, Limits, Mount
from .sandbox.registry import get_backend
from .scoring.hidden import CheckOutcome, run_checks
from .scoring.score import align
from .scoring.validate import Invalid, validate
from .spec import AssignmentSpec


@dataclass
class Rerun:
    status: str  # match | mismatch | missing | error
    message: str = ""
    max_dev: float | None = None
    rows_differ: int = 0
    examples: list = field(default_factory=list)  # (id, uploaded, regenerated)


@dataclass
class CodeResult:
    run_status: str
    run_message: str = ""
    run_seconds: float = 0.0
    probe_status: str = ""
    rerun: Rerun | None = None
    checks: list[CheckOutcome] = field(default_factory=list)

    @property
    def hidden_points(self) -> float:
        return sum(c.points for c in self.checks)


def limits_for(spec: AssignmentSpec, gpu_ids: list[str] | None = None) -> Limits:
    """The sandbox limits of a run. `gpu_ids`: the GPUs a scheduler assigned (None: none did, the backend
    takes what the machine has); an empty list means it assigned ids this node does not have — run on CPU."""
    ex = spec.execution
    gpu = ex.gpu and (gpu_ids is None or len(gpu_ids) > 0)
    return Limits(wall_s=ex.wall_s, memory_mb=ex.memory_mb, cpus=ex.cpus, pids=512, output_mb=ex.output_mb,
                  gpu=gpu, gpu_ids=gpu_ids or None)


def grade_code(course, spec: AssignmentSpec, notebook: Path, uploaded: bytes | None, work: Path,
               backend: str = "bwrap", gpu_ids: list[str] | None = None) -> CodeResult:
    sandbox = get_backend(backend)
    data = course.data_dir(spec.short)
    work = Path(work)
    code, run_out, probe_out, probe_dir = work / "code", work / "run", work / "probe", work / "probe-src"
    for d in (code, run_out, probe_out, probe_dir):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    shutil.copy2(notebook, code / "submission.ipynb")
    shutil.copy2(NOTEBOOK_RUNNER, code / "run_notebook.py")
    limits = limits_for(spec, gpu_ids)
    env = {"GRADE_DATA_DIR": "/data", "GRADE_OUTPUT_DIR": "/out"}

    # Phase 1: run. Released data only: this job carries nothing hidden.
    run = sandbox.run(Job(
        command=["python", "/code/run_notebook.py", "run", "/code/submission.ipynb", "--cwd", "/out",
                 "--save", "/out/executed.ipynb", "--timeout", str(int(limits.wall_s)),
                 "--engine", spec.execution.engine],
        output_dir=run_out, mounts=[Mount(code, "/code"), Mount(data / "release", "/data")],
        workdir="/out", env=env, limits=limits))
    result = CodeResult(run.status, _why(run), run.duration_s)

    # Phase 2: probe, with hidden inputs (never answers) mounted.
    if run.ok and spec.execution.probe:
        shutil.copy2(spec.folder / spec.execution.probe, probe_dir / "probe.py")
        shutil.copy2(Path(__file__).parent / "sandbox" / "probelib.py", probe_dir / "probelib.py")
        mounts = [Mount(code, "/code"), Mount(run_out, "/run"), Mount(data / "release", "/data"),
                  Mount(probe_dir, "/probe")]
        if (data / "hidden_inputs").is_dir():
            mounts.append(Mount(data / "hidden_inputs", "/hidden_inputs"))
        probe = sandbox.run(Job(command=["python", "/probe/probe.py"], output_dir=probe_out, mounts=mounts,
                                workdir="/out", env=env, limits=limits, carries_hidden=True))
        result.probe_status = probe.status if probe.ok else f"{probe.status}: {_why(probe)}"

    # Phase 3: score on the host.
    try:
        collect(run_out)
        collect(probe_out)
    except UnsafeArtifact as e:
        result.run_status, result.run_message = "error", f"unsafe artifact: {e}"
        shutil.rmtree(run_out, ignore_errors=True)
        shutil.rmtree(probe_out, ignore_errors=True)
        return result
    if run.ok:
        result.rerun = compare(course, spec, uploaded, run_out / spec.execution.output)
    checks_dir = spec.folder / spec.execution.checks
    submission = work / "uploaded" / spec.submission.filename
    if uploaded is not None:
        submission.parent.mkdir(exist_ok=True)
        submission.write_bytes(uploaded)
    result.checks = run_checks(checks_dir, {
        "GRADE_ARTIFACTS": run_out, "GRADE_PROBE": probe_out, "GRADE_HIDDEN": data / "hidden",
        "GRADE_HIDDEN_INPUTS": data / "hidden_inputs", "GRADE_RELEASE": data / "release",
        "GRADE_SUBMISSION": submission if uploaded is not None else None,
        "GRADE_RUN_STATUS": None}, spec.execution.points) if run.ok else []
    return result


def _why(r) -> str:
    msg = r.message or ""
    if not r.ok:
        tail = (r.stderr_tail or r.stdout_tail).strip().splitlines()[-6:]
        msg = (msg + "\n" + "\n".join(tail)).strip()
    return msg[-2000:]


def _plain(x):
    """A numpy scalar as a Python value; strings of an object array (answer sheets) as they are."""
    return x.item() if hasattr(x, "item") else x


def compare(course, spec: AssignmentSpec, uploaded: bytes | None, regenerated: Path) -> Rerun:
    """Does the re-executed notebook reproduce the uploaded predictions (within tolerance)?"""
    from .data import load_answers

    if uploaded is None:
        return Rerun("missing", "no uploaded prediction file to compare with")
    if not regenerated.is_file():
        return Rerun("missing", f"the notebook wrote no {regenerated.name}")
    ids = load_answers(course, spec).ids
    try:
        up = validate(uploaded, "uploaded " + spec.submission.filename, spec.submission, ids)
        re = validate(regenerated.read_bytes(), "regenerated " + regenerated.name, spec.submission, ids)
    except Invalid as e:
        return Rerun("error", str(e))
    a, b = align(up, ids), align(re, ids)
    if spec.submission.kind == "weights":
        return _compare_weights(a, b, spec.execution.rerun_tolerance)
    if a.ndim > 1 or a.dtype.kind in "fc":  # numbers within the tolerance; images: each one's largest pixel gap
        diff = np.abs(a.astype(float) - b.astype(float))
        dev = diff.reshape(len(diff), -1).max(axis=1) if diff.ndim > 1 else diff
        bad = np.flatnonzero(dev > spec.execution.rerun_tolerance)
        max_dev = float(dev.max()) if len(dev) else 0.0
    else:
        bad = np.flatnonzero(a != b)
        max_dev = None
    examples = [(_plain(ids[i]),
                 _plain(a[i]) if a.ndim == 1 else f"image (largest pixel difference {dev[i]:g})",
                 _plain(b[i]) if b.ndim == 1 else "its regenerated version") for i in bad[:5]]
    allowed = int(spec.execution.rerun_max_differing * len(ids))
    if bad.size <= allowed:
        note = f" ({bad.size} of {len(ids)} rows differ, within the allowed {allowed})" if bad.size else ""
        return Rerun("match", "the notebook reproduces the uploaded predictions" + note, max_dev, int(bad.size),
                     examples)
    if max_dev is None:  # labels, answers, sentences: equal or not
        return Rerun("mismatch", f"{bad.size} of {len(ids)} rows differ", None, int(bad.size), examples)
    return Rerun("mismatch", f"{bad.size} of {len(ids)} rows differ by more than {spec.execution.rerun_tolerance:g}"
                 f" (max deviation {max_dev:.4g})", max_dev, int(bad.size), examples)


def _compare_weights(up: dict, re: dict, tolerance: float) -> Rerun:
    """Tensor by tensor: the same names and shapes, every number within the tolerance."""
    if list(up) != list(re) or any(up[k].shape != re[k].shape for k in up):
        shapes = lambda w: ", ".join(f"{k} {tuple(v.shape)}" for k, v in list(w.items())[:6])
        return Rerun("mismatch", f"the regenerated weights have other tensors: uploaded [{shapes(up)}], "
                     f"regenerated [{shapes(re)}]", None, len(set(up) ^ set(re)) or len(up),
                     [("tensors", shapes(up), shapes(re))])
    dev = {k: float(np.max(np.abs(up[k] - re[k]))) if up[k].size else 0.0 for k in up}
    bad = [k for k, d in dev.items() if d > tolerance]
    max_dev = max(dev.values(), default=0.0)
    if not bad:
        return Rerun("match", "the notebook reproduces the uploaded weights", max_dev, 0, [])
    examples = [(k, f"tensor {tuple(up[k].shape)}", f"differs by up to {dev[k]:.4g}") for k in bad[:5]]
    return Rerun("mismatch", f"{len(bad)} of {len(up)} tensors differ by more than {tolerance:g} "
                 f"(max deviation {max_dev:.4g})", max_dev, len(bad), examples)
