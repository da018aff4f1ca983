"""HW15 end to end: the generated Omniglot layout, the starter notebook, the release, the sandbox.

No ladder test: boss (MAML + task augmentation) cleared strong by 3.0-9.2 % on data seeds 1-3, but a
fresh course secret gave boss 0.764 against strong 0.754 on the public board (private 0.768 vs 0.716),
so a ladder test would pass by chance; see data.py and the README.
"""

import ast
import csv
import importlib.util
import re
import tempfile
from pathlib import Path

import nbformat
import numpy as np
import pytest
from PIL import Image

from grader import api, catalog
from grader.course import Course
from grader.data import BuildContext
from grader.notebook import build_notebook, write_notebook
from grader.scoring.validate import Invalid, validate

from .helpers import add_cell, sandbox_backend

SHARED = catalog.REPO_ROOT.parent / "shared" / "data"


def make(tmp_path) -> Course:
    return Course.init(tmp_path / "c-hw15", homeworks={"hw15": {"deadline": "2022-07-01T23:59:00"}})


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Course:
    """One course with the ci data prepared, shared by the quick tests."""
    c = make(tmp_path_factory.mktemp("hw15"))
    api.prepare(c, "hw15")
    return c


def builder():
    spec = api.assignment("hw15")
    mod_spec = importlib.util.spec_from_file_location("hw15_data_test", spec.folder / "data.py")
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    return module


def build_small(tmp_path, name, seed=7, source="generated", **options):
    """The generator with small counts (options), straight into a folder."""
    root = tmp_path / name
    sizes = {"n_background_alphabets": 2, "chars_per_alphabet": 6, "n_test_alphabets": 2, "n_test_tasks": 4}
    ctx = BuildContext(seed=seed, source=source, edition="2022", scale="ci", shared_data=SHARED,
                       release_dir=root / "release", hidden_dir=root / "hidden", hidden_inputs_dir=root / "hidden_inputs",
                       options={**sizes, **options} if source == "generated" else {"n_test_tasks": 4})
    for d in (ctx.release_dir, ctx.hidden_dir, ctx.hidden_inputs_dir):
        d.mkdir(parents=True)
    builder().build(ctx)
    return root


def rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_generated_layout_matches_the_course(prepared):
    c = prepared
    m = api.prepare(c, "hw15")                   # the cached build
    data = c.data_dir("hw15")
    release = data / "release"
    assert {p.name for p in release.iterdir()} == {"Omniglot", "Omniglot-test", "sample_submission.csv"}
    background = release / "Omniglot" / "images_background"
    alphabets = sorted(p for p in background.iterdir())
    assert len(alphabets) == 4
    for a in alphabets:
        chars = sorted(p.name for p in a.iterdir())
        assert chars == [f"character{k:02d}" for k in range(1, 8)], a.name
        pngs = sorted(p.name for p in (a / "character03").iterdir())
        assert pngs == [f"0003_{k:02d}.png" for k in range(1, 21)], "20 drawings per character, Omniglot's names"
    with Image.open(alphabets[0] / "character01" / "0001_01.png") as im:
        assert im.format == "PNG" and im.mode == "L" and im.size == (28, 28)
        ink = np.asarray(im)
    assert np.median(ink) == 255 and ink.min() < 64, "dark strokes on white, as Omniglot"
    test = release / "Omniglot-test"
    assert sorted(p.name for p in test.iterdir()) == ["query", "support"]
    for kind in ("support", "query"):
        tasks = sorted(p.name for p in (test / kind).iterdir())
        assert tasks == [f"{t:04d}" for t in range(200)]
        assert sorted(p.name for p in (test / kind / "0007").iterdir()) == [f"image_{j}.png" for j in range(5)]
    sample = rows(release / "sample_submission.csv")
    assert sample[0] == ["id", "class"] and [r[0] for r in sample[1:]] == [str(i) for i in range(1000)]
    assert m["rows"] == 1000
    answers = rows(data / "hidden" / "answers.csv")
    assert answers[0] == ["id", "class"] and len(answers) == 1001
    classes = np.array([int(r[1]) for r in answers[1:]]).reshape(200, 5)
    assert (np.sort(classes, axis=1) == np.arange(5)).all(), "each task's 5 queries are its 5 classes, shuffled"
    assert (classes != np.arange(5)).any(axis=1).mean() > 0.9, "query j is not simply class j"
    hi = data / "hidden_inputs"
    assert {p.name for p in hi.iterdir()} == {"probe_task.npy", "probe_lr.npy"}
    task = np.load(hi / "probe_task.npy")
    assert task.shape == (10, 1, 28, 28) and task.dtype == np.float32 and 0 <= task.min() and task.max() <= 1


