"""HW8 end to end: the generated data in the course layout, the starter notebook, the release, the ladder,
the sandbox (re-run, hidden probe of anomaly_score and the model)."""

import ast
import csv
import importlib.util
import re
from datetime import datetime

import nbformat
import numpy as np
import pytest

from grader import api, catalog
from grader.course import Course
from grader.data import BuildContext
from grader.notebook import build_notebook
from grader.scoring.validate import Invalid, validate
from grader.spec import LEVELS

from .helpers import add_cell, sandbox_backend


def make(tmp_path) -> Course:
    return Course.init(tmp_path / "c-hw08", homeworks={"hw08": {"deadline": "2022-05-13T23:59:00"}})


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Course:
    """One course with the ci data prepared, shared by the tests (a build takes seconds)."""
    c = make(tmp_path_factory.mktemp("hw08"))
    api.prepare(c, "hw8")
    return c


def builder():
    spec = api.assignment("hw8")
    mod_spec = importlib.util.spec_from_file_location("hw08_data_test", spec.folder / "data.py")
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    return module


def build_small(tmp_path, name, seed=7, scale="ci", n=(40, 40, 20)):
    """The generator with small counts (options), straight into a folder."""
    root = tmp_path / name
    ctx = BuildContext(seed=seed, source="generated", edition="2022", scale=scale, shared_data=None,
                       release_dir=root / "release", hidden_dir=root / "hidden", hidden_inputs_dir=root / "hidden_inputs",
                       options={"n_train": n[0], "n_test": n[1], "n_probe": n[2]})
    for d in (ctx.release_dir, ctx.hidden_dir, ctx.hidden_inputs_dir):
        d.mkdir(parents=True)
    builder().build(ctx)
    return root


def rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_generated_layout_matches_the_course(prepared):
    c = prepared
    m = api.prepare(c, "hw8")                   # the cached build
    data = c.data_dir("hw08")
    rel = data / "release"
    assert sorted(p.name for p in (rel / "data").iterdir()) == ["testingset.npy", "trainingset.npy"]
    train = np.load(rel / "data" / "trainingset.npy", allow_pickle=False)
    test = np.load(rel / "data" / "testingset.npy", allow_pickle=False)
    assert train.dtype == test.dtype == np.uint8
    assert train.shape == (4000, 32, 32, 3) and test.shape == (2000, 32, 32, 3), "(N, H, W, 3) as the course's (N, 64, 64, 3)"
    assert len(test) == m["rows"]
    sample = rows(rel / "sample_submission.csv")
    assert sample[0] == ["ID", "score"] and [int(r[0]) for r in sample[1:]] == list(range(len(test)))
    answers = rows(data / "hidden" / "answers.csv")
    labels = np.array([int(float(r[1])) for r in answers[1:]])
    assert answers[0] == ["ID", "score"] and set(labels) == {0, 1} and labels.sum() == len(test) // 2, "half anomalies"
    kinds = [r[1] for r in rows(data / "hidden" / "kinds.csv")[1:]]
    assert set(kinds) == {"normal"} | set(builder().KINDS)
    assert all((k == "normal") == (lab == 0) for k, lab in zip(kinds, labels))
    families = {f for f, _ in builder().KINDS.values()}
    assert families == {"other objects", "broken faces", "swapped parts", "wrong colours"}, "the course's four kinds"
    probe = np.load(data / "hidden_inputs" / "probeset.npy", allow_pickle=False)
    probe_labels = np.load(data / "hidden" / "probe_labels.npy", allow_pickle=False)
    assert probe.shape == (1000, 32, 32, 3) and probe_labels.shape == (1000,) and probe_labels.sum() == 500
    assert not (data / "hidden_inputs" / "probe_labels.npy").exists(), "the probe gets no labels"
    # The training faces are HW6's faces: the same generator draws them (colours of its palette).
    assert not any(np.array_equal(test[i], train[j]) for i in range(20) for j in range(200))


def test_same_seed_same_bytes_and_full_scale_is_64(tmp_path):
    a, b = build_small(tmp_path, "a"), build_small(tmp_path, "b")
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files and files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    other = build_small(tmp_path, "other", seed=8)
    assert (other / "release/data/testingset.npy").read_bytes() != (a / "release/data/testingset.npy").read_bytes()
    full = build_small(tmp_path, "full", scale="full", n=(8, 18, 18))
    assert np.load(full / "release" / "data" / "testingset.npy").shape == (18, 64, 64, 3)


