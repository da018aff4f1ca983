"""HW14 end to end: the MNIST-format rotated-digit tasks, the starter notebook, the release, the ladder, the sandbox."""

import ast
import csv
import gzip
import importlib.util
import re
import struct

import nbformat
import numpy as np
import pytest

from grader import api, catalog
from grader.course import Course
from grader.data import BuildContext
from grader.notebook import build_notebook
from grader.scoring.validate import Invalid, validate
from grader.spec import LEVELS

from .helpers import sandbox_backend

SHARED = catalog.shared_data_dir()
needs_real = pytest.mark.skipif(SHARED is None or not (SHARED / "hw14_mnist").is_dir(),
                                reason="MNIST's t10k files (../shared/data/hw14_mnist) are absent here")
RAW = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz")


def make(tmp_path, source="generated") -> Course:
    return Course.init(tmp_path / f"c-hw14-{source}",
                       homeworks={"hw14": {"deadline": "2022-06-24T23:59:00", "source": source}})


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Course:
    """One course with the ci data prepared, shared by the quick tests."""
    c = make(tmp_path_factory.mktemp("hw14"))
    api.prepare(c, "hw14")
    return c


def builder():
    spec = api.assignment("hw14")
    mod_spec = importlib.util.spec_from_file_location("hw14_data_test", spec.folder / "data.py")
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    return module


def build(tmp_path, name, seed=7):
    root = tmp_path / name
    ctx = BuildContext(seed=seed, source="generated", edition="2022", scale="ci", shared_data=None,
                       release_dir=root / "release", hidden_dir=root / "hidden", hidden_inputs_dir=root / "hidden_inputs")
    builder().build(ctx)
    return root


def idx(path):
    """magic, shape, values of an idx file, read with nothing but struct (as torchvision does)."""
    data = gzip.decompress(path.read_bytes())
    magic = struct.unpack(">I", data[:4])[0]
    shape = struct.unpack(f">{magic & 0xFF}I", data[4:4 + 4 * (magic & 0xFF)])
    return magic, shape, np.frombuffer(data, np.uint8, offset=4 + 4 * len(shape)).reshape(shape)


def rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_generated_layout_matches_the_course(prepared):
    c = prepared
    m = api.prepare(c, "hw14")                   # the cached build
    data = c.data_dir("hw14")
    raw = data / "release" / "MNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(RAW), "torchvision's MNIST/raw names; no test labels"
    (mi, si, x), (ml, sl, y), (mt, st, xt) = (idx(raw / n) for n in RAW)
    assert (mi, ml, mt) == (0x803, 0x801, 0x803)
    assert si[1:] == (28, 28) and st[1:] == (28, 28) and sl == (si[0],)
    assert si[0] == 1200 and st[0] == 597, "scikit-learn's 1,797 digits: 1,200 train, 597 test"
    assert np.bincount(y, minlength=10).min() >= 100, "every digit is in the training set"
    assert x[:, :2].max() <= 40 and x.max() == 255, "MNIST-like: a dark border, strokes up to 255"
    answers = rows(data / "hidden" / "answers.csv")
    assert answers[0] == ["id", "label"] and m["rows"] == 5 * 597
    assert [r[0] for r in answers[1:]] == [str(i) for i in range(5 * 597)]
    labels = np.array([int(r[1]) for r in answers[1:]]).reshape(5, 597)
    assert (labels == labels[0]).all(), "every task holds the same test images, rotated: the same labels"
    sample = rows(data / "release" / "sample_submission.csv")
    assert sample[0] == ["id", "label"] and [r[0] for r in sample[1:]] == [r[0] for r in answers[1:]]
    assert {p.name for p in (data / "hidden_inputs").iterdir()} == {
        "probe_model.pt", "probe_model_moved.pt", "probe_x.npy", "probe_y.npy", "probe_idx.npy"}