def test_query_images_are_new_drawings_of_the_support_characters(tmp_path):
    """The query of class k is another drawing of support k's character: it is closer to it than to
    the other supports (on average), and never the same image; test characters are not background ones."""
    root = build_small(tmp_path, "a", n_test_tasks=40)
    test = root / "release" / "Omniglot-test"
    answers = [int(r[1]) for r in rows(root / "hidden" / "answers.csv")[1:]]
    read = lambda p: np.asarray(Image.open(p), dtype=float) / 255
    hits = 0
    for t in range(40):
        s = [read(test / "support" / f"{t:04d}" / f"image_{j}.png") for j in range(5)]
        for j in range(5):
            q = read(test / "query" / f"{t:04d}" / f"image_{j}.png")
            assert not any(np.array_equal(q, x) for x in s)
            hits += int(np.argmin([((1 - q) * (1 - x)).sum() * -1 for x in s]) == answers[5 * t + j])
    assert hits / 200 > 0.3, f"ink overlap finds the class of {hits}/200 queries: the queries do not match their supports"
    bg = {p.read_bytes() for p in (root / "release" / "Omniglot").rglob("*.png")}
    assert not any(p.read_bytes() in bg for p in test.rglob("*.png"))


def test_same_seed_same_bytes(tmp_path):
    a, b = build_small(tmp_path, "a"), build_small(tmp_path, "b")
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files and files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    other = build_small(tmp_path, "other", seed=8)
    first = "release/Omniglot-test/support/0000/image_0.png"
    assert (other / first).read_bytes() != (a / first).read_bytes()


def test_real_omniglot_is_shrunk_to_the_course_size(tmp_path):
    if not (SHARED / "hw15_omniglot" / "images_background_small1.zip").is_file():
        pytest.skip("the real Omniglot zips are not in ../shared/data/hw15_omniglot (an optional resource)")
    root = build_small(tmp_path, "real", source="real")
    background = root / "release" / "Omniglot" / "images_background"
    assert sorted(p.name for p in background.iterdir()) == ["Balinese", "Early_Aramaic", "Greek", "Korean", "Latin"]
    chars = list(background.glob("*/character*"))
    assert len(chars) == 136 and all(len(list(c.iterdir())) == 20 for c in chars)
    with Image.open(next(chars[0].iterdir())) as im:
        assert im.mode == "L" and im.size == (28, 28)
    assert len(rows(root / "hidden" / "answers.csv")) == 1 + 4 * 5


