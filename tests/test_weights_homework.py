"""A weights homework end to end (the toy hw96: the student uploads a state dict and the host plays it on
hidden episodes with course code in grading.py, as HW12's policy on hidden seeds)."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
import torch

from grader import api, catalog, demo
from grader.course import Course
from grader.execution import _compare_weights
from grader.scoring.weights import write_weights

from .conftest import BEFORE, TOY_ROOT, at


@pytest.fixture(scope="module")
def calibrated_policy(tmp_path_factory) -> Course:
    """One calibrated course for the module (four reference runs cost seconds each)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRADE_ASSIGNMENTS", str(TOY_ROOT))
        catalog._load_all.cache_clear()
        c = Course.init(tmp_path_factory.mktemp("hw96") / "course",
                        homeworks={"hw96": {"deadline": "2022-02-23T23:59:00"}})
        rep = api.calibrate(c, "hw96")
    catalog._load_all.cache_clear()
    assert rep.ok, rep.problems
    return c


@pytest.fixture
def policy_course(calibrated_policy, toy) -> Course:
    return calibrated_policy


def submit(course, sid, data):
    return api.submit(course, "hw96", None, sid, now=at(course, BEFORE), data=data, filename="policy.pt")


def boss_bytes(course) -> bytes:
    return (course.calibration_dir("hw96") / "boss" / "policy.pt").read_bytes()


def test_the_ladder_is_the_hosts_own_play_of_each_level(policy_course):
    th = api.thresholds(policy_course, api.assignment("hw96"))
    for board in ("public", "private"):
        ladder = [th[(lv, board)] for lv in ("simple", "medium", "strong", "boss")]
        assert ladder == sorted(ladder) and ladder[0] < 8 < ladder[-1], ladder  # 6.1 / 7.5 / 8.9 / 10 expected
    r = submit(policy_course, "s1", boss_bytes(policy_course))
    assert r.status == "scored" and r.passed == ["simple", "medium", "strong", "boss"]
    assert 9.5 <= r.public <= 10.0


def test_verify_holds_and_the_starter_lands_on_simple(policy_course):
    rep = api.verify(policy_course, "hw96")
    assert rep.ok, rep.problems


def _pickle_calling(fn, *args) -> bytes:
    class Evil:
        def __reduce__(self):
            return fn, args

    return pickle.dumps(Evil())