def test_same_seed_same_bytes_and_the_rotations_are_the_tasks(tmp_path):
    a, b, other = build(tmp_path, "a"), build(tmp_path, "b"), build(tmp_path, "other", seed=8)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files and files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert [f for f in files if (a / f).read_bytes() != (b / f).read_bytes()] == []
    first = "release/MNIST/raw/t10k-images-idx3-ubyte.gz"
    assert (other / first).read_bytes() != (a / first).read_bytes()
    # The probe batch is rotated 40 degrees: its ink sits elsewhere than the upright digits'.
    probe = np.load(a / "hidden_inputs" / "probe_x.npy")
    assert probe.shape == (64, 1, 28, 28) and 0 <= probe.min() and probe.max() <= 1.0


@needs_real
def test_real_source_splits_mnist_t10k(tmp_path):
    c = make(tmp_path, "real")
    m = api.prepare(c, "hw14")
    raw = c.data_dir("hw14") / "release" / "MNIST" / "raw"
    assert idx(raw / "train-images-idx3-ubyte.gz")[1] == (2000, 28, 28)
    assert idx(raw / "t10k-images-idx3-ubyte.gz")[1] == (1000, 28, 28) and m["rows"] == 5000


def starter_code():
    spec = api.assignment("hw14")
    nb = build_notebook((spec.folder / spec.starter.source).read_text())
    nbformat.validate(nb)
    return nb, "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def test_starter_notebook_mirrors_the_course_sample_code():
    nb, code = starter_code()
    for name in ("def same_seeds(seed)", "def _rotate_image(image, angle)", "class Data()", "class Args:",
                 "task_number = 5", "epochs_per_task = 10", "batch_size = 128",
                 "angle_list = [20 * x for x in range(args.task_number)]", "train_dataloaders = [",
                 "class Model(nn.Module)", "self.fc1 = nn.Linear(1*28*28, 512)", "self.fc4 = nn.Linear(128, 10)",
                 "def train(model, optimizer, dataloader, epochs_per_task, lll_object, lll_lambda, test_dataloaders, evaluate, device, log_step=1)",
                 "total_loss += lll_lambda * lll_loss", "lll_object.update(model)",
                 "def evaluate(model, test_dataloader, device)", "class baseline(object)", "class ewc(object)",
                 "class mas(object)", "class si(object)", "class rwalk(object)", "class scp(object)",
                 "def sample_spherical", "TODO: generate Omega(Ω) matrix for MAS", "TODO: generate Fisher(F) matrix for EWC",
                 "# your code here: add this batch's share to precision_matrices[n]", "omega_add = W / (p_change ** 2 + self.epsilon)",
                 "lll_lambda=100", "lll_lambda=0.1", "lll_lambda=1", "def plot_result(mode_list, task1, task2)",
                 "'acc_summary.png'", "'pred.csv'", "'model.ckpt'"):
        assert name in code, name
    imported = {a.name.split(".")[0] for n in ast.walk(ast.parse(code)) if isinstance(n, (ast.Import, ast.ImportFrom))
                for a in (n.names if isinstance(n, ast.Import) else [ast.alias(n.module or "")])}
    assert not imported & {"torchvision", "tqdm"}, "neither is in the course image"
    assert any(c.cell_type == "markdown" and "adapted to the course autograder" in c.source for c in nb.cells)
    # The simple reference is the starter's training: same seed, epochs, lr, batch size, validation part.
    ref = (catalog.REPO_ROOT / api.assignment("hw14").baselines["simple"].solution).read_text()
    for field, value in (("seed", "0"), ("epochs_per_task", "10"), ("lr", "1e-3"), ("batch_size", "128"),
                         ("valid_size", "200"), ("lll_lambda", "0.0")):
        m = re.search(rf"^    {field}: \w+ = ([\d.e-]+)", ref, re.M)
        assert m and float(m[1]) == float(value), f"simple.py Config.{field} differs from the starter"
    assert re.search(r"^    methods = \['baseline'\]", code, re.M) and re.search(r"^    lr = 1\.0e-3", code, re.M)