def test_starter_notebook_mirrors_the_course_sample_code():
    spec = api.assignment("hw15")
    source = (spec.folder / spec.starter.source).read_text()
    nb = build_notebook(source)
    nbformat.validate(nb)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for name in ("def set_random_seed(seed)", "random_seed = 0", "def ConvBlock(in_ch: int, out_ch: int)",
                 "def ConvBlockFunction(x, w, b, w_bn, b_bn)", "class Classifier(nn.Module)",
                 "def functional_forward(self, x, params)", "def create_label(n_way, k_shot)",
                 "def calculate_accuracy(logits, labels)", "class Omniglot(Dataset)", "def BaseSolver(",
                 "def MetaSolver(", "raise NotImplementedError", "n_way = 5", "k_shot = 1", "q_query = 1",
                 "train_inner_train_step = 1", "val_inner_train_step = 3", "inner_lr = 0.4", "meta_lr = 0.001",
                 "meta_batch_size = 32", "eval_batches = 20", "def dataloader_init(", "def model_init()",
                 "def get_meta_batch(", 'solver = "base"', "max_epoch = 5", "task_num=10", "class OmniglotTest(Dataset)",
                 "test_inner_train_step = 10", "test_batches = 20", '"Omniglot-test"', "Omniglot/images_background/",
                 "torch.autograd.grad(loss, fast_weights.values(), create_graph=True)", '"output.csv"',
                 'f.write(f"id,class\\n")'):
        assert name in code, name
    imported = {a.name.split(".")[0] for n in ast.walk(ast.parse(code)) if isinstance(n, (ast.Import, ast.ImportFrom))
                for a in (n.names if isinstance(n, ast.Import) else [ast.alias(n.module or "")])}
    assert not imported & {"torchvision", "tqdm", "learn2learn"}, "none is in the course image"
    assert any(c.cell_type == "markdown" and "autograder" in c.source for c in nb.cells)
    # The simple reference is the starter's training: same seed, epochs, steps, learning rates.
    ref = (catalog.REPO_ROOT / spec.baselines["simple"].solution).read_text()
    for field, value in (("seed", "0"), ("max_epoch", "5"), ("meta_batch_size", "32"), ("inner_lr", "0.4"),
                         ("meta_lr", "1e-3"), ("test_inner_train_step", "10"), ("task_num", "10")):
        m = re.search(rf"^    {field}: \w+ = ([\d.e-]+)", ref, re.M)
        assert m and float(m[1]) == float(value), f"simple.py Config.{field} differs from the starter"


def test_starter_inner_step_is_the_functional_sgd_update():
    """The base solver's fast weights after one step are param - inner_lr * grad (what the hidden check wants)."""
    import torch
    from grader.sandbox import probelib

    spec = api.assignment("hw15")
    with tempfile.TemporaryDirectory() as d:
        nb = Path(d) / "HW15.ipynb"
        write_notebook(spec.folder / spec.starter.source, nb)
        sub, problems = probelib.load_definitions(nb, keep={"solver"})
    assert sub.solver == "base" and not problems, problems
    torch.manual_seed(0)
    model = sub.Classifier(1, 5)
    seen = []
    real = model.functional_forward
    model.functional_forward = lambda x, p: (seen.append({k: v.detach().clone() for k, v in p.items()}), real(x, p))[1]
    x = torch.rand(1, 10, 1, 28, 28)
    sub.BaseSolver(model, None, x, 5, 1, 1, torch.nn.CrossEntropyLoss(), inner_train_step=1, inner_lr=0.3, train=False)
    loss = torch.nn.functional.cross_entropy(real(x[0, :5], dict(model.named_parameters())), torch.arange(5))
    grads = torch.autograd.grad(loss, list(model.parameters()))
    for (k, p), g in zip(model.named_parameters(), grads):
        assert torch.allclose(seen[-1][k], p - 0.3 * g, atol=1e-6), k


def test_release_bundle_is_complete_and_clean(prepared, tmp_path):
    c = prepared
    dest = api.release(c, "hw15", tmp_path / "out")        # refuses (raises) when the scan finds a leak
    names = {p.name for p in dest.iterdir()}
    assert {"README.md", "HW15.ipynb", "Omniglot", "Omniglot-test", "sample_submission.csv", "assignment.json",
            "tests"} <= names
    assert len(list((dest / "Omniglot-test" / "query").iterdir())) == 200
    assert (dest / "tests" / "public" / "test_format.py").is_file()
    assert not list(dest.rglob("answers.csv")) and not list(dest.rglob("probe.py"))
    assert not list(dest.rglob("probe_task.npy")) and not list(dest.rglob("probe_lr.npy"))
    from grader.release import scan_bundle
    assert scan_bundle(c, api.assignment("hw15"), dest) == []


