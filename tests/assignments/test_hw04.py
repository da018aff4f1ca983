"""HW4 end to end: the generated Dataset/ layout, the starter notebook, the release bundle and format
messages, the calibrated ladder, and re-execution with the hidden checks in a sandbox."""

import csv
import hashlib
import importlib.util
import json
import os
import re
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
import torch

from grader import api
from grader.course import Course
from grader.notebook import build_notebook
from grader.spec import LEVELS

from .helpers import sandbox_backend

HW = "hw4"


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Course:
    """One prepared course for the whole module: building the data (3,600 feature files) takes seconds."""
    c = Course.init(tmp_path_factory.mktemp("hw04") / "course",
                    homeworks={"hw04": {"deadline": "2022-04-01T23:59:00"}})
    api.prepare(c, HW)
    return c


@pytest.fixture(scope="module")
def bundle(course, tmp_path_factory) -> Path:
    return api.release(course, HW, tmp_path_factory.mktemp("release"))   # raises when the scan finds anything


def builder():
    spec = api.assignment(HW)
    mod_spec = importlib.util.spec_from_file_location("hw04_data_under_test", spec.folder / "data.py")
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    return module


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_generated_layout_matches_the_course(course):
    c = course
    m = api.prepare(c, HW)
    data = c.data_dir("hw04")
    ds = data / "release" / "Dataset"
    meta = json.loads((ds / "metadata.json").read_text())
    mapping = json.loads((ds / "mapping.json").read_text())
    test = json.loads((ds / "testdata.json").read_text())
    assert meta["n_mels"] == 40 and test["n_mels"] == 40
    speakers = list(meta["speakers"])
    assert len(speakers) == 60 and all(re.fullmatch(r"id\d{5}", s) for s in speakers)
    assert mapping["speaker2id"] == {s: i for i, s in enumerate(sorted(speakers))}
    assert mapping["id2speaker"] == {str(i): s for s, i in mapping["speaker2id"].items()}
    train = [u for s in speakers for u in meta["speakers"][s]]
    assert len(train) == 2400 and len(test["utterances"]) == m["rows"] == 1200
    files = {u["feature_path"] for u in train + test["utterances"]}
    assert len(files) == 3600 and all(re.fullmatch(r"uttr-[0-9a-f]{32}\.pt", f) for f in files)
    assert {p.name for p in ds.glob("*.pt")} == files, "every feature file is listed once, nothing else"
    for u in train[:3] + test["utterances"][:3]:
        mel = torch.load(ds / u["feature_path"], weights_only=True)
        assert mel.dtype == torch.float32 and tuple(mel.shape) == (u["mel_len"], 40)
        assert 60 <= u["mel_len"] <= 200 and mel.min() > -20, "real frames stay above the -20 padding"
    answers = read_csv(data / "hidden" / "answers.csv")
    assert answers[0] == ["Id", "Category"]
    assert [r[0] for r in answers[1:]] == [u["feature_path"] for u in test["utterances"]]
    assert {r[1] for r in answers[1:]} <= set(speakers)
    sample = read_csv(data / "release" / "sample_submission.csv")
    assert sample[0] == ["Id", "Category"] and [r[0] for r in sample[1:]] == [r[0] for r in answers[1:]]
    probe = data / "hidden_inputs"
    assert {p.name for p in probe.iterdir()} == {"probe_mels.npy", "probe_lens.npy"}
    # the full scale has the course's shapes
    full = builder().SCALES["full"]
    assert (full["n_speakers"], full["n_train"], full["n_test"]) == (600, 56666, 8000)


def test_same_seed_same_bytes(tmp_path):
    data = builder()
    small = {"n_speakers": 4, "n_train": 10, "n_test": 6, "n_probe": 3}

    def digest(seed, name):
        root = tmp_path / name
        data.build(SimpleNamespace(seed=seed, source="generated", edition="2022", scale="ci", shared_data=None,
                                   release_dir=root / "release", hidden_dir=root / "hidden",
                                   hidden_inputs_dir=root / "hidden_inputs", options=small, layout={}))
        h = hashlib.sha256()
        for p in sorted(root.rglob("*")):
            if p.is_file():
                h.update(p.relative_to(root).as_posix().encode() + p.read_bytes())
        return h.hexdigest()

    assert digest(7, "a") == digest(7, "b") != digest(8, "c")


def test_there_is_no_real_source(tmp_path):
    """The VoxCeleb2 features are not redistributable (and ../shared/data has none): only 'generated'."""
    assert set(api.assignment(HW).data.sources) == {"generated"}
    ctx = SimpleNamespace(seed=1, source="real", edition="2022", scale="ci", shared_data=None,
                          release_dir=tmp_path / "r", hidden_dir=tmp_path / "h", hidden_inputs_dir=tmp_path / "i",
                          options={}, layout={})
    with pytest.raises(ValueError, match="only the 'generated' source"):
        builder().build(ctx)


