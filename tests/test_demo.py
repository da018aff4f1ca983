"""`grade demo`, the README's main job, end to end; and the simulated class's files in every format."""

import json

import numpy as np
import pytest

from grader import demo
from grader.scoring.validate import Invalid, validate
from grader.spec import SubmissionSpec


@pytest.mark.slow
def test_demo_runs_a_whole_season(tmp_path):
    s = demo.run(tmp_path / "course", tmp_path / "site", n_students=30, quiet=True)
    st = s["statuses"]
    assert st["scored"] > 100 and st["rejected"] > 0 and st["refused"] > 0
    assert s["batch"]["scored"] >= 25 and s["batch"]["rejected"] == 2  # the escaping zip and the empty one
    for board in ("public", "private"):
        for ext in ("csv", "json", "md", "html"):
            assert (tmp_path / "site" / "hw01" / f"{board}.{ext}").is_file()
    rows = json.loads((tmp_path / "site" / "hw01" / "private.json").read_text())["rows"]
    assert sum(1 for r in rows if r["baseline"]) == 4 and sum(1 for r in rows if not r["baseline"]) >= 28
    assert (tmp_path / "course" / "gradebook.csv").is_file()
    assert not list(tmp_path.rglob("escape*.csv")), "the escaping archive wrote nothing"


def test_demo_takes_any_homework_by_name(tmp_path, toy):
    s = demo.run(tmp_path / "course", tmp_path / "site", n_students=12, quiet=True, hw="hw99")
    assert set(s["homeworks"]) == {"hw99"} and s["statuses"]["scored"] > 20
    assert (tmp_path / "site" / "hw99" / "private.json").is_file()


FORMATS = {
    "float": SubmissionSpec(filename="pred.csv", id_column="id", columns={"id": "int", "y": "float"}),
    "label": SubmissionSpec(filename="prediction.csv", id_column="Id", columns={"Id": "int", "Class": "int"}),
    "str-id": SubmissionSpec(filename="submission.csv", id_column="Id", columns={"Id": "str", "Category": "int"}),
    "lines": SubmissionSpec(kind="lines", filename="prediction.txt", id_column="line",
                            columns={"line": "int", "translation": "str"}),
}


@pytest.mark.parametrize("kind", list(FORMATS))
def test_simulated_files_are_valid_and_malformed_ones_are_caught(kind, toy):
    from grader import api

    spec = api.assignment("hw99").model_copy(update={"submission": FORMATS[kind]})
    rng = np.random.default_rng(0)
    n = 40
    ids = {"str-id": np.array([f"{i:04d}" for i in range(n)], dtype=object)}.get(kind, np.arange(n))
    values = {"float": rng.normal(size=n), "label": rng.integers(0, 11, n),
              "str-id": rng.integers(0, 11, n), "lines": np.array([f"句子 {i}" for i in range(n)], dtype=object)}[kind]
    good = demo.render(spec, ids, demo.blend(rng, values, values[::-1].copy(), 0.5))
    assert len(validate(good, "f", spec.submission, ids).ids) == n
    for _ in range(6):
        bad, what = demo.malformed(rng, spec, ids, values)
        with pytest.raises(Invalid):
            validate(bad, "f", spec.submission, ids)