def test_malformed_submissions_get_precise_messages(prepared):
    c = prepared
    spec = api.assignment("hw15")
    ids = np.array([int(r[0]) for r in rows(c.data_dir("hw15") / "release" / "sample_submission.csv")[1:]])
    good = "id,class\n" + "".join(f"{i},3\n" for i in ids)
    validate(good.encode(), "output.csv", spec.submission, ids)

    def problems(text):
        with pytest.raises(Invalid) as e:
            validate(text.encode(), "output.csv", spec.submission, ids)
        return str(e.value)

    assert "header is 'id,label'" in problems(good.replace("id,class", "id,label"))
    assert "line 3: 'b' in column class is not an integer" in problems(good.replace("\n1,3", "\n1,b"))
    assert "999 rows, expected 1,000" in problems(good.rsplit("\n", 2)[0] + "\n")


# A last cell a student might add after writing the submission: a base solver whose fine-tuning step
# forgets the learning rate (param - grad). The run's predictions are unchanged.
BROKEN_STEP = '''
COURSE_SOLVER = BaseSolver  # upper case: the probe loads it too

def BaseSolver(model, optimizer, x, n_way, k_shot, q_query, loss_fn, inner_train_step=1, inner_lr=0.4,
               train=True, return_labels=False):
    return COURSE_SOLVER(model, optimizer, x, n_way, k_shot, q_query, loss_fn, inner_train_step=inner_train_step,
                          inner_lr=1.0, train=train, return_labels=return_labels)
'''


@pytest.mark.slow
def test_rerun_and_hidden_checks_in_a_sandbox(tmp_path):
    """`grade batch hw15 --rerun`: the unchanged starter reproduces its output.csv and earns every code
    point; a hand-edited copy is flagged with the rows that differ; a notebook whose inner step ignores
    inner_lr loses that check's points."""
    from grader.calibrate import _run_starter

    backend = sandbox_backend()
    c = make(tmp_path)
    spec = api.assignment("hw15")
    api.prepare(c, "hw15")
    # One thread, as in the sandbox (execution.cpus = 1): the same arithmetic, the same predictions.
    run = _run_starter(spec, c.data_dir("hw15") / "release", tmp_path / "local", 1)
    assert not run.error, run.error
    honest = (tmp_path / "local" / "output.csv").read_text()
    lines = honest.splitlines()
    i, v = lines[11].split(",")
    lines[11] = f"{i},{(int(v) + 1) % 5}"
    for student, pred, extra in (("s1", honest, None), ("s2", "\n".join(lines) + "\n", None),
                                 ("s3", honest, BROKEN_STEP)):
        d = tmp_path / "class" / student
        d.mkdir(parents=True)
        (d / "output.csv").write_text(pred)
        write_notebook(spec.folder / spec.starter.source, d / "HW15.ipynb")
        if extra:
            add_cell(d / "HW15.ipynb", extra)
    out = {o.student: o for o in api.batch(c, "hw15", tmp_path / "class", jobs=2, rerun=True, backend=backend)}
    checks = {s: {k.test: k for k in api.open_course(c.root).store.checks("hw15", s)} for s in out}
    code_points = sum(v for v in spec.execution.points.values())
    step = "test_inner_step_is_the_sgd_update_of_every_parameter"

    assert out["s1"].status == "scored" and out["s1"].rerun == "match", out["s1"]
    assert out["s1"].hidden_points == code_points == 2.0, checks["s1"]

    assert out["s3"].rerun == "match", out["s3"]
    assert checks["s3"][step].status == "failed"
    assert "moved by 1 x grad" in checks["s3"][step].message, checks["s3"][step].message
    assert checks["s3"]["test_solver_predicts_a_class_for_every_query"].status == "passed"
    assert out["s3"].hidden_points == code_points - spec.execution.points[step]

    assert out["s2"].rerun == "mismatch" and f"id {i}: " in out["s2"].rerun_message, out["s2"]
    failed = sorted(k for k, r in checks["s2"].items() if r.status == "failed")
    assert failed == ["test_notebook_reproduces_the_uploaded_predictions"]
    assert f"id {i}: uploaded" in checks["s2"]["test_notebook_reproduces_the_uploaded_predictions"].message
    assert out["s2"].hidden_points == code_points - spec.execution.points["test_notebook_reproduces_the_uploaded_predictions"]