def test_starter_notebook_mirrors_the_course_sample_code():
    spec = api.assignment(HW)
    source = (spec.folder / spec.starter.source).read_text()
    nb = build_notebook(source)
    nbformat.validate(nb)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for name in ("def set_seed", "set_seed(87)", "class myDataset", "def collate_batch",
                 "pad_sequence(mel, batch_first=True, padding_value=-20)", "def get_dataloader",
                 "trainlen = int(0.9 * len(dataset))", "class Classifier", "d_model=80, n_spks=600, dropout=0.1",
                 "nn.TransformerEncoderLayer(", "dim_feedforward=256, nhead=2", "stats = out.mean(dim=1)",
                 "self.pred_layer = nn.Sequential(", "def get_cosine_schedule_with_warmup", "def model_fn",
                 "def valid", "def parse_args", "def main", "AdamW(model.parameters(), lr=1e-3)",
                 "class InferenceDataset", "def inference_collate_batch", '["Id", "Category"]',
                 "Change Transformer to Conformer."):
        assert name in code, name
    assert code.count("def parse_args") == 2 and code.count("def main") == 2, "training and inference mains"
    assert any(c.cell_type == "markdown" and "autograder" in c.source for c in nb.cells)
    # the simple reference trains with the starter's configuration
    simple = (Path(api.__file__).resolve().parents[1] / spec.baselines["simple"].solution).read_text()
    for key in ("batch_size", "valid_steps", "warmup_steps", "save_steps", "total_steps"):
        starter_value = re.search(rf'"{key}": (\d+)', code).group(1)
        assert re.search(rf"{key}: int = {starter_value}\b", simple), key
    assert re.search(r"segment_len=(\d+)", code).group(1) == re.search(r"segment_len: int = (\d+)", simple).group(1)


def test_release_bundle_is_complete_and_clean(course, bundle):
    c, dest = course, bundle
    names = {p.name for p in dest.iterdir()}
    assert {"README.md", "HW04.ipynb", "Dataset", "sample_submission.csv", "assignment.json", "tests"} <= names
    assert {"metadata.json", "mapping.json", "testdata.json"} <= {p.name for p in (dest / "Dataset").iterdir()}
    assert (dest / "tests" / "public" / "test_format.py").is_file()
    assert not (dest / "hidden").exists() and not list(dest.rglob("answers.csv"))
    from grader.release import scan_bundle
    assert scan_bundle(c, api.assignment(HW), dest) == []


def test_check_gives_precise_messages(bundle, tmp_path):
    dest = bundle
    rows = read_csv(dest / "sample_submission.csv")
    mapping = json.loads((dest / "Dataset" / "mapping.json").read_text())

    def write(name, body):
        p = tmp_path / name
        with open(p, "w", newline="") as f:
            csv.writer(f).writerows(body)
        return p

    good = write("good.csv", [rows[0]] + [[i, mapping["id2speaker"]["1"]] for i, _ in rows[1:]])
    assert api.check(HW, good, bundle=dest) == []
    bad_header = write("h.csv", [["id", "category"]] + rows[1:])
    assert any("header" in p and "Id,Category" in p for p in api.check(HW, bad_header, bundle=dest))
    missing = write("m.csv", rows[:-1])
    assert any("missing" in p and rows[-1][0] in p for p in api.check(HW, missing, bundle=dest))
    numbers = write("n.csv", [rows[0]] + [[i, "3"] for i, _ in rows[1:]])
    problems = "\n".join(api.check(HW, numbers, bundle=dest))
    assert "speaker name" in problems and "line 2: '3'" in problems


@pytest.mark.slow
def test_ladder_calibrates_with_the_starter(course):
    """One pass (what calibrate + verify check): each level beats the one below by min_gap on both boards,
    the unchanged starter reaches simple and not medium, and it predicts exactly what simple does."""
    c = course
    rep = api.calibrate(c, HW, with_starter=True)
    assert rep.ok, rep.problems
    for board in ("public", "private"):
        scores = [getattr(rep.runs[lv], board) for lv in LEVELS]
        assert scores == sorted(scores)
    assert rep.runs["starter"].pred.read_bytes() == rep.runs["simple"].pred.read_bytes()
    total = sum(r.seconds for r in rep.runs.values())
    print(f"\nHW4: " + ", ".join(f"{n} {r.public:.3f}/{r.private:.3f} ({r.seconds:.0f}s)"
                                for n, r in rep.runs.items()) + f"; {total:.0f} s of runs")


# A cell appended to the notebook: it runs after the inference, so the run is unharmed, but the probe
# builds the last Classifier defined, which now scores only 10 speakers.
BROKEN_CELL = """
# %%
class Classifier(Classifier):
    def forward(self, mels):
        return super().forward(mels)[:, :10]
"""


