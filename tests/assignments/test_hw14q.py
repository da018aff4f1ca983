"""HW14's questions (hw14q, the second part of HW14): the sheet in the course's split, keys shuffled by
each course's secret, the all-correct rule at 0.4 points, scores after the deadline, the starter notebook,
a clean release, and the part's names next to the homework's."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest

from grader import api, catalog, gradebook
from grader.course import Course
from grader.notebook import write_notebook

DEADLINE = "2022-06-24T23:59:00"
BEFORE, AFTER = datetime(2022, 6, 20, 12, 0), datetime(2022, 6, 25, 12, 0)
SPLIT = {"basic": 3, "ewc": 2, "mas": 2, "si": 2, "rwalk": 2, "scp": 3, "other": 6}  # the course's 20


def make(root) -> Course:
    c = Course.init(root, homeworks={"hw14q": {"deadline": DEADLINE}})
    api.prepare(c, "hw14q")
    return c


def keys(course) -> dict[str, str]:
    rows = (course.data_dir("hw14q") / "hidden" / "answers.csv").read_text().splitlines()[1:]
    return dict(r.split(",") for r in rows)


def at(course, dt):
    return course.aware(dt)


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Course:
    return make(tmp_path_factory.mktemp("hw14q") / "course")


def test_the_part_has_its_own_names_and_hw14_stays_the_homework():
    assert api.assignment("hw14").id == "hw14_lifelong" and api.assignment("14").id == "hw14_lifelong"
    assert api.assignment("hw14q").id == "hw14q_questions" and api.assignment("14q").id == "hw14q_questions"
    spec = api.assignment("hw14q")
    assert spec.number == 14 and spec.part == "q" and not spec.leaderboard
    assert gradebook.max_points(spec) == 8.0, "20 questions x 0.4"
    assert {s.short for s in catalog.all_specs()} >= {"hw14", "hw14q"}


def test_the_sheet_follows_the_course_split_and_every_course_has_its_own_letters(course, tmp_path):
    sheet = (course.data_dir("hw14q") / "release" / "questions.md").read_text(encoding="utf-8")
    ids = re.findall(r"^## (\S+)$", sheet, flags=re.M)
    assert len(ids) == 20 and {p: sum(i.startswith(p + "-") for i in ids) for p in SPLIT} == SPLIT
    assert len(re.findall(r"^- \*\*[ABCD]\.\*\* ", sheet, flags=re.M)) == 80
    k = keys(course)
    assert sorted(k) == sorted(ids) and all(a and set(a) <= set("ABCD") and a == "".join(sorted(a)) for a in k.values())
    assert sum(len(a) > 1 for a in k.values()) >= 5, "several questions have more than one right option"
    other = make(tmp_path / "other")
    assert keys(other) != k, "another course's secret shuffles the letters"
    # The same statements are right in both courses, whatever their letters.
    def right(c):
        text = (c.data_dir("hw14q") / "release" / "questions.md").read_text(encoding="utf-8")
        out = {}
        for block in text.split("\n## ")[1:]:
            qid = block.split("\n", 1)[0]
            opts = dict(re.findall(r"^- \*\*([ABCD])\.\*\* (.*)$", block, flags=re.M))
            out[qid] = sorted(opts[x] for x in keys(c)[qid])
        return out
    assert right(other) == right(course)


def test_answer_sheets_are_graded_as_the_course_after_the_deadline(course):
    k = keys(course)

    def send(student, sheet, when=BEFORE):
        return api.submit(course, "hw14q", None, student, now=at(course, when), data=json.dumps(sheet).encode(),
                          filename="answers.json")

    r = send("s1", {q: list(a) for q, a in k.items()})
    assert r.status == "scored" and r.public is None and "shown after the deadline" in r.message
    one_short = dict(k, **{"ewc-1": k["ewc-1"] + ("A" if "A" not in k["ewc-1"] else "B")})  # one extra option
    send("s2", k)
    send("s2", one_short)                                          # the latest sheet counts
    book = {row["student_id"]: row for row in api.gradebook(course, now=at(course, AFTER))}
    assert book["s1"]["hw14q_points"] == pytest.approx(8.0)
    assert book["s2"]["hw14q_points"] == pytest.approx(7.6), "all-correct rule: an extra option loses the question"
    bad = send("s3", {"basic-1": "E"})
    assert bad.status == "rejected" and "19 question(s) unanswered" in bad.message


def test_the_starter_writes_a_valid_sheet_and_the_release_is_clean(course, tmp_path):
    from grader.calibrate import _run_starter

    spec = api.assignment("hw14q")
    run = _run_starter(spec, course.data_dir("hw14q") / "release", tmp_path / "run", 1)
    assert not run.error, run.error
    sheet = json.loads((tmp_path / "run" / "answers.json").read_text())
    assert sorted(sheet) == sorted(keys(course)) and set(sheet.values()) == {""}
    dest = api.release(course, "hw14q", tmp_path / "bundle")        # raises when the scan finds a leak
    names = {str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()}
    assert {"README.md", "HW14_questions.ipynb", "questions.md", "sample_submission.json",
            "tests/public/test_format.py"} <= names and not any("answers.csv" in n for n in names)
    problems = api.check("hw14q", tmp_path / "run" / "answers.json", dest)
    assert any("20 question(s) left blank" in p for p in problems), problems
    good = tmp_path / "good.json"
    good.write_text(json.dumps(keys(course)))
    assert api.check("hw14q", good, dest) == []
    write_notebook(spec.folder / spec.starter.source, tmp_path / "HW14_questions.ipynb")
    assert (tmp_path / "HW14_questions.ipynb").stat().st_size > 0
