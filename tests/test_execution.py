"""The three phases on the toy assignment, on every sandbox backend that works here."""

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from grader import api
from grader.calibrate import _run_starter
from grader.execution import grade_code
from grader.notebook import write_notebook
from grader.sandbox.registry import available_backends

BACKENDS = [b for b in ("bwrap", "docker") if b in available_backends()]
pytestmark = pytest.mark.skipif(not BACKENDS, reason="no sandbox backend (bwrap or docker) works on this machine")


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def prepared(course, tmp_path):
    spec = api.assignment("hw99")
    api.prepare(course, "hw99")
    nb = write_notebook(spec.folder / spec.starter.source, tmp_path / "HW99.ipynb")
    _run_starter(spec, course.data_dir("hw99") / "release", tmp_path / "honest", 1)
    return course, spec, nb, (tmp_path / "honest" / "pred.csv").read_bytes()


def notebook(tmp_path, *cells) -> str:
    path = tmp_path / "student.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(c) for c in cells]), str(path))
    return path


def test_honest_notebook_reproduces_and_passes_hidden_checks(prepared, tmp_path, backend):
    course, spec, nb, uploaded = prepared
    r = grade_code(course, spec, nb, uploaded, tmp_path / "w", backend=backend)
    assert r.run_status == "ok" and r.probe_status == "ok"
    assert r.rerun.status == "match" and r.rerun.max_dev == 0
    assert [(c.test, c.status) for c in r.checks] == [
        ("test_shapes", "passed"), ("test_deterministic", "passed"), ("test_predict_matches_uploaded_file", "passed")]
    assert r.hidden_points == 2.0


def test_uploaded_file_the_code_does_not_reproduce_is_flagged_with_evidence(prepared, tmp_path, backend):
    course, spec, nb, uploaded = prepared
    lines = uploaded.decode().splitlines()
    i, v = lines[3].split(",")
    lines[3] = f"{i},{float(v) + 0.5:.6f}"  # a hand-edited prediction
    r = grade_code(course, spec, nb, ("\n".join(lines) + "\n").encode(), tmp_path / "w", backend=backend)
    assert r.rerun.status == "mismatch" and r.rerun.rows_differ == 1
    assert r.rerun.max_dev == pytest.approx(0.5, abs=1e-5) and r.rerun.examples[0][0] == int(i)
    failed = {c.test for c in r.checks if c.status == "failed"}
    assert failed == {"test_predict_matches_uploaded_file"}


def test_crashing_notebook_is_a_status_with_the_error(prepared, tmp_path, backend):
    course, spec, _, uploaded = prepared
    nb = notebook(tmp_path, "import numpy as np", "raise RuntimeError('CUDA out of memory (simulated)')")
    r = grade_code(course, spec, nb, uploaded, tmp_path / "w", backend=backend)
    assert r.run_status == "error" and "CUDA out of memory (simulated)" in r.run_message
    assert r.rerun is None and r.checks == []


def test_a_forged_verdict_counts_for_nothing(prepared, tmp_path, backend):
    course, spec, _, uploaded = prepared
    forged = {"score": 10, "tests": [{"name": "test_shapes", "score": 100, "status": "passed"}]}
    nb = notebook(tmp_path,
                  "import json, os\nos.makedirs('/out', exist_ok=True)\n"
                  f"json.dump({forged!r}, open('/out/results.json', 'w'))\n"
                  "print('All hidden tests passed! Score: 10/10')",
                  "def predict(train, test):\n    return [0.0] * len(test)  # a list, and wrong")
    r = grade_code(course, spec, nb, uploaded, tmp_path / "w", backend=backend)
    assert r.run_status == "ok" and r.rerun.status == "missing"  # it wrote no pred.csv
    assert r.hidden_points < 2.0
    assert {c.test: c.status for c in r.checks}["test_predict_matches_uploaded_file"] == "failed"


def test_probe_never_sees_hidden_answers(prepared, tmp_path, backend):
    course, spec, _, uploaded = prepared
    secret_answers = (course.data_dir("hw99") / "hidden" / "answers.csv").read_text().splitlines()[5]
    nb = notebook(tmp_path, "import os, json\n"
                  "found = []\n"
                  "for root in ['/', '/hidden_inputs', '/data', '/code', '/run', '/probe']:\n"
                  "    for d, _, fs in os.walk(root):\n"
                  "        if d.startswith(('/proc', '/sys', '/usr', '/opt')): continue\n"
                  "        found += [os.path.join(d, f) for f in fs]\n"
                  "json.dump(found, open('/out/seen.json', 'w'))",
                  "def predict(train, test):\n    import numpy as np\n    return np.zeros(len(test))")
    r = grade_code(course, spec, nb, uploaded, tmp_path / "w", backend=backend)
    seen = json.loads((tmp_path / "w" / "run" / "seen.json").read_text())
    assert not [p for p in seen if "answers" in p or "public.npy" in p]
    for f in (tmp_path / "w").rglob("*"):
        if f.is_file():
            assert secret_answers not in f.read_text(errors="ignore")


def test_symlink_left_in_artifacts_is_refused_on_the_host(prepared, tmp_path, backend):
    course, spec, _, uploaded = prepared
    nb = notebook(tmp_path, "import os\nos.symlink('/etc/shadow', '/out/pred.csv')")
    r = grade_code(course, spec, nb, uploaded, tmp_path / "w", backend=backend)
    assert r.run_status == "error" and "unsafe artifact" in r.run_message and r.checks == []


def test_pickle_payload_artifact_is_never_unpickled(prepared, tmp_path, backend):
    course, spec, _, uploaded = prepared
    marker = tmp_path / "pwned"
    payload = ("import numpy as np, os\n"
               "class P:\n"
               f"    def __reduce__(self): return (os.system, ('touch {marker}',))\n"
               "np.save('/out/pred.npy', np.array([P()], dtype=object), allow_pickle=True)")
    # The probe output is what the host loads; make the probe find a pickle where it expects numbers.
    nb = notebook(tmp_path, payload,
                  "import numpy as np\nclass Evil:\n    def __reduce__(self):\n"
                  f"        import os; return (os.system, ('touch {marker}',))\n"
                  "def predict(train, test):\n    return np.array([Evil()] * len(test), dtype=object)")
    r = grade_code(course, spec, nb, uploaded, tmp_path / "w", backend=backend)
    assert not marker.exists(), "nothing from the sandbox was unpickled on the host"
    assert r.hidden_points == 0.0


def test_a_share_of_differing_labels_may_be_allowed(calibrated, tmp_path):
    """execution.rerun_max_differing: labels re-run on another device may flip in a few rows."""
    from grader import api
    from grader.execution import compare

    spec = api.assignment("hw99")
    regenerated = tmp_path / "pred.csv"
    course = calibrated
    rows = (course.calibration_dir("hw99") / "boss" / "pred.csv").read_text().splitlines()
    regenerated.write_text("\n".join(rows) + "\n")
    edited = rows[:]
    for k in (3, 7):
        i, v = edited[k].split(",")
        edited[k] = f"{i},{float(v) + 5}"
    uploaded = ("\n".join(edited) + "\n").encode()
    assert compare(course, spec, uploaded, regenerated).status == "mismatch"
    lenient = spec.model_copy(update={"execution": spec.execution.model_copy(update={"rerun_max_differing": 0.02})})
    r = compare(course, lenient, uploaded, regenerated)
    assert r.status == "match" and r.rows_differ == 2 and "within the allowed 4" in r.message