def test_starter_methods_give_the_course_formulas_on_the_probe_inputs(prepared, tmp_path):
    """What the hidden checks compare, on the host: the starter's ewc / mas / si against data.py's values."""
    import torch

    from grader.sandbox import probelib

    write_starter(tmp_path / "HW14.ipynb")
    sub, problems = probelib.load_definitions(tmp_path / "HW14.ipynb")
    assert problems == []
    (tmp_path / "done").mkdir()
    write_starter(tmp_path / "done" / "HW14.ipynb", done=True)
    done, problems = probelib.load_definitions(tmp_path / "done" / "HW14.ipynb")
    assert problems == []
    hi, ref = prepared.data_dir("hw14") / "hidden_inputs", np.load(prepared.data_dir("hw14") / "hidden" / "probe_reference.npz")
    state = torch.load(hi / "probe_model.pt", weights_only=True)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(
        torch.from_numpy(np.load(hi / "probe_x.npy")), torch.from_numpy(np.load(hi / "probe_y.npy"))), batch_size=32)
    model = sub.Model()
    model.load_state_dict(state)
    names = [n for n, _ in model.named_parameters()]
    sums = lambda d: np.array([float(d[n].double().sum()) for n in names])   # noqa: E731
    np.testing.assert_allclose(sums(sub.ewc(model, loader, "cpu")._precision_matrices), ref["fisher_sums"], rtol=1e-4)
    assert not sums(sub.mas(model, loader, "cpu")._precision_matrices).any(), "the TODO leaves Ω at zero"
    np.testing.assert_allclose(sums(done.mas(model, loader, "cpu")._precision_matrices), ref["omega_sums"], rtol=1e-4)
    assert (ref["fisher_sums"] > 0).all() and (ref["omega_sums"] > 0).all() and np.abs(ref["si_sums"]).sum() > 0


def test_release_bundle_is_complete_and_clean(prepared, tmp_path):
    c = prepared
    dest = api.release(c, "hw14", tmp_path / "out")        # refuses (raises) when the scan finds a leak
    names = {p.name for p in dest.iterdir()}
    assert {"README.md", "HW14.ipynb", "MNIST", "sample_submission.csv", "assignment.json", "tests"} <= names
    assert sorted(p.name for p in (dest / "MNIST" / "raw").iterdir()) == sorted(RAW)
    assert (dest / "tests" / "public" / "test_format.py").is_file()
    for leak in ("answers.csv", "probe.py", "test_hidden.py", "probe_*", "*.npz"):
        assert not list(dest.rglob(leak)), leak
    from grader.release import scan_bundle
    assert scan_bundle(c, api.assignment("hw14"), dest) == []


def test_malformed_submissions_get_precise_messages(prepared):
    c = prepared
    spec = api.assignment("hw14")
    ids = np.array([int(r[0]) for r in rows(c.data_dir("hw14") / "release" / "sample_submission.csv")[1:]])
    good = "id,label\n" + "".join(f"{i},3\n" for i in ids)
    validate(good.encode(), "pred.csv", spec.submission, ids)

    def problems(text):
        with pytest.raises(Invalid) as e:
            validate(text.encode(), "pred.csv", spec.submission, ids)
        return str(e.value)

    assert "header is 'Id,Category'" in problems(good.replace("id,label", "Id,Category"))
    assert "line 3: 'seven' in column label is not an integer" in problems(good.replace("\n1,3", "\n1,seven"))
    assert "2,984 rows, expected 2,985" in problems(good.rsplit("\n", 2)[0] + "\n")


@pytest.mark.slow
def test_ladder_calibrates_with_the_starter(tmp_path):
    c = make(tmp_path)
    # One pass: calibrate runs the starter too and records nothing unless it lands between simple and
    # medium, which is what verify checks (tests/test_calibrate.py covers verify itself).
    rep = api.calibrate(c, "hw14", with_starter=True)
    assert rep.ok, rep.problems
    for board in ("public", "private"):
        scores = [getattr(rep.runs[lv], board) for lv in LEVELS]
        assert scores == sorted(scores)
    assert rep.runs["starter"].pred.read_bytes() == rep.runs["simple"].pred.read_bytes()
    print("\nHW14: " + ", ".join(f"{n} {r.public:.3f}/{r.private:.3f} ({r.seconds:.0f}s)" for n, r in rep.runs.items())
          + f"; {sum(r.seconds for n, r in rep.runs.items() if n != 'starter'):.0f} s of reference runs")


