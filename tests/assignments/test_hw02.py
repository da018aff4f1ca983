"""HW2 end to end: the generated libriphone layout, the starter notebook, the release bundle, the calibrated
ladder, and re-execution with the hidden checks in a sandbox."""

import importlib.util
import re
from datetime import datetime

import nbformat
import numpy as np
import pytest
import torch

from grader import api
from grader.course import Course
from grader.notebook import build_notebook
from grader.sandbox.probelib import load_definitions
from grader.scoring.validate import Invalid, validate
from grader.spec import LEVELS

from .helpers import sandbox_backend

SPEC = api.assignment("hw2")


def make(tmp_path) -> Course:
    return Course.init(tmp_path / "c-hw02", homeworks={"hw02": {"deadline": "2022-03-18T23:59:00"}})


def module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


DATA = module(SPEC.folder / "data.py", "hw02_data")
HIDDEN_CHECKS_SRC = SPEC.folder / "tests" / "hidden" / "test_hidden.py"


def course_concat_feat(x, n):
    """The course's definition, as the hidden check states it (edge frames repeated)."""
    k = n // 2
    padded = np.concatenate([np.repeat(x[:1], k, axis=0), x, np.repeat(x[-1:], k, axis=0)])
    return np.concatenate([padded[j:j + len(x)] for j in range(n)], axis=1)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    c = make(tmp_path_factory.mktemp("hw02"))
    manifest = api.prepare(c, "hw2")
    return c, manifest


def test_generated_layout_matches_the_course(prepared):
    c, manifest = prepared
    root = c.data_dir("hw02") / "release"
    lib = root / "libriphone"
    assert sorted(p.name for p in root.iterdir()) == ["libriphone", "sample_submission.csv"]
    assert sorted(p.name for p in lib.iterdir()) == ["feat", "test_split.txt", "train_labels.txt", "train_split.txt"]
    train_ids = (lib / "train_split.txt").read_text().split()
    test_ids = (lib / "test_split.txt").read_text().split()
    assert len(train_ids) == DATA.SCALES["ci"]["train_utts"] and len(test_ids) == DATA.SCALES["ci"]["test_utts"]
    assert all(re.fullmatch(r"\d+-\d+-\d{4}", u) for u in train_ids + test_ids), "LibriSpeech-style ids"
    assert not set(train_ids) & set(test_ids)
    assert {p.stem for p in (lib / "feat" / "train").glob("*.pt")} == set(train_ids)
    assert {p.stem for p in (lib / "feat" / "test").glob("*.pt")} == set(test_ids)

    labels = {}
    for line in (lib / "train_labels.txt").read_text().splitlines():
        utt, *lab = line.split(" ")
        labels[utt] = np.array(lab, dtype=int)
    assert set(labels) == set(train_ids), "one label line per training utterance, none for the test set"
    for utt in train_ids[:50]:
        feat = torch.load(lib / "feat" / "train" / f"{utt}.pt")             # what the notebook calls
        assert feat.dtype == torch.float32 and feat.ndim == 2 and feat.shape[1] == 39
        assert len(labels[utt]) == len(feat), f"{utt}: a label per frame"
        # CMVN per utterance with the population std (torch's default std divides by n - 1, which for a
        # 48-frame utterance is 1 % off and failed on some seeds)
        assert np.allclose(feat.mean(0), 0, atol=1e-4) and np.allclose(feat.std(0, correction=0), 1, atol=1e-4), "CMVN"
    classes = np.concatenate(list(labels.values()))
    assert classes.min() == 0 and classes.max() == 40 and len(np.unique(classes)) == 41, "41 phone classes"

    n_test = sum(len(torch.load(lib / "feat" / "test" / f"{u}.pt")) for u in test_ids)
    answers = np.loadtxt(c.data_dir("hw02") / "hidden" / "answers.csv", delimiter=",", skiprows=1, dtype=int)
    assert manifest["rows"] == n_test == len(answers)
    assert (answers[:, 0] == np.arange(n_test)).all(), "Id = running frame index over test_split"
    seqs = sorted((c.data_dir("hw02") / "hidden_inputs").glob("seq_*.npy"))
    assert seqs and all(np.load(p).shape[1] == 39 for p in seqs)