@pytest.mark.parametrize("make, message", [
    (lambda d, tmp: d[: len(d) // 2], "not a weights-only state dict"),
    (lambda d, tmp: b"hello", "not a weights-only state dict"),
    (lambda d, tmp: b"episode,seed\n0,1\n", "not a weights-only state dict"),
    (lambda d, tmp: _pickle_calling(open, str(tmp / "pwned"), "w"), "not a weights-only state dict"),
    (lambda d, tmp: _full_model(), "not a weights-only state dict"),
    (lambda d, tmp: _saved([torch.zeros(2)]), "expected a state dict (name → tensor), got a list"),
    (lambda d, tmp: write_weights({"fc.weight": np.full((2, 3), np.nan), "fc.bias": np.zeros(2)}),
     "tensors holding NaN or infinity: fc.weight"),
    (lambda d, tmp: _saved({"fc.weight": torch.zeros(2, 3, dtype=torch.int64), "fc.bias": torch.zeros(2)}),
     "tensors that are not floating point: fc.weight"),
    (lambda d, tmp: write_weights({"fc.weight": np.zeros((3, 3)), "fc.bias": np.zeros(2)}),
     "tensor 'fc.weight' has shape (3, 3), expected (2, 3)"),
    (lambda d, tmp: write_weights({f"t{k}": np.zeros(1) for k in range(5)}), "5 tensors, at most 4 allowed"),
    (lambda d, tmp: write_weights({"fc.weight": np.zeros((2, 300)), "fc.bias": np.zeros(2)}),
     "602 numbers in all, at most 100 allowed"),
])
def test_a_bad_weights_file_is_rejected_with_its_problem_and_nothing_runs(policy_course, tmp_path, make, message):
    r = submit(policy_course, "s2", make(boss_bytes(policy_course), tmp_path))
    assert r.status == "rejected" and message in r.message and r.used_today == 0, r.message
    assert not (tmp_path / "pwned").exists(), "the pickle's call ran"


def _saved(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _full_model() -> bytes:  # torch.save(model) instead of model.state_dict(): a pickled class
    return _saved(torch.nn.Linear(3, 2))


def test_rerun_compares_tensor_by_tensor():
    up = {"fc.weight": np.zeros((2, 3), np.float32), "fc.bias": np.zeros(2, np.float32)}
    same = {k: v + 1e-8 for k, v in up.items()}
    assert _compare_weights(up, same, 1e-6).status == "match"
    moved = dict(up, **{"fc.bias": np.array([0.0, 0.5], np.float32)})
    r = _compare_weights(up, moved, 1e-6)
    assert r.status == "mismatch" and "1 of 2 tensors differ" in r.message and r.examples[0][0] == "fc.bias"
    r = _compare_weights(up, {"fc.weight": up["fc.weight"]}, 1e-6)
    assert r.status == "mismatch" and "other tensors" in r.message


def test_the_release_ships_the_sample_policy_and_it_passes_the_public_tests(policy_course, tmp_path):
    dest = api.release(policy_course, "hw96", tmp_path / "out")
    names = {p.name for p in dest.rglob("*") if p.is_file()}
    assert "sample_submission.pt" in names and "grading.py" not in names and "normal.npy" not in names
    assert api.check("hw96", dest / "sample_submission.pt", dest) == []
    r = submit(policy_course, "s3", (dest / "sample_submission.pt").read_bytes())
    assert r.status == "scored" and r.passed == []  # all-zero logits: always action 0


def test_the_demo_runs_a_weights_homework(tmp_path, toy):
    s = demo.run(tmp_path / "course", tmp_path / "site", n_students=8, quiet=True, hw="hw96")
    assert s["statuses"]["scored"] > 15 and s["statuses"].get("rejected", 0) > 0


def test_a_weights_spec_must_say_what_grading_py_makes_of_the_weights(toy):
    import yaml

    from grader.spec import AssignmentSpec

    raw = yaml.safe_load((TOY_ROOT / "hw96_toy_policy" / "assignment.yaml").read_text())
    AssignmentSpec.model_validate(raw)
    with pytest.raises(ValueError, match="a weights submission has no per-row values"):
        AssignmentSpec.model_validate({**raw, "metric": {"name": "mean"}})
    with pytest.raises(ValueError, match="an int id"):
        AssignmentSpec.model_validate({**raw, "submission": {**raw["submission"], "columns": {"episode": "str", "seed": "int"}}})


def test_the_compat_board_ranks_old_format_files_and_a_bad_file_is_its_own_row(tmp_path, toy):
    """`grade compat hw96 DIR`: files in the old system's format, scored for comparison only; a crafted
    pickle is refused without running, a wrong shape is named, and the others are still ranked."""
    import json

    from click.testing import CliRunner

    from grader.cli import main

    obs = np.random.default_rng(0).normal(size=(10, 3))
    right = (obs @ np.ones(3) > 0).astype(np.int64)
    files = {"b01": right, "b02": 1 - right, "b03": np.zeros(4, np.int64)}
    for sid, actions in files.items():
        (tmp_path / "class" / sid).mkdir(parents=True)
        buf = io.BytesIO()
        np.save(buf, actions)
        (tmp_path / "class" / sid / "actions.npy").write_bytes(buf.getvalue())
    evil = io.BytesIO()
    np.save(evil, np.array([object()], dtype=object)[:0], allow_pickle=True)
    (tmp_path / "class" / "b04").mkdir()
    header = evil.getvalue()[: evil.getvalue().index(b"\n") + 1]
    (tmp_path / "class" / "b04" / "actions.npy").write_bytes(header + _pickle_calling(open, str(tmp_path / "pwned"), "w"))
    r = CliRunner().invoke(main, ["compat", "hw96", str(tmp_path / "class"), "--json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["title"].startswith("Toy replay")
    rows = {row["student"]: row for row in out["rows"]}
    assert (rows["b01"]["rank"], rows["b01"]["score"]) == (1, 10.0) and (rows["b02"]["rank"], rows["b02"]["score"]) == (2, 0.0)
    assert rows["b03"]["score"] is None and "expected 10 integer actions, got shape (4,)" in rows["b03"]["message"]
    assert rows["b04"]["score"] is None and "object array" in rows["b04"]["message"]
    assert not (tmp_path / "pwned").exists()
    with pytest.raises(Exception, match="has no compatibility board"):
        api.compat_board("hw99", [tmp_path / "class"])
