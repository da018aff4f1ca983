"""HW5 end to end: the generated corpus in the course's layout, the starter notebook, the release bundle
and format messages, the calibrated ladder, and re-execution with the hidden checks in a sandbox."""

import csv
import hashlib
import importlib.util
import re
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from grader import api
from grader.course import Course
from grader.notebook import build_notebook
from grader.spec import LEVELS

from .helpers import sandbox_backend

HW = "hw5"
ROOT = Path(api.__file__).resolve().parents[1]
TED = Path("DATA") / "rawdata" / "ted2020"
MONO = Path("DATA") / "rawdata" / "mono" / "ted_zh_corpus.deduped"
CJK = re.compile(r"[\u4e00-\u9fff]")


def make(root: Path) -> Course:
    return Course.init(root, homeworks={"hw05": {"deadline": "2099-04-08T23:59:00", "source": "generated"}})


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Course:
    c = make(tmp_path_factory.mktemp("hw05") / "course")
    api.prepare(c, HW)
    return c


@pytest.fixture(scope="module")
def bundle(course, tmp_path_factory) -> Path:
    return api.release(course, HW, tmp_path_factory.mktemp("release"))   # raises when the scan finds anything


def builder():
    spec = api.assignment(HW)
    mod_spec = importlib.util.spec_from_file_location("hw05_data_under_test", spec.folder / "data.py")
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    return module


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")[:-1]