def test_starter_notebook_mirrors_the_course_sample_code():
    spec = api.assignment("hw8")
    source = (spec.folder / spec.starter.source).read_text()
    nb = build_notebook(source)
    nbformat.validate(nb)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for name in ("def same_seeds", "same_seeds(48763)", "class fcn_autoencoder", "class conv_autoencoder",
                 "class VAE", "def reparametrize", "def loss_vae", "class CustomTensorDataset(TensorDataset)",
                 "num_epochs = 20", "batch_size = 128", "learning_rate = 1e-3", "RandomSampler(train_dataset)",
                 "model_type = 'fcn'", "model_classes = {'fcn': fcn_autoencoder(), 'cnn': conv_autoencoder(), 'vae': VAE()}",
                 "criterion = nn.MSELoss()", "torch.optim.Adam(model.parameters(), lr=learning_rate)",
                 "'best_model_{}.pt'.format(model_type)", "'last_model_{}.pt'.format(model_type)",
                 "eval_batch_size = 200", "def anomaly_score(model, images)", "nn.MSELoss(reduction='none')",
                 "torch.sqrt(anomality)", "index_label = 'ID'", "'prediction.csv'", "'data', 'trainingset.npy'",
                 "Hint"):
        assert name in code, name
    tree = ast.parse(code)
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
                for a in (n.names if isinstance(n, ast.Import) else [ast.alias(n.module or "")])}
    assert not imported & {"torchvision", "qqdm"}, "neither is in the course image"
    # fcn_autoencoder: the sample's 128 -> 64 -> 12 -> 3 code and back, Tanh out.
    fcn = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "fcn_autoencoder")
    linear = [ast.unparse(n) for n in ast.walk(fcn) if isinstance(n, ast.Call) and ast.unparse(n.func) == "nn.Linear"]
    assert linear[1:7] == ["nn.Linear(128, 64)", "nn.Linear(64, 12)", "nn.Linear(12, 3)", "nn.Linear(3, 12)",
                           "nn.Linear(12, 64)", "nn.Linear(64, 128)"], linear
    assert "nn.Tanh()" in ast.unparse(fcn)
    assert any(c.cell_type == "markdown" and "autograder" in c.source for c in nb.cells)
    # The simple reference is the starter's training: same seed, epochs, batch size and learning rate.
    ref = (catalog.REPO_ROOT / spec.baselines["simple"].solution).read_text()
    for field, value in (("seed", "48763"), ("num_epochs", "20"), ("batch_size", "128"), ("learning_rate", "1e-3"),
                         ("eval_batch_size", "200")):
        m = re.search(rf"^    {field}: \w+ = ([\d.e-]+)", ref, re.M)
        assert m and float(m[1]) == float(value), f"simple.py Config.{field} differs from the starter"


def test_release_bundle_is_complete_and_clean(prepared, tmp_path):
    c = prepared
    dest = api.release(c, "hw8", tmp_path / "out")        # refuses (raises) when the scan finds a leak
    names = {p.name for p in dest.iterdir()}
    assert {"README.md", "HW08.ipynb", "data", "sample_submission.csv", "assignment.json", "tests"} <= names
    assert sorted(p.name for p in (dest / "data").iterdir()) == ["testingset.npy", "trainingset.npy"]
    assert (dest / "tests" / "public" / "test_format.py").is_file()
    for leak in ("answers.csv", "kinds.csv", "probe.py", "probe_labels.npy", "probeset.npy", "data.py"):
        assert not list(dest.rglob(leak)), leak
    from grader.release import scan_bundle
    assert scan_bundle(c, api.assignment("hw8"), dest) == []


def test_malformed_submissions_get_precise_messages(prepared):
    spec = api.assignment("hw8")
    ids = np.arange(2000)
    good = "ID,score\n" + "".join(f"{i},{i * 0.5}\n" for i in ids)
    validate(good.encode(), "prediction.csv", spec.submission, ids)

    def problems(text):
        with pytest.raises(Invalid) as e:
            validate(text.encode(), "prediction.csv", spec.submission, ids)
        return str(e.value)

    assert "header is 'Id,Score'" in problems(good.replace("ID,score", "Id,Score"))
    assert "line 3: 'high' in column score is not a number" in problems(good.replace("\n1,0.5\n", "\n1,high\n"))
    assert "NaN or infinite" in problems(good.replace("\n1,0.5\n", "\n1,nan\n"))
    assert "1,999 rows, expected 2,000" in problems(good.rsplit("\n", 2)[0] + "\n")
    assert "unknown id(s): 2000 (line 2)" in problems(good.replace("\n0,0.0\n", "\n2000,0.0\n"))