def test_full_scale_has_the_course_sizes():
    """`full` scale: 4,268 + 1,078 utterances with exactly the course's frame counts (sizes only; building
    the 3.3M frames takes minutes)."""
    rng = np.random.default_rng(0)
    full = DATA.SCALES["full"]
    for split in ("train", "test"):
        lengths = DATA.utterance_lengths(rng, full[f"{split}_utts"], full, split)
        assert len(lengths) == {"train": 4268, "test": 1078}[split]
        assert lengths.sum() == {"train": 2_644_158, "test": 646_268}[split] and lengths.min() >= 40


def test_same_seed_gives_identical_files(tmp_path):
    from types import SimpleNamespace

    from grader.data import fingerprint_dir

    prints = []
    for run in ("a", "b"):
        d = tmp_path / run
        ctx = SimpleNamespace(seed=11, source="generated", edition="2022", scale="ci", shared_data=None,
                              release_dir=d / "release", hidden_dir=d / "hidden", hidden_inputs_dir=d / "hidden_inputs",
                              options={}, layout={})
        DATA.build(ctx)
        prints.append(fingerprint_dir(d / "release", d / "hidden", d / "hidden_inputs"))
    assert prints[0] == prints[1]


def test_starter_notebook_mirrors_the_course_sample_code():
    nb = build_notebook((SPEC.folder / SPEC.starter.source).read_text())
    nbformat.validate(nb)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for name in ("def load_feat", "def shift", "def concat_feat", "def preprocess_data", "class LibriDataset",
                 "class BasicBlock", "class Classifier", "def same_seeds", "nn.CrossEntropyLoss()",
                 "torch.optim.AdamW", "f.write('Id,Class\\n')"):
        assert name in code, name
    # the sample's hyper-parameters (num_epoch is scaled for the corpus)
    for line in ("concat_nframes = 1", "train_ratio = 0.8", "seed = 0", "batch_size = 512",
                 "learning_rate = 0.0001", "input_dim = 39 * concat_nframes", "hidden_layers = 1",
                 "hidden_dim = 256"):
        assert re.search(rf"^{re.escape(line)}\b", code, re.M), line
    assert "TODO" in code and "batch normalization" in code, "the course's hints stay in the notebook"
    assert "GRADE_DATA_DIR" in code and "GRADE_OUTPUT_DIR" in code
    assert any(c.cell_type == "markdown" and "autograder" in c.source for c in nb.cells)


def test_starter_concat_feat_is_the_course_definition(tmp_path):
    """What the hidden check expects is what the starter does: past and future frames, edges repeated."""
    nb = tmp_path / "HW02.ipynb"
    nbformat.write(build_notebook((SPEC.folder / SPEC.starter.source).read_text()), str(nb))
    sub, problems = load_definitions(nb)
    assert not problems, problems
    x = np.random.default_rng(0).normal(size=(17, 39)).astype(np.float32)
    for n in (1, 3, 5, 11):
        out = sub.concat_feat(torch.from_numpy(x.copy()), n).numpy()
        np.testing.assert_array_equal(out, course_concat_feat(x, n))
    assert "def course_concat_feat" in HIDDEN_CHECKS_SRC.read_text()


def test_release_bundle_is_complete_and_clean(prepared, tmp_path):
    c, _ = prepared
    dest = api.release(c, "hw2", tmp_path / "out")          # raises when the content scan finds a leak
    names = {p.name for p in dest.iterdir()}
    assert {"README.md", "HW02.ipynb", "libriphone", "sample_submission.csv", "assignment.json", "tests"} <= names
    assert (dest / "tests" / "public" / "test_format.py").is_file()
    lib = dest / "libriphone"
    assert not (lib / "test_labels.txt").exists()
    assert len(list((lib / "feat" / "test").glob("*.pt"))) == DATA.SCALES["ci"]["test_utts"]
    assert not any(p.suffix == ".npy" for p in dest.rglob("*")), "no probe inputs in the bundle"


def test_malformed_predictions_get_precise_messages(prepared):
    _, manifest = prepared
    ids = np.arange(manifest["rows"])
    good = "Id,Class\n" + "".join(f"{i},3\n" for i in ids)
    validate(good.encode(), "prediction.csv", SPEC.submission, ids)
    cases = {
        "id,class\n" + good.split("\n", 1)[1]: "line 1: header is 'id,class', expected 'Id,Class'",
        good.replace("\n5,3\n", "\n5,ah\n"): "line 7: 'ah' in column Class is not an integer",
        good.replace("\n5,3\n", "\n5,3.0\n"): "line 7: '3.0' in column Class is not an integer",
        good.replace("\n5,3\n", "\n"): "1 expected id(s) are missing: 5",
        good.replace("\n5,3\n", "\n4,3\n"): "1 duplicate id(s): 4",
    }
    for text, message in cases.items():
        with pytest.raises(Invalid) as e:
            validate(text.encode(), "prediction.csv", SPEC.submission, ids)
        assert message in str(e.value), str(e.value)