def answers(course) -> list[list[str]]:
    with open(course.data_dir("hw05") / "hidden" / "answers.csv", newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_generated_layout_matches_the_course(course):
    m = api.prepare(course, HW)
    rel = course.data_dir("hw05") / "release"
    en, zh = lines(rel / TED / "train_dev.raw.en"), lines(rel / TED / "train_dev.raw.zh")
    test_en, test_zh = lines(rel / TED / "test.raw.en"), lines(rel / TED / "test.raw.zh")
    mono = lines(rel / MONO)
    assert (len(en), len(zh), len(test_en), len(mono)) == (1200, 1200, 1000, 4000)
    assert test_zh == ["。"] * len(test_en), "the course's pseudo translation: '。' on every line"
    assert all(s.strip() and not CJK.search(s) for s in en + test_en), "English sides hold no Chinese"
    assert sum(bool(CJK.search(s)) for s in zh) > 0.99 * len(zh) and all(CJK.search(s) for s in mono)
    assert any(s.endswith("?") for s in en) and any(re.search(r"\d", s) for s in en)
    assert sum("把" in s for s in zh) > 0.2 * len(zh), "verb-final clauses with 把"
    ans = answers(course)
    assert ans[0] == ["line", "translation"] and [int(r[0]) for r in ans[1:]] == list(range(len(test_en)))
    refs = [r[1] for r in ans[1:]]
    assert all(CJK.search(r) for r in refs)
    clean_zh = builder().clean_zh
    assert not set(refs) & {clean_zh(s) for s in mono}, "no test reference in the monolingual corpus"
    assert not set(test_en) & set(en), "no test sentence is a training sentence"
    assert lines(rel / "sample_submission.txt") == ["。"] * len(test_en)
    assert m["rows"] == 1000 and m["public_rows"] == 500
    assert {p.name for p in (course.data_dir("hw05") / "hidden_inputs").iterdir()} == {"schedule.json"}
    assert builder().SIZES["full"] == (398066, 4000, 400000)


def test_domains_make_back_translation_pay(course):
    """The ambiguous nouns: the parallel talks use mostly the technical senses, the test references and
    the monolingual corpus mostly the everyday ones (what back-translation teaches)."""
    data = builder()
    rel = course.data_dir("hw05") / "release"
    tech = [t[0] for _, _, t, _ in data.AMBIGUOUS]
    life = [v[0] for _, _, _, v in data.AMBIGUOUS]

    def share_life(texts):
        n_t = sum(s.count(w) for s in texts for w in tech)
        n_l = sum(s.count(w) for s in texts for w in life)
        return n_l / (n_t + n_l)

    assert share_life(lines(rel / TED / "train_dev.raw.zh")) < 0.3
    assert share_life([r[1] for r in answers(course)[1:]]) > 0.7
    assert share_life(lines(rel / MONO)) > 0.7


def test_same_seed_same_bytes(tmp_path):
    data = builder()
    small = {"pairs": 60, "test": 20, "mono": 30}

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


def test_starter_notebook_mirrors_the_course_sample_code():
    spec = api.assignment(HW)
    nb = build_notebook((spec.folder / spec.starter.source).read_text())
    nbformat.validate(nb)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for name in ("seed = 73", "def strQ2B", "def clean_s", "def len_s", "def clean_corpus",
                 "valid_ratio = 0.01", "class TranslationTask", "def load_data_iterator",
                 "class RNNEncoder", "class AttentionLayer", "class RNNDecoder", "class Seq2Seq",
                 "def build_model", "HINT: TODO: switch to TransformerEncoder & TransformerDecoder",
                 "encoder = RNNEncoder(args, src_dict, encoder_embed_tokens)", "def add_transformer_args",
                 "class LabelSmoothedCrossEntropyCriterion", "smoothing=0.1", "def get_rate",
                 "# TODO: Change lr from constant to the equation shown above", "class NoamOpt",
                 "def train_one_epoch", "def GroupedIterator", "def inference_step", "def validate",
                 "def validate_and_save", "def try_load_checkpoint", "def generate_prediction",
                 "max_epoch=15", "betas=(0.9, 0.98)", "ted_zh_corpus.deduped", 'split="train", epoch=1, combine=True'):
        assert name in code, name
    assert any(c.cell_type == "markdown" and "autograder" in c.source for c in nb.cells)
    assert not re.search(r"^\s*(import|from)\s+(sentencepiece|fairseq|torchvision)", code, re.M), "course image only"
    # the simple reference trains with the starter's configuration
    simple = (ROOT / spec.baselines["simple"].solution).read_text()
    for key, starter_pattern in (("max_epoch", r"max_epoch=(\d+)"), ("max_tokens", r"max_tokens=(\d+)"),
                                 ("lr_factor", r"lr_factor=([\d.]+)"), ("lr_warmup", r"lr_warmup=(\d+)"),
                                 ("num_merges", r"num_merges = (\d+)"), ("encoder_embed_dim", r"encoder_embed_dim=(\d+)"),
                                 ("decoder_ffn_embed_dim", r"decoder_ffn_embed_dim=(\d+)"), ("dropout", r"^\s+dropout=([\d.]+),")):
        a = float(re.search(starter_pattern, code, re.M).group(1))
        b = float(re.search(rf"{key}: \w+ = ([\d.]+)", simple).group(1))
        assert a == b, (key, a, b)
    assert "lr = 0.001\n    return lr" in code and "lr = 0.001\n    return lr" in simple, "get_rate is the TODO in both"


def test_release_bundle_is_complete_and_clean(course, bundle):
    names = {p.name for p in bundle.iterdir()}
    assert {"README.md", "HW05.ipynb", "DATA", "sample_submission.txt", "assignment.json", "tests"} <= names
    for f in ("train_dev.raw.en", "train_dev.raw.zh", "test.raw.en", "test.raw.zh"):
        assert (bundle / TED / f).is_file(), f
    assert (bundle / MONO).is_file()
    assert (bundle / "tests" / "public" / "test_format.py").is_file()
    assert not (bundle / "tests" / "hidden").exists() and not list(bundle.rglob("answers.csv"))
    assert not list(bundle.rglob("schedule.json")), "the probe's hidden inputs stay hidden"
    from grader.release import scan_bundle
    assert scan_bundle(course, api.assignment(HW), bundle) == []


def test_check_and_submit_give_precise_messages(course, bundle, tmp_path):
    refs = [r[1] for r in answers(course)[1:]]
    n = len(refs)

    def write(name, text: str | bytes):
        p = tmp_path / name
        p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
        return p

    good = write("prediction.txt", "\n".join(refs) + "\n")
    assert api.check(HW, good, bundle=bundle) == []
    short = write("short.txt", "\n".join(refs[:-3]) + "\n")
    assert any(f"{n - 3:,} lines, expected {n:,}" in p for p in api.check(HW, short, bundle=bundle))
    empty = write("empty.txt", "\n".join(refs[:4] + [""] + refs[5:]) + "\n")
    assert any("empty line" in p and "line 5" in p for p in api.check(HW, empty, bundle=bundle))
    big5 = write("big5.txt", ("\n".join(refs)).encode("big5", errors="replace"))
    assert any("UTF-8" in p for p in api.check(HW, big5, bundle=bundle))
    header = write("header.txt", "translation\n" + "\n".join(refs[1:]) + "\n")
    problems = api.check(HW, header, bundle=bundle)
    assert any("public tests" in p for p in problems) and any("no header" in p for p in problems), problems
    sub = api.submit(api.open_course(course.root), HW, good, student="s1")
    assert sub.status == "scored" and sub.public == pytest.approx(100.0) and sub.private == pytest.approx(100.0)


@pytest.mark.slow
def test_ladder_calibrates_with_the_starter(course):
    # One pass: calibrate runs the starter too and records nothing unless it lands between simple and
    # medium, which is what verify checks (tests/test_calibrate.py covers verify itself).
    rep = api.calibrate(course, HW, with_starter=True)
    assert rep.ok, rep.problems
    for board in ("public", "private"):
        scores = [getattr(rep.runs[lv], board) for lv in LEVELS]
        assert scores == sorted(scores)
        assert getattr(rep.runs["starter"], board) == pytest.approx(getattr(rep.runs["simple"], board), rel=1e-9)
    total = sum(r.seconds for r in rep.runs.values())
    print("\nHW5: " + ", ".join(f"{n} {r.public:.2f}/{r.private:.2f} ({r.seconds:.0f}s)"
                               for n, r in rep.runs.items()) + f"; {total:.0f} s of runs")


def test_hidden_checks_on_plain_probe_outputs(course, tmp_path):
    """The host-side checks on hand-made probe outputs: the Noam formula passes and the sample's constant
    rate fails with the steps that differ; an upload equal to the re-run up to whitespace passes, a
    hand-edited one fails with the line that differs."""
    import json

    import numpy as np

    from grader.scoring.hidden import run_checks

    spec = api.assignment(HW)
    data = course.data_dir("hw05")
    points = json.loads((data / "hidden_inputs" / "schedule.json").read_text())["points"]
    refs = [r[1] for r in answers(course)[1:]]

    def noam(d, s, w):
        s = np.asarray(s, dtype=np.float64)
        return d ** -0.5 * np.minimum(s ** -0.5, s * w ** -1.5)

    def grade(name, rate, upload):
        probe, run = tmp_path / name / "probe", tmp_path / name / "run"
        probe.mkdir(parents=True)
        run.mkdir()
        for k, p in enumerate(points):
            first = np.arange(1, 13)
            np.save(probe / f"get_rate_{k}.npy", rate(p["d_model"], p["steps"], p["warmup"]))
            np.save(probe / f"get_rate_first_{k}.npy", rate(p["d_model"], first, p["warmup"]))
            np.save(probe / f"noam_rate_{k}.npy", p["factor"] * rate(p["d_model"], p["steps"], p["warmup"]))
            np.save(probe / f"noam_lr_{k}.npy", p["factor"] * rate(p["d_model"], first, p["warmup"]))
        (probe / "probe.json").write_text(json.dumps({"problems": [], "errors": {}}))
        (run / "prediction.txt").write_text("\n".join(refs) + "\n", encoding="utf-8")
        (tmp_path / name / "upload.txt").write_text(upload, encoding="utf-8")
        out = run_checks(spec.folder / spec.execution.checks, {
            "GRADE_ARTIFACTS": run, "GRADE_PROBE": probe, "GRADE_HIDDEN": data / "hidden",
            "GRADE_HIDDEN_INPUTS": data / "hidden_inputs", "GRADE_RELEASE": data / "release",
            "GRADE_SUBMISSION": tmp_path / name / "upload.txt"}, spec.execution.points)
        return {c.test: c for c in out}

    spaced = "\r\n".join(" " + r.replace(" ", "  ") + "\t" for r in refs) + "\r\n"   # another editor's whitespace
    ok = grade("ok", noam, spaced)
    assert all(c.status == "passed" for c in ok.values()), ok
    assert sum(c.points for c in ok.values()) == pytest.approx(sum(spec.execution.points.values()))
    edited = list(refs)
    edited[7] = edited[7] + "很好"
    bad = grade("bad", lambda d, s, w: np.full(len(s), 0.001), "\n".join(edited) + "\n")
    assert bad["test_get_rate_is_the_inverse_square_root_warmup"].status == "failed"
    assert "instead of" in bad["test_get_rate_is_the_inverse_square_root_warmup"].message
    assert bad["test_noam_optimizer_applies_the_schedule"].status == "passed"
    same = bad["test_rerun_wrote_the_uploaded_translations"]
    assert same.status == "failed" and "1 of 1000" in same.message and "line 8" in same.message, same
    assert bad["test_prediction_has_one_clean_line_per_test_sentence"].status == "passed"


# Appended to the notebook: it runs after generate_prediction, so the run is unharmed, but the probe
# takes the last definition of get_rate. FIXED is the course's medium hint; BROKEN raises.
FIXED_CELL = """
# %%
def get_rate(d_model, step_num, warmup_step):
    return d_model ** (-0.5) * min(step_num ** (-0.5), step_num * warmup_step ** (-1.5))
"""
BROKEN_CELL = """
# %%
def get_rate(d_model, step_num, warmup_step):
    raise NotImplementedError("get_rate")
"""


@pytest.mark.slow
def test_rerun_and_hidden_checks_in_a_sandbox(course, tmp_path):
    """`grade batch hw5 --rerun`: the unchanged starter reproduces its prediction.txt and earns every
    hidden point but the schedule's (its get_rate is the course's TODO); with get_rate implemented it
    earns them all; a get_rate that raises loses the schedule's points and NoamOpt's. (A hand-edited
    upload is checked on plain probe outputs above: the core's rerun comparison of text lines cannot
    report a mismatch yet.)"""
    from grader.calibrate import _run_starter
    from grader.notebook import write_notebook

    backend = sandbox_backend()
    spec = api.assignment(HW)
    run = _run_starter(spec, course.data_dir("hw05") / "release", tmp_path / "local", 1)
    assert not run.error, run.error
    honest = (tmp_path / "local" / "prediction.txt").read_text(encoding="utf-8")
    source = (spec.folder / spec.starter.source).read_text()
    students = {"b1": source, "b2": source + FIXED_CELL, "b3": source + BROKEN_CELL}
    for student, src in students.items():
        d = tmp_path / "class" / student
        d.mkdir(parents=True)
        (d / "prediction.txt").write_text(honest, encoding="utf-8")
        (tmp_path / f"{student}.py").write_text(src)
        write_notebook(tmp_path / f"{student}.py", d / "HW05.ipynb")
    out = {o.student: o for o in api.batch(course, HW, tmp_path / "class", jobs=2, rerun=True, backend=backend)}
    store = api.open_course(course.root).store

    def checks(student):
        return {k.test: k for k in store.checks("hw05", student)}

    pts = spec.execution.points
    schedule = "test_get_rate_is_the_inverse_square_root_warmup"
    noam = "test_noam_optimizer_applies_the_schedule"
    same = "test_rerun_wrote_the_uploaded_translations"
    full = sum(pts.values())

    assert out["b1"].rerun == "match", out["b1"]
    b1 = checks("b1")
    assert b1[schedule].status == "failed" and "instead of" in b1[schedule].message, b1[schedule]
    assert all(k.status == "passed" for t, k in b1.items() if t != schedule), b1
    assert out["b1"].hidden_points == pytest.approx(full - pts[schedule])

    assert out["b2"].rerun == "match" and out["b2"].hidden_points == pytest.approx(full), out["b2"]

    assert out["b3"].rerun == "match", out["b3"]
    b3 = checks("b3")
    assert b3[schedule].status == "failed" and "NotImplementedError" in b3[schedule].message, b3[schedule]
    assert b3[noam].status == "failed" and b3[same].status == "passed"
    assert out["b3"].hidden_points == pytest.approx(full - pts[schedule] - pts[noam])

    book = {r["student_id"]: r for r in api.gradebook(course)}
    assert all(book[b]["hw05_rerun"] == "match" for b in students)