@pytest.mark.slow
def test_ladder_calibrates_with_the_starter(prepared, tmp_path):
    c = prepared
    # One pass: calibrate runs the starter too and records nothing unless it lands between simple and
    # medium, which is what verify checks (tests/test_calibrate.py covers verify itself).
    rep = api.calibrate(c, "hw8", with_starter=True)
    assert rep.ok, rep.problems
    for board in ("public", "private"):
        scores = [getattr(rep.runs[lv], board) for lv in LEVELS]
        assert scores == sorted(scores)
    # A reference's file scores as calibrated and passes its level; the starter's equals simple's.
    before_deadline = c.aware(datetime.fromisoformat("2022-05-06T12:00:00"))     # no late submissions
    sub = api.submit(c, "hw8", rep.runs["medium"].pred, student="s1", now=before_deadline)
    assert sub.status == "scored" and abs(sub.public - rep.runs["medium"].public) < 1e-9
    assert rep.runs["starter"].pred.read_bytes() == rep.runs["simple"].pred.read_bytes()
    print("\nHW8: " + ", ".join(f"{n} {r.public:.3f}/{r.private:.3f} ({r.seconds:.0f}s)" for n, r in rep.runs.items())
          + f"; {sum(r.seconds for n, r in rep.runs.items() if n != 'starter'):.0f} s of reference runs")


# A last cell a student might add after writing prediction.csv: an anomaly score that ignores the model.
# The run's predictions are unchanged, but the probed function scores nothing.
BROKEN_SCORE = '''
def anomaly_score(model, images):
    return np.zeros(len(images))
'''


@pytest.mark.slow
def test_rerun_and_hidden_checks_in_a_sandbox(prepared, tmp_path):
    """`grade batch hw8 --rerun`: the unchanged starter reproduces its prediction.csv and earns every code
    point; a hand-edited copy is flagged with the rows that differ; a notebook whose anomaly_score is
    broken loses the checks that need it."""
    from grader.calibrate import _run_starter
    from grader.notebook import write_notebook

    backend = sandbox_backend()
    c = prepared
    spec = api.assignment("hw8")
    # One thread, as in the sandbox (execution.cpus = 1): the same arithmetic, the same scores.
    run = _run_starter(spec, c.data_dir("hw08") / "release", tmp_path / "local", 1)
    assert not run.error, run.error
    honest = (tmp_path / "local" / "prediction.csv").read_text()
    lines = honest.splitlines()
    i, v = lines[11].split(",")
    lines[11] = f"{i},{float(v) + 5.0}"
    for student, pred, extra in (("s1", honest, None), ("s2", "\n".join(lines) + "\n", None),
                                 ("s3", honest, BROKEN_SCORE)):
        d = tmp_path / "class" / student
        d.mkdir(parents=True)
        (d / "prediction.csv").write_text(pred)
        write_notebook(spec.folder / spec.starter.source, d / "HW08.ipynb")
        if extra:
            add_cell(d / "HW08.ipynb", extra)
    out = {o.student: o for o in api.batch(c, "hw8", tmp_path / "class", jobs=2, rerun=True, backend=backend)}
    checks = {s: {k.test: k for k in api.open_course(c.root).store.checks("hw08", s)} for s in out}
    points = spec.execution.points
    code_points = sum(points.values())

    assert out["s1"].status == "scored" and out["s1"].rerun == "match", out["s1"]
    assert out["s1"].hidden_points == code_points == 2.0, checks["s1"]

    assert out["s2"].rerun == "mismatch" and f"id {i}" in out["s2"].rerun_message, out["s2"]
    failed = sorted(k for k, r in checks["s2"].items() if r.status == "failed")
    assert failed == ["test_probed_model_made_the_uploaded_predictions"], checks["s2"]
    assert f"ID {i}: uploaded" in checks["s2"]["test_probed_model_made_the_uploaded_predictions"].message

    assert out["s3"].rerun == "match", out["s3"]
    failed = sorted(k for k, r in checks["s3"].items() if r.status == "failed")
    assert failed == ["test_planted_anomalies_score_higher_than_normal_faces",
                      "test_probed_model_made_the_uploaded_predictions"], checks["s3"]
    assert "ROC AUC is 0.500" in checks["s3"]["test_planted_anomalies_score_higher_than_normal_faces"].message
    assert out["s3"].hidden_points == code_points - points["test_planted_anomalies_score_higher_than_normal_faces"] \
        - points["test_probed_model_made_the_uploaded_predictions"]
    book = {r["student_id"]: r for r in api.gradebook(c)}
    assert book["s1"]["hw08_rerun"] == "match" and book["s2"]["hw08_rerun"] == "mismatch"