# A last cell a student might add after writing the submission: MAS with EWC's square instead of the
# absolute value. The run's predictions (the baseline's) are unchanged; the MAS check must fail.
# The course's TODO: MAS's Ω. The starter leaves it to the student; this is the course's own answer.
MAS_TODO = """                # your code here: add this batch's share to precision_matrices[n] for every parameter n
                # (until you do, Ω stays zero and MAS is the baseline)
                pass
"""
MAS_DONE = """                output.pow_(2)
                loss = torch.sum(output, dim=1)
                loss = loss.mean()
                loss.backward()

                for n, p in self.model.named_parameters():
                    precision_matrices[n].data += p.grad.abs() / num_data  ## difference with EWC
"""


def write_starter(dest, done: bool = False) -> None:
    """The starter notebook, unchanged or with the MAS TODO done as the course's answer does it."""
    from grader.notebook import write_notebook

    src = api.assignment("hw14").folder / "starter" / "hw14.py"
    text = src.read_text()
    assert MAS_TODO in text
    tmp = dest.parent / "hw14_done.py"
    tmp.write_text(text.replace(MAS_TODO, MAS_DONE) if done else text)
    write_notebook(tmp, dest)


@pytest.mark.slow
def test_rerun_and_hidden_checks_in_a_sandbox(tmp_path):
    """`grade batch hw14 --rerun`: the unchanged starter reproduces its pred.csv and earns every code
    point but the MAS check's (the course's TODO); with the TODO done it earns them all; a hand-edited
    copy is flagged with the rows that differ."""
    from grader.calibrate import _run_starter

    backend = sandbox_backend()
    c = make(tmp_path)
    spec = api.assignment("hw14")
    api.prepare(c, "hw14")
    # One thread, as in the sandbox (execution.cpus = 1): the same arithmetic, the same predictions.
    run = _run_starter(spec, c.data_dir("hw14") / "release", tmp_path / "local", 1)
    assert not run.error, run.error
    honest = (tmp_path / "local" / "pred.csv").read_text()
    lines = honest.splitlines()
    i, v = lines[11].split(",")
    lines[11] = f"{i},{(int(v) + 1) % 10}"
    for student, pred, done in (("s1", honest, False), ("s2", "\n".join(lines) + "\n", False),
                                ("s3", honest, True)):
        d = tmp_path / "class" / student
        d.mkdir(parents=True)
        (d / "pred.csv").write_text(pred)
        write_starter(d / "HW14.ipynb", done=done)
    out = {o.student: o for o in api.batch(c, "hw14", tmp_path / "class", jobs=2, rerun=True, backend=backend)}
    checks = {s: {k.test: k for k in api.open_course(c.root).store.checks("hw14", s)} for s in out}
    code_points = sum(spec.execution.points.values())
    mas_check, saved = "test_mas_omega_matches_the_course_formula", "test_saved_model_made_the_uploaded_predictions"

    assert out["s1"].status == "scored" and out["s1"].rerun == "match", out["s1"]
    assert checks["s1"][mas_check].status == "failed" and "differ from the course formula" in checks["s1"][mas_check].message
    assert out["s1"].hidden_points == code_points - spec.execution.points[mas_check], checks["s1"]

    assert out["s3"].rerun == "match", out["s3"]
    assert out["s3"].hidden_points == code_points == 2.0, checks["s3"]

    assert out["s2"].rerun == "mismatch" and f"id {i}: " in out["s2"].rerun_message, out["s2"]
    assert checks["s2"][saved].status == "failed" and f"ids [{i}]" in checks["s2"][saved].message
    assert out["s2"].hidden_points == code_points - spec.execution.points[saved] - spec.execution.points[mas_check]