def masked_starter(source: str) -> str:
    """The starter with padding masked in attention and pooling, and a short training."""
    out = source.replace("out = self.encoder_layer(out)",
                         "out = self.encoder_layer(out, src_key_padding_mask=(mels == -20).all(-1))")
    out = out.replace("stats = out.mean(dim=1)",
                      "keep = (mels != -20).any(-1, keepdim=True).float()\n"
                      "        stats = (out * keep).sum(1) / keep.sum(1)")
    out = out.replace('"save_steps": 400', '"save_steps": 100').replace('"total_steps": 400', '"total_steps": 100')
    assert out.count("src_key_padding_mask=") == 1 and "keep.sum(1)" in out and '"total_steps": 100' in out
    return out


@pytest.mark.slow
def test_rerun_and_hidden_checks_in_a_sandbox(course, tmp_path):
    """`grade batch hw4 --rerun`: the unchanged starter reproduces its output.csv and earns every hidden
    point (the padding check, worth nothing, fails as documented); a hand-edited copy is flagged with
    the rows that differ; a notebook whose Classifier is broken loses that check's points; a notebook
    that masks padding passes the padding check."""
    from grader.calibrate import _run_starter
    from grader.notebook import write_notebook

    backend = sandbox_backend()
    c = course
    spec = api.assignment(HW)
    # The unchanged starter's own output.csv, trained on one thread as the sandbox re-runs it: the one
    # `verify` wrote when the ladder test ran first (same course and data; one thread when the machine
    # has fewer than 4 cores), else a fresh local run.
    local = c.calibration_dir("hw04") / "starter"
    if not (local / "output.csv").is_file() or (os.cpu_count() or 1) // 2 > 1:
        local = tmp_path / "local"
        run = _run_starter(spec, c.data_dir("hw04") / "release", local, 1)
        assert not run.error, run.error
    honest = read_csv(local / "output.csv")
    names = sorted(json.loads((c.data_dir("hw04") / "release" / "Dataset" / "mapping.json").read_text())["speaker2id"])
    tampered = [r[:] for r in honest]
    for r in tampered[1:21]:                       # 20 rows (1.7 %) changed to another speaker
        r[1] = names[(names.index(r[1]) + 1) % len(names)]
    source = (spec.folder / spec.starter.source).read_text()
    students = {"b1": (source, honest), "b2": (source, tampered), "b3": (source + BROKEN_CELL, honest),
                "b4": (masked_starter(source), None)}
    for student, (src, pred) in students.items():
        d = tmp_path / "class" / student
        d.mkdir(parents=True)
        if pred is not None:
            with open(d / "output.csv", "w", newline="") as f:
                csv.writer(f).writerows(pred)
        (tmp_path / f"{student}.py").write_text(src)
        write_notebook(tmp_path / f"{student}.py", d / "HW04.ipynb")
    out = {o.student: o for o in api.batch(c, HW, tmp_path / "class", jobs=2, rerun=True, backend=backend)}
    store = api.open_course(c.root).store

    def checks(student):
        return {k.test: k for k in store.checks("hw04", student)}

    full = sum(spec.execution.points.values())
    assert out["b1"].rerun == "match" and out["b1"].hidden_points == full == 2.0, out["b1"]
    b1 = checks("b1")
    assert b1["test_padding_does_not_change_predictions"].status == "failed"
    assert all(k.status == "passed" for t, k in b1.items() if t != "test_padding_does_not_change_predictions")

    assert out["b3"].rerun == "match"
    b3 = checks("b3")
    assert b3["test_model_scores_every_speaker_for_a_padded_batch"].status == "failed"
    assert "(48, 10)" in b3["test_model_scores_every_speaker_for_a_padded_batch"].message
    assert out["b3"].hidden_points == pytest.approx(0.5)    # output file + determinism

    b4 = checks("b4")
    assert out["b4"].rerun == "missing"
    assert b4["test_padding_does_not_change_predictions"].status == "passed", b4
    assert b4["test_model_scores_every_speaker_for_a_padded_batch"].status == "passed"

    book = {r["student_id"]: r for r in api.gradebook(c)}
    assert book["b1"]["hw04_rerun"] == "match"

    assert out["b2"].rerun == "mismatch" and "20 of 1200 rows differ" in out["b2"].rerun_message
    assert f"id {honest[1][0]}: {tampered[1][1]!r} vs {honest[1][1]!r}" in out["b2"].rerun_message
    failed = sorted(t for t, k in checks("b2").items() if k.status == "failed")
    assert failed == ["test_padding_does_not_change_predictions", "test_probed_model_made_the_uploaded_predictions"]

    assert book["b2"]["hw04_rerun"] == "mismatch"