@pytest.mark.slow
def test_ladder_calibrates_and_verifies(tmp_path):
    c = make(tmp_path)
    cal = api.calibrate(c, "hw2")
    assert cal.ok, cal.problems
    rep = api.verify(c, "hw2")
    assert rep.ok, rep.problems
    for board in ("public", "private"):
        scores = [getattr(rep.runs[lv], board) for lv in LEVELS]
        assert scores == sorted(scores)
    assert rep.runs["starter"].public == rep.runs["simple"].public, "the unchanged starter is the simple reference"
    before_deadline = c.aware(datetime.fromisoformat("2022-03-10T12:00:00"))
    res = api.submit(c, "hw2", rep.runs["boss"].pred, student="s1", now=before_deadline)
    assert res.status == "scored" and set(res.passed) == set(LEVELS), res
    total = sum(r.seconds for r in rep.runs.values())
    print("\nHW2: " + ", ".join(f"{n} {r.public:.4f}/{r.private:.4f} ({r.seconds:.0f}s)"
                               for n, r in rep.runs.items()) + f"; {total:.0f} s of runs")


def _broken_concat_feat(source: str) -> str:
    """The starter with zero padding at the utterance edges instead of the repeated edge frame."""
    old = "        left = x[0].repeat(-n, 1)\n"
    assert old in source
    source = source.replace(old, "        left = torch.zeros(-n, x.size(1))\n")
    return source.replace("        right = x[-1].repeat(n, 1)\n", "        right = torch.zeros(n, x.size(1))\n")


@pytest.mark.slow
def test_rerun_and_hidden_checks_on_the_starter(tmp_path):
    """`grade batch hw2 --rerun`: the unchanged starter reproduces its prediction.csv and earns every hidden
    point; a hand-edited copy is flagged with the frames that differ; a notebook whose concat_feat pads
    with zeros still reproduces its file (it trains with concat_nframes = 1) but loses the padding check."""
    from grader.calibrate import _run_starter
    from grader.notebook import write_notebook

    backend = sandbox_backend()
    c = make(tmp_path)
    api.prepare(c, "hw2")
    run = _run_starter(SPEC, c.data_dir("hw02") / "release", tmp_path / "local", 1)
    assert not run.error, run.error
    honest = (tmp_path / "local" / "prediction.csv").read_text()
    lines = honest.splitlines()
    i, v = lines[10].split(",")
    lines[10] = f"{i},{(int(v) + 1) % 41}"
    broken_src = tmp_path / "broken.py"
    broken_src.write_text(_broken_concat_feat((SPEC.folder / SPEC.starter.source).read_text()))
    for student, pred, source in (("b1", honest, SPEC.folder / SPEC.starter.source),
                                  ("b2", "\n".join(lines) + "\n", SPEC.folder / SPEC.starter.source),
                                  ("b3", honest, broken_src)):
        d = tmp_path / "class" / student
        d.mkdir(parents=True)
        (d / "prediction.csv").write_text(pred)
        write_notebook(source, d / "HW02.ipynb")
    out = {o.student: o for o in api.batch(c, "hw2", tmp_path / "class", jobs=2, rerun=True, backend=backend)}
    assert out["b1"].rerun == "match" and out["b1"].hidden_points == SPEC.points.code, out["b1"]
    assert out["b2"].rerun == "mismatch" and f"id {i}" in out["b2"].rerun_message, out["b2"]
    assert out["b3"].rerun == "match", out["b3"]
    checks = api.open_course(c.root).store
    failed = {s: [x.test for x in checks.checks("hw02", s) if x.status != "passed"] for s in ("b1", "b2", "b3")}
    assert failed == {"b1": [], "b2": ["test_uploaded_predictions_match_the_rerun"],
                      "b3": ["test_concat_feat_pads_edges_like_the_course"]}, failed
    assert out["b3"].hidden_points == SPEC.points.code - SPEC.execution.points["test_concat_feat_pads_edges_like_the_course"]
